using FuncMap.Counters;

namespace FuncMap.Engine;

/// <summary>
/// One counter inside a shard. Only the shard's owner loop writes it; any thread reads it.
/// Publication is a sequence lock: the owner makes <see cref="_sequence"/> odd, writes the fields,
/// and makes it even again; a reader retries until it read the same even sequence before and after,
/// so it never sees a torn (value, version, updatedAt) triple and never waits for the owner.
/// </summary>
internal sealed class CounterCell(string key)
{
    private int _sequence;
    private bool _exists;
    private long _value;
    private long _version;
    private long _updatedAtTicks;

    /// <summary>The counter's key.</summary>
    public readonly string Key = key;

    /// <summary>The version last written to the snapshot table. Written by the owner when a snapshot succeeds.</summary>
    internal long PersistedVersion;

    /// <summary>Recent operation ids; owner-only, allocated at the first operation that carries an id.</summary>
    internal OperationWindow? Window;

    /// <summary>The current state. Owner-only: other threads use <see cref="Read"/>.</summary>
    internal CounterData Data => new()
    {
        Value = _value,
        Version = _version,
        UpdatedAtTicks = _updatedAtTicks,
        Exists = _exists,
    };

    internal bool IsDirty => _version != PersistedVersion;

    /// <summary>Publishes a new state. Owner-only.</summary>
    internal void Publish(in CounterData data)
    {
        // The increment is a full fence: no field write below moves above the odd sequence.
        var sequence = Interlocked.Increment(ref _sequence);
        _value = data.Value;
        _version = data.Version;
        _updatedAtTicks = data.UpdatedAtTicks;
        _exists = data.Exists;
        Volatile.Write(ref _sequence, sequence + 1);
    }

    /// <summary>Reads a consistent state from any thread, without waiting for the owner.</summary>
    internal CounterData Read()
    {
        var spinner = default(SpinWait);
        while (true)
        {
            var before = Volatile.Read(ref _sequence);
            if ((before & 1) == 0)
            {
                // Acquire reads: the second sequence read cannot move above them.
                var data = new CounterData
                {
                    Value = Volatile.Read(ref _value),
                    Version = Volatile.Read(ref _version),
                    UpdatedAtTicks = Volatile.Read(ref _updatedAtTicks),
                    Exists = Volatile.Read(ref _exists),
                };
                if (Volatile.Read(ref _sequence) == before)
                {
                    return data;
                }
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }
}
