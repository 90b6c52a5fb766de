using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using FuncMap.Counters;
using FuncMap.Engine;
using FuncMap.Functions.Counters;
using FuncMap.Storage;
using FuncMap.Telemetry;

namespace FuncMap.Functions;

/// <summary>
/// The Functions host's instruments, on one <see cref="Meter"/> from <see cref="IMeterFactory"/>, and the storage
/// instruments it shares with the local host (<see cref="Storage"/>). What both hosts do is counted under the local
/// host's names: an owner's answers as <see cref="EngineInstruments.Operations"/>, snapshot runs and queue messages
/// as <see cref="StorageInstruments"/>'s. Tags are low-cardinality (operation, status, reason), never the counter key.
/// </summary>
public sealed class FunctionsMetrics
{
    /// <summary>The meter name, to subscribe to in OpenTelemetry or dotnet-counters.</summary>
    public const string MeterName = FuncMapTelemetry.Functions;

    /// <summary>Operations the entity rejected (overflow, or reset/delete of a missing counter).</summary>
    public const string RejectedOperations = "funcmap.functions.operations.rejected";

    /// <summary>Operations the entity recognised as duplicates and did not apply again.</summary>
    public const string DuplicateOperations = "funcmap.functions.operations.duplicate";

    /// <summary>Queue messages sent to the poison queue because they can never succeed.</summary>
    public const string PoisonedMessages = "funcmap.functions.queue.poisoned";

    /// <summary>Rows the snapshot wrote or deleted.</summary>
    public const string SnapshotRows = "funcmap.functions.snapshot.rows";

    /// <summary>Accepted adds the folder folded into fold records.</summary>
    public const string FoldedAdds = "funcmap.functions.fold.adds";

    /// <summary>Fold record entries (per-key sums) the folder wrote; adds ÷ entries is how much folding saved.</summary>
    public const string FoldEntries = "funcmap.functions.fold.entries";

    /// <summary><c>fold</c> signals sent to entities.</summary>
    public const string FoldSignals = "funcmap.functions.fold.signals";

    /// <summary>Folded adds an entity received before an earlier one of their source and kept until it came.</summary>
    public const string FoldParked = "funcmap.functions.fold.parked";

    /// <summary>
    /// Folded sums an entity gave up waiting for (<see cref="Counter.GapReleaseAfter"/>): numbers storage lost. Each is also
    /// a critical log line (EventId 6150) naming the key, the source and the count.
    /// </summary>
    public const string FoldLostSums = "funcmap.functions.fold.lost";

    /// <summary>
    /// Accepted adds (answered 202) whose row was gone before the accepting process folded it, by outcome: <c>lost</c>
    /// (storage lost a row it had confirmed, EventId 6170) or <c>lostOrSwept</c> (old enough that another instance's sweep
    /// may have folded it, EventId 6171).
    /// </summary>
    public const string AcceptedLost = "funcmap.functions.accepted.lost";

    /// <summary>Folded sums that arrived after they were counted as lost, and were applied (EventId 6151).</summary>
    public const string FoldLateSums = "funcmap.functions.fold.late";

    /// <summary>Counters whose entity, as last run in this process, holds folded adds parked behind a gap.</summary>
    public const string ParkedKeys = "funcmap.functions.fold.parked.keys";

    /// <summary>Folded adds parked behind a gap in those counters.</summary>
    public const string ParkedAdds = "funcmap.functions.fold.parked.adds";

    /// <summary>How long the oldest of them has waited (0 when none); released at <see cref="Counter.GapReleaseAfter"/>.</summary>
    public const string ParkedAge = "funcmap.functions.fold.parked.age";

