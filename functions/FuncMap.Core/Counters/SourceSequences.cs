using System.Globalization;

namespace FuncMap.Counters;

/// <summary>How a counter received one sequenced add (<see cref="SourceSequences.Receive"/>).</summary>
public enum SequenceVerdict : byte
{
    /// <summary>It was the next one expected from its source: applied (or refused by the counter rules), with any parked successors.</summary>
    Applied = 1,

    /// <summary>Its sequence number was received before: ignored.</summary>
    Duplicate = 2,

    /// <summary>It arrived before an earlier one of its source: kept until the gap is filled or released (<see cref="SourceSequences.ReleaseGaps"/>).</summary>
    Parked = 3,

    /// <summary>
    /// Its number had been released as lost (<see cref="SourceSequences.ReleaseGaps"/>) and it arrived after all: applied now,
    /// out of order (a late fold, not a lost one), and its number is no longer counted as lost.
    /// </summary>
    Late = 4,
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

    /// <summary>
    /// Since when the oldest of <see cref="Parked"/> waits for the number before it (the gap began, or the previous gap was
    /// released and another remained); null when nothing is parked.
    /// </summary>
    public DateTimeOffset? ParkedSince { get; set; }

    /// <summary>
    /// The ranges of numbers at or below <see cref="Last"/> that were released as lost without having arrived, first → last
    /// (inclusive); one that arrives later is still applied (<see cref="SequenceVerdict.Late"/>). Null when none.
    /// </summary>
    public Dictionary<long, long>? Released { get; set; }
}

/// <summary>A gap that <see cref="SourceSequences.ReleaseGaps"/> gave up waiting for.</summary>
/// <param name="Source">The source whose numbers never came.</param>
/// <param name="First">The first number released (inclusive).</param>
/// <param name="Last">The last number released (inclusive).</param>
/// <param name="Waited">How long the add after the gap had been parked.</param>
/// <param name="Applied">How many parked adds the release applied (refused ones not counted).</param>
/// <param name="Overflowed">The parked deltas the counter rules refused (the value would leave Int64), in apply order.</param>
public sealed record ReleasedGap(string Source, long First, long Last, TimeSpan Waited, int Applied, IReadOnlyList<long> Overflowed)
{
    /// <summary>How many numbers (one folded sum each) the gap held: <see cref="Last"/> − <see cref="First"/> + 1.</summary>
    public long Count => Last - First + 1;
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

        if (sequence <= progress.Last)
        {
            if (!TakeReleased(progress, sequence))
            {
                return new(SequenceVerdict.Duplicate, 0, []);
            }

            // Released as lost, and here after all: applied once, out of order.
            var late = counter.Apply(CounterOperation.Add(delta), now) == OperationStatus.Applied;
            return new(SequenceVerdict.Late, late ? 1 : 0, late ? [] : [delta]);
        }

        if (progress.Parked?.ContainsKey(sequence) ?? false)
        {
            return new(SequenceVerdict.Duplicate, 0, []);
        }

        if (sequence > progress.Last + 1)
        {
            if (progress.Parked is not { Count: > 0 })
            {
                progress.ParkedSince = now;
            }

            (progress.Parked ??= []).Add(sequence, delta);
            return new(SequenceVerdict.Parked, 0, []);
        }

        var (applied, overflowed) = Drain(counter, progress, delta, now);
        return new(SequenceVerdict.Applied, applied, overflowed);
    }

    /// <summary>
    /// Gives up on the gaps that kept an add parked for at least <paramref name="after"/>: for each such source, the numbers
    /// from <see cref="SourceProgress.Last"/> + 1 to the first parked one are recorded as released
    /// (<see cref="SourceProgress.Released"/>: one that still arrives is applied then) and the parked adds from there on are
    /// applied in order, up to the next gap (which waits <paramref name="after"/> again, from now). A gap lasts that long
    /// only when its numbers were lost (storage lost a fold record, or rolled back the counter's state); a fold merely late
    /// is applied when it comes. Returns one entry per released gap.
    /// </summary>
    public static IReadOnlyList<ReleasedGap> ReleaseGaps(CounterState counter, IDictionary<string, SourceProgress> sources, DateTimeOffset now, TimeSpan after)
    {
        ArgumentNullException.ThrowIfNull(counter);
        ArgumentNullException.ThrowIfNull(sources);
        List<ReleasedGap>? released = null;
        foreach (var (source, progress) in sources)
        {
            if (progress.Parked is not { Count: > 0 } parked || progress.ParkedSince is not { } since || now - since < after)
            {
                continue;
            }

            var first = progress.Last + 1;
            var next = parked.Keys.Min();
            (progress.Released ??= []).Add(first, next - 1);
            progress.Last = next - 1;
            parked.Remove(next, out var delta);
            var (applied, overflowed) = Drain(counter, progress, delta, now);
            (released ??= []).Add(new ReleasedGap(source, first, next - 1, now - since, applied, overflowed));
        }

        return (IReadOnlyList<ReleasedGap>?)released ?? [];
    }

    /// <summary>The time the oldest parked add of any source has been waiting since, or null when nothing is parked.</summary>
    public static DateTimeOffset? OldestParked(IEnumerable<SourceProgress> sources)
    {
        ArgumentNullException.ThrowIfNull(sources);
        DateTimeOffset? oldest = null;
        foreach (var progress in sources)
        {
            if (progress.Parked is { Count: > 0 } && progress.ParkedSince is { } since && (oldest is null || since < oldest))
            {
                oldest = since;
            }
        }

        return oldest;
    }

    /// <summary>Applies <paramref name="delta"/> as number <see cref="SourceProgress.Last"/> + 1, then every parked successor in order.</summary>
    private static (int Applied, IReadOnlyList<long> Overflowed) Drain(CounterState counter, SourceProgress progress, long delta, DateTimeOffset now)
    {
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
            progress.ParkedSince = null;
        }
        else if (progress.Parked is not null)
        {
            // Another gap: its wait starts now.
            progress.ParkedSince = now;
        }

        return (applied, (IReadOnlyList<long>?)overflowed ?? []);
    }

    /// <summary>Removes <paramref name="sequence"/> from the released ranges; false when it is not among them.</summary>
    private static bool TakeReleased(SourceProgress progress, long sequence)
    {
        if (progress.Released is not { } ranges)
        {
            return false;
        }

        foreach (var (first, last) in ranges)
        {
            if (sequence < first || sequence > last)
            {
                continue;
            }

            ranges.Remove(first);
            if (first < sequence)
            {
                ranges.Add(first, sequence - 1);
            }

            if (sequence < last)
            {
                ranges.Add(sequence + 1, last);
            }

            if (ranges.Count == 0)
            {
                progress.Released = null;
            }

            return true;
        }

        return false;
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
