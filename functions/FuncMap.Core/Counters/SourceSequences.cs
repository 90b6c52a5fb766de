using System.Globalization;

namespace FuncMap.Counters;

/// <summary>How a counter received one sequenced add (<see cref="SourceSequences.Receive"/>).</summary>
public enum SequenceVerdict : byte
{
    /// <summary>It was the next one expected from its source: applied (or refused by the counter rules), with any parked successors.</summary>
    Applied = 1,

    /// <summary>Its sequence number was received before: ignored.</summary>
    Duplicate = 2,

    /// <summary>It arrived before an earlier one of its source: kept until the gap is filled.</summary>
    Parked = 3,
}

/// <summary>What one sequenced add did to a counter.</summary>
/// <param name="Verdict">Applied, duplicate or parked.</param>
/// <param name="Applied">How many adds were applied (this one and parked successors), refused ones not counted.</param>
/// <param name="Overflowed">The deltas the counter rules refused because the value would leave Int64, in apply order.</param>
public readonly record struct SequenceReceipt(SequenceVerdict Verdict, int Applied, IReadOnlyList<long> Overflowed);

/// <summary>What a counter knows of one producer of sequenced adds: the last sequence number applied, and the ones that came early.</summary>
public sealed class SourceProgress
{
    /// <summary>The highest sequence number applied (every one up to it was applied or refused); 0 before the first.</summary>
    public long Last { get; set; }

    /// <summary>Sequence numbers above <see cref="Last"/> + 1 that arrived early, with their deltas; null when none.</summary>
    public Dictionary<long, long>? Parked { get; set; }
}

/// <summary>
/// Exactly-once, in-order application of adds that producers number per counter (the idempotent-producer pattern:
/// per-producer sequence numbers, as Kafka's KIP-98). Each source numbers its adds to one counter 1, 2, 3, … without
/// gaps; the counter keeps, per source, the last number applied. A number at or below it is a duplicate (a redelivered
/// signal, a re-sent fold record), the next one is applied with the counter rules (<see cref="CounterState.Apply"/>:
/// checked Int64, version +1), and one further ahead is parked until the numbers before it arrive (deliveries may be
/// reordered). Unlike the <see cref="OperationWindow"/>, this stays exact however many operations come in between.
/// </summary>
/// <remarks>
/// A source id starts with its creation time (<see cref="NewSourceId"/>), so a counter can forget sources that no longer
/// send (<see cref="Prune"/>). That forgetting is safe as long as no add of a source arrives later than the retention
/// after the source was created; producers use a source id for a bounded time (far below the retention) and deliver
/// within seconds.
/// </remarks>
public static class SourceSequences
{
    /// <summary>A new source id: <c>{UTC ticks, 16 hex digits}-{random, 12 hex digits}</c>; ordinal order is creation order.</summary>
    public static string NewSourceId(DateTimeOffset now) =>
        now.UtcTicks.ToString("x16", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>The creation time in <paramref name="sourceId"/>, when it has the shape <see cref="NewSourceId"/> gives.</summary>
    public static bool TryGetCreated(string sourceId, out DateTimeOffset created)
    {
        created = default;
        if (sourceId is not { Length: > 17 } || sourceId[16] != '-'
            || !long.TryParse(sourceId.AsSpan(0, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var ticks)
            || ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            return false;
        }

        created = new DateTimeOffset(ticks, TimeSpan.Zero);
        return true;
    }

    /// <summary>
    /// Receives the add of <paramref name="delta"/> numbered <paramref name="sequence"/> (≥ 1) from <paramref name="source"/>
    /// into <paramref name="counter"/>, whose per-source progress is <paramref name="sources"/>.
    /// </summary>
    public static SequenceReceipt Receive(
        CounterState counter, IDictionary<string, SourceProgress> sources, string source, long sequence, long delta, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(counter);
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentException.ThrowIfNullOrEmpty(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 1);
        if (!sources.TryGetValue(source, out var progress))
        {
            progress = new SourceProgress();
            sources.Add(source, progress);
        }

        if (sequence <= progress.Last || (progress.Parked?.ContainsKey(sequence) ?? false))
        {
            return new(SequenceVerdict.Duplicate, 0, []);
        }

        if (sequence > progress.Last + 1)
        {
            (progress.Parked ??= []).Add(sequence, delta);
            return new(SequenceVerdict.Parked, 0, []);
        }

        var applied = 0;
        List<long>? overflowed = null;
        var next = delta;
        while (true)
        {
            // Each add is final once its turn comes: applied, or refused by the rules (overflow), never retried.
            if (counter.Apply(CounterOperation.Add(next), now) == OperationStatus.Applied)
            {
                applied++;
            }
            else
            {
                (overflowed ??= []).Add(next);
            }

            progress.Last++;
            if (progress.Parked is not { } parked || !parked.Remove(progress.Last + 1, out next))
            {
                break;
            }
        }

        if (progress.Parked is { Count: 0 })
        {
            progress.Parked = null;
        }

        return new(SequenceVerdict.Applied, applied, (IReadOnlyList<long>?)overflowed ?? []);
    }

    /// <summary>
    /// Forgets the sources created before <paramref name="now"/> − <paramref name="retention"/> that have nothing parked
    /// (and ids of another shape, which no producer writes). Returns how many were forgotten.
    /// </summary>
    public static int Prune(IDictionary<string, SourceProgress> sources, DateTimeOffset now, TimeSpan retention)
    {
        ArgumentNullException.ThrowIfNull(sources);
        List<string>? stale = null;
        foreach (var (source, progress) in sources)
        {
            var expired = !TryGetCreated(source, out var created) || created < now - retention;
            if (expired && progress.Parked is not { Count: > 0 })
            {
                (stale ??= []).Add(source);
            }
        }

        foreach (var source in stale ?? [])
        {
            sources.Remove(source);
        }

        return stale?.Count ?? 0;
    }
}
