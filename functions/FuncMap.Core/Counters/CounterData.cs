namespace FuncMap.Counters;

/// <summary>
/// The state of one counter as its owner holds it. <see cref="Exists"/> is false for a counter that
/// never existed or was deleted; a deleted counter keeps its version so that versions never go back
/// while the owner remembers the key.
/// </summary>
public struct CounterData
{
    /// <summary>The value.</summary>
    public long Value { get; set; }

    /// <summary>+1 for every applied operation.</summary>
    public long Version { get; set; }

    /// <summary>UTC ticks of the last applied operation.</summary>
    public long UpdatedAtTicks { get; set; }

    /// <summary>False when the counter does not exist (never created, or deleted).</summary>
    public bool Exists { get; set; }

    /// <summary>The time of the last applied operation.</summary>
    public readonly DateTimeOffset UpdatedAt => new(UpdatedAtTicks, TimeSpan.Zero);
}

/// <summary>What a reader sees of a counter: one consistent (value, version, updatedAt) triple.</summary>
public readonly record struct CounterSnapshot(string Key, long Value, long Version, DateTimeOffset UpdatedAt);

/// <summary>The answer to an operation that waited for its owner.</summary>
/// <param name="Status">How the operation ended.</param>
/// <param name="Counter">The counter after the operation (for <see cref="OperationStatus.Duplicate"/>, its current state); default when it does not exist.</param>
public readonly record struct OperationResult(OperationStatus Status, CounterSnapshot Counter)
{
    /// <summary>True for <see cref="OperationStatus.Applied"/> and <see cref="OperationStatus.Duplicate"/> (a replay).</summary>
    public bool Succeeded => Status is OperationStatus.Applied or OperationStatus.Duplicate;
}
