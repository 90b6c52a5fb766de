namespace FuncMap.Engine;

/// <summary>Settings of the <see cref="CounterEngine"/> (configuration section <c>Engine</c>).</summary>
public sealed class CounterEngineOptions
{
    /// <summary>
    /// Number of shards: a power of two from 1 to 64. Zero (the default) picks the benchmark's choice
    /// for this machine: the processor count rounded up to a power of two, at least 2.
    /// </summary>
    public int ShardCount { get; set; }

    /// <summary>Capacity of each shard's mailbox, in operations.</summary>
    public int MailboxCapacity { get; set; } = 16_384;

    /// <summary>The longest a mailbox post waits for room before the caller is told the shard is busy.</summary>
    public TimeSpan BackpressureWait { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest a caller waits for the owner's answer.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The most mailbox items an owner applies before it publishes metrics and hands the batch to the log.</summary>
    public int MaxDrainBatch { get; set; } = 1024;

    internal int ResolveShardCount()
    {
        var count = ShardCount == 0 ? Math.Max(2, (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Environment.ProcessorCount)) : ShardCount;
        if (count is < 1 or > 64 || !System.Numerics.BitOperations.IsPow2(count))
        {
            throw new ArgumentOutOfRangeException(nameof(ShardCount), ShardCount, "ShardCount must be a power of two from 1 to 64 (or 0 for the default).");
        }

        return Math.Min(count, 64);
    }

    internal void Validate()
    {
        _ = ResolveShardCount();
        if (MailboxCapacity < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MailboxCapacity), MailboxCapacity, "MailboxCapacity must be positive.");
        }

        if (MaxDrainBatch < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDrainBatch), MaxDrainBatch, "MaxDrainBatch must be positive.");
        }

        if (OperationTimeout <= TimeSpan.Zero || BackpressureWait < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(OperationTimeout), "OperationTimeout must be positive and BackpressureWait not negative.");
        }
    }
}
