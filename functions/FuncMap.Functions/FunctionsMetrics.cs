using System.Diagnostics;
using System.Diagnostics.Metrics;
using FuncMap.Counters;
using FuncMap.Engine;
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

    private readonly Counter<long> _operations;
    private readonly Counter<long> _foldedAdds;
    private readonly Counter<long> _foldEntries;
    private readonly Counter<long> _foldSignals;
    private readonly Counter<long> _foldParked;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _poisoned;
    private readonly Counter<long> _snapshotRows;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    public FunctionsMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
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
