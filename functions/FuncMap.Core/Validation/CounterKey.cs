namespace FuncMap.Validation;

/// <summary>
/// The counter key rule: 1–90 characters from <c>A–Z a–z 0–9 - _ . :</c>, case-sensitive.
/// The charset is safe as a Table RowKey and inside an OData literal, and <c>@counter@</c> + key
/// stays within the 100-character limit of a Durable entity instance id.
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
                $"A counter key may contain only {AllowedCharacters}; character {bad + 1} ('{Printable(key[bad])}') is not allowed.");
        }

        return null;
    }

    /// <summary>True when <paramref name="key"/> is a valid counter key.</summary>
    public static bool IsValid(string? key) =>
        !string.IsNullOrEmpty(key) && key.Length <= MaxLength && IndexOfInvalid(key) < 0;

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
