namespace FuncMap.Validation;

/// <summary>One broken input rule: which field, which rule, and a message a user can act on.</summary>
/// <param name="Field">The JSON path or parameter name of the offending input, e.g. <c>items[3].key</c>.</param>
/// <param name="Rule">A stable, machine-readable rule name, e.g. <c>key.charset</c>.</param>
/// <param name="Message">A sentence that says what is wrong and what is allowed.</param>
public sealed record ValidationError(string Field, string Rule, string Message)
{
    /// <summary>Returns the same error attached to another field name (used when a rule is checked inside a larger document).</summary>
    public ValidationError At(string field) => this with { Field = field };

    /// <inheritdoc />
    public override string ToString() => $"{Field}: {Message} ({Rule})";
}

/// <summary>Thrown where validation cannot return its errors, e.g. inside a constructor.</summary>
public sealed class ValidationException(IReadOnlyList<ValidationError> errors)
    : Exception(errors.Count == 0 ? "Invalid input." : string.Join("; ", errors))
{
    /// <summary>Every rule the input broke, in document order.</summary>
    public IReadOnlyList<ValidationError> Errors { get; } = errors;
}
