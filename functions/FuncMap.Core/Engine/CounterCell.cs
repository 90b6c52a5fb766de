using FuncMap.Counters;

namespace FuncMap.Engine;

/// <summary>
/// One counter inside a shard, in two states: the owner's (<see cref="Data"/>: what the next operation builds on,
/// written and read only by the shard's owner loop) and the published one (<see cref="Read"/>: what readers see).
/// Without a log both are the same. With one, the published state is what is durable: the owner's state runs
/// ahead of it by the operations whose group commit is in flight, and is set back to it when that commit fails.
/// Publication is a sequence lock: the publisher makes <see cref="_sequence"/> odd, writes the fields, and makes
/// it even again; a reader retries until it read the same even sequence before and after, so it never sees a
/// torn (value, version, updatedAt) triple and never waits for the owner. One publisher at a time: the owner
/// (no log, or while loading), or whoever holds the shard's publication lock (with a log).
/// </summary>
internal sealed class CounterCell(string key)
{
    private CounterData _owner;
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

    /// <summary>The owner's state: what the next operation builds on. Owner-only: other threads use <see cref="Read"/>.</summary>
    internal CounterData Data => _owner;

    internal bool IsDirty => _owner.Version != PersistedVersion;

    /// <summary>The version readers see. Owner or publisher.</summary>
    internal long PublishedVersion => Volatile.Read(ref _version);

    /// <summary>Sets the owner's state without publishing it (with a log: not durable yet). Owner-only.</summary>
    internal void SetOwnerState(in CounterData data) => _owner = data;

    /// <summary>Sets the owner's state and publishes it. Owner-only, and only where the owner is the one publisher.</summary>
    internal void Publish(in CounterData data)
    {
        _owner = data;
        PublishState(data);
    }

    /// <summary>
    /// Publishes <paramref name="data"/> when it is newer than what readers see (durable states may be published
    /// by more than one thread, in any order: the newest wins). The caller holds the shard's publication lock.
    /// </summary>
    internal void PublishIfNewer(in CounterData data)
    {
        if (data.Version > _version)
        {
            PublishState(data);
        }
    }

    private void PublishState(in CounterData data)
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
