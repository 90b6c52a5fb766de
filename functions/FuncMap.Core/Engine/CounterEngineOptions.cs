namespace FuncMap.Engine;

/// <summary>Settings of the <see cref="CounterEngine"/> (configuration section <see cref="SectionName"/>).</summary>
public sealed class CounterEngineOptions
{
    /// <summary>The configuration section the local host binds these from.</summary>
    public const string SectionName = "FuncMap:Engine";

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

    internal int ResolveShardCount() => ResolveShardCount(ShardCount, Environment.ProcessorCount);

    internal static int ResolveShardCount(int shardCount, int processorCount)
    {
        // The default is capped at 64 (one shard per table partition), however many processors there are.
        var count = shardCount == 0 ? Math.Clamp((int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(1, processorCount)), 2, 64) : shardCount;
        if (count is < 1 or > 64 || !System.Numerics.BitOperations.IsPow2(count))
        {
            throw new ArgumentOutOfRangeException(nameof(shardCount), shardCount, "ShardCount must be a power of two from 1 to 64 (or 0 for the default).");
        }

        return count;
    }

    /// <summary>Checks every setting; the engine's constructor calls it.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the message names it and its range.</exception>
    public void Validate()
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
