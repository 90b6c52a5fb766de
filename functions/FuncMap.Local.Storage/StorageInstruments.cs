using System.Diagnostics.Metrics;
using FuncMap.Telemetry;

namespace FuncMap.Local.Storage;

/// <summary>The names of the storage meter and its instruments.</summary>
public static class StorageInstruments
{
    /// <summary>The meter.</summary>
    public const string MeterName = FuncMapTelemetry.Storage;

    /// <summary>Snapshot runs, tagged with <c>funcmap.outcome</c> (success, failure).</summary>
    public const string SnapshotRuns = "funcmap.storage.snapshot.runs";

    /// <summary>Snapshot duration (ms), tagged with the outcome.</summary>
    public const string SnapshotDuration = "funcmap.storage.snapshot.duration";

    /// <summary>Rows written (upserted or deleted) by snapshots.</summary>
    public const string SnapshotRows = "funcmap.storage.snapshot.rows";

    /// <summary>Rows loaded by the restore.</summary>
    public const string RestoredRows = "funcmap.storage.restore.rows";

    /// <summary>Rows the restore skipped because the service cannot serve their key, tagged with <c>funcmap.reason</c> (the rule).</summary>
    public const string SkippedRows = "funcmap.storage.restore.skipped_rows";

    /// <summary>Queue messages handled, tagged with <c>funcmap.outcome</c> (applied, duplicate, poison, retry, parked: poisoning failed at the last allowed delivery; queue_recreated: a missing queue was re-created).</summary>
    public const string Messages = "funcmap.storage.ingestion.messages";

    /// <summary>Increment items applied from the queue.</summary>
    public const string Items = "funcmap.storage.ingestion.items";

    /// <summary>Keys of queued batches not applied because the batch id was applied to the counter before with another total.</summary>
    public const string MismatchedKeys = "funcmap.storage.ingestion.mismatched_keys";

    /// <summary>Keys of queued batches not applied because the counter would overflow.</summary>
    public const string OverflowedKeys = "funcmap.storage.ingestion.overflowed_keys";

    /// <summary>Messages applied but not yet deletable (Snapshot mode: waiting for a snapshot).</summary>
    public const string PendingMessages = "funcmap.storage.ingestion.pending";

    /// <summary>Lease renewals, tagged with the outcome (success, failure, lost).</summary>
    public const string LeaseRenewals = "funcmap.storage.lease.renewals";

    internal const string OutcomeTag = FuncMapTelemetry.OutcomeTag;
}

/// <summary>The storage instruments of one host.</summary>
internal sealed class StorageMetrics
{
    private readonly Counter<long> _snapshotRuns;
    private readonly Histogram<double> _snapshotDuration;
    private readonly Counter<long> _snapshotRows;
    private readonly Counter<long> _restoredRows;
    private readonly Counter<long> _skippedRows;
    private readonly Counter<long> _messages;
    private readonly Counter<long> _items;
    private readonly Counter<long> _overflowedKeys;
    private readonly Counter<long> _mismatchedKeys;
    private readonly Counter<long> _leaseRenewals;
    private Func<int> _pending = static () => 0;

    public StorageMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(StorageInstruments.MeterName);
        _snapshotRuns = meter.CreateCounter<long>(StorageInstruments.SnapshotRuns, "{run}", "Snapshot runs by outcome.");
        _snapshotDuration = meter.CreateLatencyHistogram(StorageInstruments.SnapshotDuration, "Duration of a snapshot run.");
        _snapshotRows = meter.CreateCounter<long>(StorageInstruments.SnapshotRows, "{row}", "Rows upserted or deleted by snapshots.");
        _restoredRows = meter.CreateCounter<long>(StorageInstruments.RestoredRows, "{row}", "Rows loaded from the snapshot table.");
        _skippedRows = meter.CreateCounter<long>(StorageInstruments.SkippedRows, "{row}", "Rows of the snapshot table the restore skipped (a key the service cannot serve); never deleted.");
        _messages = meter.CreateCounter<long>(StorageInstruments.Messages, "{message}", "Queue messages by outcome.");
        _items = meter.CreateCounter<long>(StorageInstruments.Items, "{item}", "Increment items applied from the queue.");
        _overflowedKeys = meter.CreateCounter<long>(StorageInstruments.OverflowedKeys, "{key}", "Queued keys not applied because the counter would overflow.");
        _mismatchedKeys = meter.CreateCounter<long>(StorageInstruments.MismatchedKeys, "{key}", "Queued keys not applied because the batch id was used before with another total (idempotency.mismatch).");
        _leaseRenewals = meter.CreateCounter<long>(StorageInstruments.LeaseRenewals, "{renewal}", "Lease renewals by outcome.");
        meter.CreateObservableGauge(StorageInstruments.PendingMessages, () => _pending(), "{message}", "Applied messages waiting for a snapshot before they are deleted.");
    }

    public void Snapshot(bool success, TimeSpan elapsed, int rows)
    {
        var tag = new KeyValuePair<string, object?>(StorageInstruments.OutcomeTag, success ? "success" : "failure");
        _snapshotRuns.Add(1, tag);
        _snapshotDuration.Record(elapsed.TotalMilliseconds, tag);
        if (success)
        {
            _snapshotRows.Add(rows);
        }
    }

    public void Restored(long rows) => _restoredRows.Add(rows);

    public void RowSkipped(string rule) => _skippedRows.Add(1, new KeyValuePair<string, object?>("funcmap.reason", rule));

    public void Message(string outcome) => _messages.Add(1, new KeyValuePair<string, object?>(StorageInstruments.OutcomeTag, outcome));

    public void Items(int count) => _items.Add(count);

    public void Overflowed(int keys) => _overflowedKeys.Add(keys);

    public void Mismatched(int keys) => _mismatchedKeys.Add(keys);

    public void LeaseRenewal(string outcome) => _leaseRenewals.Add(1, new KeyValuePair<string, object?>(StorageInstruments.OutcomeTag, outcome));

    public void ObservePending(Func<int> pending) => _pending = pending;
}
