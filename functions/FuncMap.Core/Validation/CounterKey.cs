namespace FuncMap.Validation;

/// <summary>
/// The counter key rule: 1–90 characters from <c>A–Z a–z 0–9 - _ . :</c>, case-sensitive, and not
/// <c>.</c> or <c>..</c>. The charset is safe as a Table RowKey and inside an OData literal, and
/// <c>@counter@</c> + key stays within the 100-character limit of a Durable entity instance id.
/// Every key this rule accepts is addressable as the <c>{key}</c> segment of <c>/api/counters/{key}</c>
/// unescaped: <c>.</c> and <c>..</c> are the only segments of that charset that URL normalisation
/// rewrites (RFC 3986 §5.2.4 removes them, in clients and servers alike, escaped as <c>%2E</c> too),
/// so a counter with such a key could be created by a batch but never read, written or deleted.
/// </summary>
public static class CounterKey
{
    /// <summary>The longest key accepted.</summary>
    public const int MaxLength = 90;

    /// <summary>The characters a key may contain, for messages and documentation.</summary>
    public const string AllowedCharacters = "A-Z a-z 0-9 - _ . :";

    /// <summary>Returns <see langword="null"/> when <paramref name="key"/> is a valid counter key, otherwise the rule it breaks.</summary>
    public static ValidationError? Validate(string? key, string field = "key")
    {
        if (string.IsNullOrEmpty(key))
        {
            return new(field, "key.required", "A counter key is required (1 to 90 characters).");
        }

        if (key.Length > MaxLength)
        {
            return new(field, "key.length", $"A counter key is at most {MaxLength} characters; this one has {key.Length}.");
        }

        var bad = IndexOfInvalid(key);
        if (bad >= 0)
        {
            return new(field, "key.charset",
                $"A counter key may contain only the characters '{AllowedCharacters}' (letters, digits, hyphen, underscore, dot, colon); character {bad + 1} ('{Printable(key[bad])}') is not allowed.");
        }

        if (IsDotSegment(key))
        {
            return new(field, "key.dotSegment",
                $"A counter key may not be \"{key}\": URLs remove the path segments \".\" and \"..\" (RFC 3986 §5.2.4), so /api/counters/{key} could never address it.");
        }

        return null;
    }

    /// <summary>True when <paramref name="key"/> is a valid counter key.</summary>
    public static bool IsValid(string? key) =>
        !string.IsNullOrEmpty(key) && key.Length <= MaxLength && IndexOfInvalid(key) < 0 && !IsDotSegment(key);

    /// <summary>
    /// Validates a key prefix (the list API's <c>prefix</c>): the start of a key, so the length and charset
    /// rules hold, but not the dot-segment rule (<c>.</c> is a fine prefix of <c>.a</c>, and a query value is
    /// not a path segment). Rules are reported as <c>prefix.*</c>.
    /// </summary>
    public static ValidationError? ValidatePrefix(string prefix, string field = "prefix")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length > MaxLength)
        {
            return new(field, "prefix.length", $"A prefix is at most {MaxLength} characters; this one has {prefix.Length}.");
        }

        var bad = IndexOfInvalid(prefix);
        return bad < 0
            ? null
            : new(field, "prefix.charset",
                $"A prefix may contain only the characters '{AllowedCharacters}' (letters, digits, hyphen, underscore, dot, colon); character {bad + 1} ('{Printable(prefix[bad])}') is not allowed.");
    }

    private static bool IsDotSegment(string key) => key is "." or "..";

    private static int IndexOfInvalid(string key)
    {
        for (var i = 0; i < key.Length; i++)
        {
            if (!IsAllowed(key[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsAllowed(char c) =>
        char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':';

    internal static string Printable(char c) =>
        char.IsControl(c) || char.IsSurrogate(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : c.ToString();
}
