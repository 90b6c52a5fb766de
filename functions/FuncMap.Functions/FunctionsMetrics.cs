using System.Diagnostics.Metrics;
using FuncMap.Counters;

namespace FuncMap.Functions;

/// <summary>
/// The Functions host's instruments, on one <see cref="Meter"/> from <see cref="IMeterFactory"/>.
/// Tags are low-cardinality (operation, status, reason), never the counter key.
/// </summary>
public sealed class FunctionsMetrics
{
    /// <summary>The meter name, to subscribe to in OpenTelemetry or dotnet-counters.</summary>
    public const string MeterName = "FuncMap.Functions";

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
        _rejected = meter.CreateCounter<long>(RejectedOperations, unit: "{operation}");
        _duplicates = meter.CreateCounter<long>(DuplicateOperations, unit: "{operation}");
        _poisoned = meter.CreateCounter<long>(PoisonedMessages, unit: "{message}");
        _snapshotRows = meter.CreateCounter<long>(SnapshotRows, unit: "{row}");
        _foldedAdds = meter.CreateCounter<long>(FoldedAdds, unit: "{add}");
        _foldEntries = meter.CreateCounter<long>(FoldEntries, unit: "{entry}");
        _foldSignals = meter.CreateCounter<long>(FoldSignals, unit: "{signal}");
        _foldParked = meter.CreateCounter<long>(FoldParked, unit: "{add}");
    }

    internal void OperationRejected(string operation, OperationStatus status) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("operation", operation), new KeyValuePair<string, object?>("status", StatusName(status)));

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

    private static string StatusName(OperationStatus status) => status switch
    {
        OperationStatus.Overflow => "overflow",
        OperationStatus.NotFound => "not_found",
        OperationStatus.Duplicate => "duplicate",
        OperationStatus.Mismatch => "idempotency_mismatch",
        _ => "applied",
    };
}
