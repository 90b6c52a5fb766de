namespace FuncMap.Counters;

/// <summary>What an operation does to a counter.</summary>
public enum CounterOperationKind : byte
{
    /// <summary>Adds a (possibly negative) delta; creates the counter when it does not exist.</summary>
    Add = 1,

    /// <summary>Sets the value to zero; the version keeps counting.</summary>
    Reset = 2,

    /// <summary>Removes the counter.</summary>
    Delete = 3,
}

/// <summary>How an operation ended.</summary>
public enum OperationStatus : byte
{
    /// <summary>The operation changed the counter.</summary>
    Applied = 1,

    /// <summary>An operation with the same id was applied before; nothing changed.</summary>
    Duplicate = 2,

    /// <summary>Reset or delete of a counter that does not exist; nothing changed.</summary>
    NotFound = 3,

    /// <summary>The result would not fit in an Int64; nothing changed.</summary>
    Overflow = 4,

    /// <summary>
    /// The operation id was applied before for a different request (another kind or delta); nothing changed.
    /// HTTP answers 422 <c>idempotency.mismatch</c>.
    /// </summary>
    Mismatch = 5,
}

/// <summary>One operation on one counter, as the owner receives it.</summary>
/// <param name="Kind">What to do.</param>
/// <param name="Delta">The amount for <see cref="CounterOperationKind.Add"/>; ignored otherwise.</param>
/// <param name="OperationId">The idempotency id, or <see langword="null"/> when the caller gave none and needs no deduplication.</param>
public readonly record struct CounterOperation(CounterOperationKind Kind, long Delta, string? OperationId)
{
    /// <summary>An add of <paramref name="delta"/>.</summary>
    public static CounterOperation Add(long delta, string? operationId = null) => new(CounterOperationKind.Add, delta, operationId);

    /// <summary>A reset.</summary>
    public static CounterOperation Reset(string? operationId = null) => new(CounterOperationKind.Reset, 0, operationId);

    /// <summary>A delete.</summary>
    public static CounterOperation Delete(string? operationId = null) => new(CounterOperationKind.Delete, 0, operationId);
}
