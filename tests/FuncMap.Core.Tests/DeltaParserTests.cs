using System.Text;
using System.Text.Json;
using FuncMap.Batches;

namespace FuncMap.Core.Tests;

public sealed class DeltaParserTests
{
    [Theory]
    [InlineData("""{"delta": 3}""", 3)]
    [InlineData("""{"delta": -1}""", -1)]
    [InlineData("""{"delta": 0}""", 0)]
    [InlineData("""{"delta": 9223372036854775807}""", long.MaxValue)]
    [InlineData("""{"delta": -9223372036854775808}""", long.MinValue)]
    public void ParseAddBody_IntegerInRange_ReturnsDelta(string body, long expected)
    {
        Assert.Null(DeltaParser.ParseAddBody(Encoding.UTF8.GetBytes(body), out var delta));
        Assert.Equal(expected, delta);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \r\n")]
    [InlineData("\uFEFF")]
    public void ParseAddBody_NoBody_MeansOne(string body)
    {
        Assert.Null(DeltaParser.ParseAddBody(Encoding.UTF8.GetBytes(body), out var delta));
        Assert.Equal(1, delta);
    }

    [Theory]
    [InlineData("\"5\"", "delta.type")]                 // string
    [InlineData("null", "delta.type")]                  // null
    [InlineData("true", "delta.type")]
    [InlineData("[1]", "delta.type")]
    [InlineData("1.5", "delta.integer")]                // float
    [InlineData("1.0", "delta.integer")]
    [InlineData("1e3", "delta.integer")]                // exponent
    [InlineData("1E3", "delta.integer")]
    [InlineData("9223372036854775808", "delta.range")]  // Int64.MaxValue + 1
    [InlineData("-9223372036854775809", "delta.range")] // Int64.MinValue - 1
    [InlineData("100000000000000000000000", "delta.range")]
    public void Validate_NotAnInt64_ReportsRule(string json, string rule)
    {
        using var document = JsonDocument.Parse(json);

        var error = DeltaParser.Validate(document.RootElement, "items[2].delta", out _);

        Assert.Equal(rule, error?.Rule);
        Assert.Equal("items[2].delta", error?.Field);
    }

    [Theory]
    [InlineData("""{"delta": "5"}""", "delta.type")]
    [InlineData("""{"delta": null}""", "delta.type")]
    [InlineData("""{"other": 1}""", "body.unknownProperty")]
    [InlineData("""{"delta": 2.5}""", "delta.integer")]
    [InlineData("""{"delta": 1e3}""", "delta.integer")]
    [InlineData("""{"delta": 9223372036854775808}""", "delta.range")]
    [InlineData("""{"delta": 1, "extra": 2}""", "body.unknownProperty")]
    [InlineData("""{"Delta": 1}""", "body.unknownProperty")]
    [InlineData("[1]", "body.type")]
    [InlineData("5", "body.type")]
    [InlineData("{", "json.syntax")]
    public void ParseAddBody_Invalid_ReportsRule(string body, string rule) =>
        Assert.Equal(rule, DeltaParser.ParseAddBody(Encoding.UTF8.GetBytes(body), out _)?.Rule);

    [Theory]
    [InlineData("{}")]
    [InlineData(" { } ")]
    [InlineData("\uFEFF{}")]
    public void ParseAddBody_ObjectWithoutDelta_IsRefusedAsRequiredNotOne(string body)
    {
        var error = DeltaParser.ParseAddBody(Encoding.UTF8.GetBytes(body), out _);

        Assert.Equal(("delta", "delta.required"), (error?.Field, error?.Rule));
    }

    [Fact]
    public void ParseAddBody_RepeatedDelta_IsRejected()
    {
        var error = DeltaParser.ParseAddBody("""{"delta": 1, "delta": 2}"""u8, out _);

        Assert.Equal("body.duplicateProperty", error?.Rule);
    }
}