    private readonly ConcurrentDictionary<string, ParkedEntry> _parked = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;
    private readonly Counter<long> _foldLost;
    private readonly Counter<long> _foldLate;
    private readonly Counter<long> _acceptedLost;
    private readonly Counter<long> _operations;
    private readonly Counter<long> _foldedAdds;
    private readonly Counter<long> _foldEntries;
    private readonly Counter<long> _foldSignals;
    private readonly Counter<long> _foldParked;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _poisoned;
    private readonly Counter<long> _snapshotRows;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>; <paramref name="timeProvider"/> (default the system's) ages parked work.</summary>
    public FunctionsMetrics(IMeterFactory meterFactory, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _timeProvider = timeProvider ?? TimeProvider.System;
        var meter = meterFactory.Create(MeterName);
        _foldLost = meter.CreateCounter<long>(FoldLostSums, unit: "{sum}");
        _foldLate = meter.CreateCounter<long>(FoldLateSums, unit: "{sum}");
        _acceptedLost = meter.CreateCounter<long>(AcceptedLost, unit: "{add}");
        meter.CreateObservableGauge(ParkedKeys, () => Parked().Keys, unit: "{counter}");
        meter.CreateObservableGauge(ParkedAdds, () => Parked().Adds, unit: "{add}");
        meter.CreateObservableGauge(ParkedAge, () => Parked().Age.TotalSeconds, unit: "s");
        Storage = new StorageRunMetrics(meterFactory);
        _operations = meter.CreateCounter<long>(EngineInstruments.Operations, "{operation}", "Operations applied by counter owners (entities), by outcome.");
        _rejected = meter.CreateCounter<long>(RejectedOperations, unit: "{operation}");
        _duplicates = meter.CreateCounter<long>(DuplicateOperations, unit: "{operation}");
        _poisoned = meter.CreateCounter<long>(PoisonedMessages, unit: "{message}");
        _snapshotRows = meter.CreateCounter<long>(SnapshotRows, unit: "{row}");
        _foldedAdds = meter.CreateCounter<long>(FoldedAdds, unit: "{add}");
        _foldEntries = meter.CreateCounter<long>(FoldEntries, unit: "{entry}");
        _foldSignals = meter.CreateCounter<long>(FoldSignals, unit: "{signal}");
        _foldParked = meter.CreateCounter<long>(FoldParked, unit: "{add}");
    }

    /// <summary>The snapshot and queue-message instruments, under the names the local host uses.</summary>
    public StorageRunMetrics Storage { get; }

    /// <summary>Counts an owner's answer under <see cref="EngineInstruments.Operations"/>, as the local engine does.</summary>
    internal void OperationAnswered(OperationStatus status, long count = 1) =>
        _operations.Add(count, new KeyValuePair<string, object?>(FuncMapTelemetry.OutcomeTag, FuncMapTelemetry.OutcomeOf(status)));

    internal void OperationRejected(string operation, OperationStatus status) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("status", FuncMapTelemetry.OutcomeOf(status)));

    internal void DuplicateIgnored(string operation) =>
        _duplicates.Add(1, new KeyValuePair<string, object?>("operation", operation));

    internal void AddsFolded(int adds, int entries)
    {
        _foldedAdds.Add(adds);
        _foldEntries.Add(entries);
    }

    internal void FoldSignalsSent(int signals) => _foldSignals.Add(signals);

    internal void AddParked() => _foldParked.Add(1);

    internal void FoldLost(long sums) => _foldLost.Add(sums);

    internal void LateFoldApplied() => _foldLate.Add(1);

    internal void AcceptedRowLost(int adds, bool certain) =>
        _acceptedLost.Add(adds, new KeyValuePair<string, object?>("outcome", certain ? "lost" : "lostOrSwept"));

    /// <summary>
    /// Records what <paramref name="key"/>'s entity holds parked after an operation: <paramref name="adds"/> adds, the oldest
    /// waiting since <paramref name="since"/> (none when 0 or null).
    /// </summary>
    internal void ParkedWork(string key, int adds, DateTimeOffset? since, DateTimeOffset now)
    {
        if (adds > 0 && since is { } oldest)
        {
            _parked[key] = new ParkedEntry(adds, oldest, now);
        }
        else
        {
            _parked.TryRemove(key, out _);
        }
    }

    /// <summary>
    /// The parked work entities reported in this process. An entry not reported again within twice
    /// <see cref="Counter.GapReleaseAfter"/> is dropped: its entity runs its release reminder by then, so it now runs elsewhere.
    /// </summary>
    internal (int Keys, long Adds, TimeSpan Age) Parked()
    {
        var now = _timeProvider.GetUtcNow();
        var keys = 0;
        var adds = 0L;
        var age = TimeSpan.Zero;
        foreach (var (key, entry) in _parked)
        {
            if (now - entry.Seen > 2 * Counter.GapReleaseAfter)
            {
                _parked.TryRemove(KeyValuePair.Create(key, entry));
                continue;
            }

            keys++;
            adds += entry.Adds;
            age = now - entry.Since > age ? now - entry.Since : age;
        }

        return (keys, adds, age);
    }
    internal void MessagePoisoned(string reason) =>
        _poisoned.Add(1, new KeyValuePair<string, object?>("reason", reason));

    internal void SnapshotRowsWritten(long upserted, long deleted)
    {
        _snapshotRows.Add(upserted, new KeyValuePair<string, object?>("action", "upsert"));
        _snapshotRows.Add(deleted, new KeyValuePair<string, object?>("action", "delete"));
    }
}

/// <summary>
/// The Functions app's activity source (<see cref="FuncMapTelemetry.Functions"/>): one <see cref="FuncMapTelemetry.ApplySpan"/>
/// per entity operation, child of the entity invocation's span.
/// </summary>
public static class FunctionsTelemetry
{
    /// <summary>The source; its spans exist only while a listener samples them.</summary>
    public static ActivitySource Source { get; } = new(FuncMapTelemetry.Functions);
}

/// <summary>What one entity held parked when it last ran here.</summary>
internal readonly record struct ParkedEntry(int Adds, DateTimeOffset Since, DateTimeOffset Seen);
