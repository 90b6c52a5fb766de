namespace FuncMap.Validation;

/// <summary>
/// The rule for operation ids (<c>Idempotency-Key</c> header values and batch ids):
/// 1–128 printable ASCII characters (U+0020–U+007E), without leading or trailing spaces.
/// </summary>
public static class OperationId
{
    /// <summary>The longest operation id accepted.</summary>
    public const int MaxLength = 128;

    /// <summary>Returns <see langword="null"/> when <paramref name="id"/> is a valid operation id, otherwise the rule it breaks.</summary>
    public static ValidationError? Validate(string? id, string field)
    {
        if (string.IsNullOrEmpty(id))
        {
            return new(field, "id.required", $"{field} is required: 1 to {MaxLength} printable ASCII characters.");
        }

        if (id.Length > MaxLength)
        {
            return new(field, "id.length", $"{field} is at most {MaxLength} characters; this one has {id.Length}.");
        }

        for (var i = 0; i < id.Length; i++)
        {
            if (id[i] is < ' ' or > '~')
            {
                return new(field, "id.charset",
                    $"{field} may contain only printable ASCII (U+0020 to U+007E); character {i + 1} ('{CounterKey.Printable(id[i])}') is not.");
            }
        }

        if (id[0] == ' ' || id[^1] == ' ')
        {
            return new(field, "id.whitespace", $"{field} may not begin or end with a space.");
        }

        return null;
    }

    /// <summary>Makes up an operation id for a write that came without one.</summary>
    public static string NewId() => Guid.NewGuid().ToString("N");
}
