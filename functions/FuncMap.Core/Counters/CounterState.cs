namespace FuncMap.Counters;

/// <summary>
/// A counter's state in serializable form, with its operation window: the state of the Durable
/// <c>Counter</c> entity, and a row of the snapshot table. Operations go through
/// <see cref="CounterRules"/>, the same rules the local engine applies.
/// </summary>
public sealed class CounterState
{
    /// <summary>The value.</summary>
    public long Value { get; set; }

    /// <summary>+1 for every applied operation.</summary>
    public long Version { get; set; }

    /// <summary>The time of the last applied operation.</summary>
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>False for a deleted counter kept as a tombstone until the snapshot removes its row.</summary>
    public bool Exists { get; set; }

    /// <summary>
    /// The recent operations, oldest first: <see cref="OperationWindow"/> entries (<c>{id}\t{fingerprint}</c>, or a
    /// bare id in state written before fingerprints, which still loads).
    /// </summary>
    public string[] RecentOperationIds { get; set; } = [];

    /// <summary>Applies <paramref name="operation"/> at <paramref name="now"/>.</summary>
    public OperationStatus Apply(in CounterOperation operation, DateTimeOffset now)
    {
        var data = ToData();
        var window = operation.OperationId is null ? null : new OperationWindow(RecentOperationIds);
        var status = CounterRules.Apply(ref data, window, operation, now.UtcTicks);
        if (status == OperationStatus.Applied)
        {
            Value = data.Value;
            Version = data.Version;
            UpdatedAt = data.UpdatedAt;
            Exists = data.Exists;
            if (window is not null)
            {
                RecentOperationIds = window.ToArray();
            }
        }

        return status;
    }

    /// <summary>The state as the owner's working struct.</summary>
    public CounterData ToData() => new()
    {
        Value = Value,
        Version = Version,
        UpdatedAtTicks = UpdatedAt.UtcTicks,
        Exists = Exists,
    };

    /// <summary>The reader's view of this counter.</summary>
    public CounterSnapshot ToSnapshot(string key) => new(key, Value, Version, UpdatedAt);
}
