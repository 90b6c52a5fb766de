using FuncMap.Validation;

namespace FuncMap.Core.Tests;

public sealed class CounterKeyTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("page:home")]
    [InlineData("A-Z_a.z:0-9")]
    [InlineData("UPPER.lower-09_:")]
    public void Validate_AllowedCharacters_ReturnsNull(string key)
    {
        Assert.Null(CounterKey.Validate(key));
        Assert.True(CounterKey.IsValid(key));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Validate_Empty_ReportsRequired(string? key)
    {
        var error = CounterKey.Validate(key);

        Assert.NotNull(error);
        Assert.Equal("key", error.Field);
        Assert.Equal("key.required", error.Rule);
        Assert.False(CounterKey.IsValid(key));
    }

    /// <summary>The set is quoted, so that its last character (':') does not run into the sentence's punctuation.</summary>
    [Fact]
    public void Validate_CharacterOutsideTheSet_MessageQuotesTheSet()
    {
        var key = CounterKey.Validate("pag home")!;
        var prefix = CounterKey.ValidatePrefix("pag home")!;

        Assert.Equal("A counter key may contain only the characters 'A-Z a-z 0-9 - _ . :' (letters, digits, hyphen, underscore, dot, colon); character 4 ('U+0020') is not allowed.", key.Message);
        Assert.StartsWith("A prefix may contain only the characters 'A-Z a-z 0-9 - _ . :' (", prefix.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ExactlyNinetyCharacters_ReturnsNull()
    {
        var key = new string('k', 90);

        Assert.Null(CounterKey.Validate(key));
        Assert.True(CounterKey.IsValid(key));
    }

    [Fact]
    public void Validate_NinetyOneCharacters_ReportsLength()
    {
        var key = new string('k', 91);

        var error = CounterKey.Validate(key);

        Assert.Equal("key.length", error?.Rule);
        Assert.Contains("91", error!.Message, StringComparison.Ordinal);
        Assert.False(CounterKey.IsValid(key));
    }

    [Theory]
    [InlineData("a b")]       // space
    [InlineData("a/b")]       // path separator
    [InlineData("a\\b")]      // backslash
    [InlineData("a#b")]       // fragment
    [InlineData("a?b")]       // query
    [InlineData("a@b")]       // entity id separator
    [InlineData("a+b")]
    [InlineData("a%20b")]     // percent-encoding
    [InlineData("a'b")]       // OData quote
    [InlineData("a\"b")]
    [InlineData("a,b")]
    [InlineData("a\tb")]      // control: tab
    [InlineData("a\u0000b")]  // control: NUL
    [InlineData("a\u007Fb")]  // control: DEL
    [InlineData("caf\u00E9")] // Latin-1 letter
    [InlineData("\u0441ount")] // Cyrillic look-alike
    [InlineData("a\uD83D\uDE00")] // emoji (surrogate pair)
    [InlineData("\uFF41")]    // full-width letter
    [InlineData("\u0661")]    // Arabic-Indic digit (char.IsDigit, not ASCII)
    public void Validate_DisallowedCharacter_ReportsCharset(string key)
    {
        var error = CounterKey.Validate(key, "items[0].key");

        Assert.NotNull(error);
        Assert.Equal("items[0].key", error.Field);
        Assert.Equal("key.charset", error.Rule);
        Assert.False(CounterKey.IsValid(key));
    }

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    public void Validate_DotSegment_ReportsDotSegment(string key)
    {
        var error = CounterKey.Validate(key, "items[0].key");

        Assert.Equal(("items[0].key", "key.dotSegment"), (error?.Field, error?.Rule));
        Assert.False(CounterKey.IsValid(key));
    }

    [Theory]
    [InlineData("...")]
    [InlineData(".a")]
    [InlineData("a.")]
    [InlineData("a..b")]
    [InlineData(":")]
    [InlineData("::")]
    public void Validate_DotsOrColonsBesideOtherCharacters_ReturnsNull(string key) =>
        Assert.True(CounterKey.IsValid(key));

    [Theory]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("page:")]
    public void ValidatePrefix_StartOfAValidKey_ReturnsNull(string prefix) =>
        Assert.Null(CounterKey.ValidatePrefix(prefix));

    [Fact]
    public void ValidatePrefix_BadCharacter_ReportsPrefixCharset() =>
        Assert.Equal("prefix.charset", CounterKey.ValidatePrefix("a/")?.Rule);

    [Fact]
    public void Validate_ControlCharacter_NamesItsPositionPrintably()
    {
        var error = CounterKey.Validate("ab\u0001");

        Assert.Contains("character 3", error!.Message, StringComparison.Ordinal);
        Assert.Contains("U+0001", error.Message, StringComparison.Ordinal);
    }
}

public sealed class OperationIdTests
{
    [Theory]
    [InlineData("x")]
    [InlineData("2026-11-22T10:00:00Z-worker7-000123")]
    [InlineData("a b")] // inner space is printable
    [InlineData("!~")]
    public void Validate_PrintableAscii_ReturnsNull(string id) =>
        Assert.Null(OperationId.Validate(id, "batchId"));

    [Fact]
    public void Validate_LengthZero_ReportsRequired() =>
        Assert.Equal("id.required", OperationId.Validate("", "batchId")?.Rule);

    [Fact]
    public void Validate_Null_ReportsRequired() =>
        Assert.Equal("id.required", OperationId.Validate(null, "batchId")?.Rule);

    [Fact]
    public void Validate_Length128_ReturnsNull() =>
        Assert.Null(OperationId.Validate(new string('i', 128), "batchId"));

    [Fact]
    public void Validate_Length129_ReportsLength()
    {
        var error = OperationId.Validate(new string('i', 129), "Idempotency-Key");

        Assert.Equal("Idempotency-Key", error?.Field);
        Assert.Equal("id.length", error?.Rule);
    }

    [Theory]
    [InlineData("a\tb")]
    [InlineData("a\nb")]
    [InlineData("a\u0000")]
    [InlineData("a\u007F")]
    [InlineData("a\u0085")] // C1 control
    public void Validate_ControlCharacter_ReportsCharset(string id) =>
        Assert.Equal("id.charset", OperationId.Validate(id, "batchId")?.Rule);

    [Theory]
    [InlineData("caf\u00E9")]
    [InlineData("\u00A0x")] // no-break space
    [InlineData("id-\uD83D\uDE00")]
    public void Validate_NonAscii_ReportsCharset(string id) =>
        Assert.Equal("id.charset", OperationId.Validate(id, "batchId")?.Rule);

    [Theory]
    [InlineData(" id")]
    [InlineData("id ")]
    [InlineData(" ")]
    public void Validate_LeadingOrTrailingSpace_ReportsWhitespace(string id) =>
        Assert.Equal("id.whitespace", OperationId.Validate(id, "batchId")?.Rule);

    [Fact]
    public void NewId_Always_IsAValidOperationId() =>
        Assert.Null(OperationId.Validate(OperationId.NewId(), "id"));
}
