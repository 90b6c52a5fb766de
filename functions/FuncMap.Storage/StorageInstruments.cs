using System.Diagnostics.Metrics;
using FuncMap.Telemetry;

namespace FuncMap.Storage;

/// <summary>
/// The names of the storage meter and its instruments. The snapshot and queue-message instruments are recorded by
/// both hosts (<see cref="StorageRunMetrics"/>); the others by the local host.
/// </summary>
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

    /// <summary>The outcome tag (<see cref="FuncMapTelemetry.OutcomeTag"/>).</summary>
    public const string OutcomeTag = FuncMapTelemetry.OutcomeTag;
}

/// <summary>
/// The storage instruments both hosts record, on the <see cref="StorageInstruments.MeterName"/> meter: snapshot runs,
/// their duration and rows, and queue messages by outcome. One dashboard reads both hosts with these names.
/// </summary>
public sealed class StorageRunMetrics
{
    private readonly Counter<long> _snapshotRuns;
    private readonly Histogram<double> _snapshotDuration;
    private readonly Counter<long> _snapshotRows;
    private readonly Counter<long> _messages;

    /// <summary>Creates the instruments on the storage meter of <paramref name="meterFactory"/>.</summary>
    public StorageRunMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        Meter = meterFactory.Create(StorageInstruments.MeterName);
        _snapshotRuns = Meter.CreateCounter<long>(StorageInstruments.SnapshotRuns, "{run}", "Snapshot runs by outcome.");
        _snapshotDuration = Meter.CreateLatencyHistogram(StorageInstruments.SnapshotDuration, "Duration of a snapshot run.");
        _snapshotRows = Meter.CreateCounter<long>(StorageInstruments.SnapshotRows, "{row}", "Rows upserted or deleted by snapshots.");
        _messages = Meter.CreateCounter<long>(StorageInstruments.Messages, "{message}", "Queue messages by outcome.");
    }

    /// <summary>The storage meter, for the host's own storage instruments.</summary>
    public Meter Meter { get; }

    /// <summary>Records one snapshot run: its outcome and duration, and on success the rows it wrote or deleted.</summary>
    public void Snapshot(bool success, TimeSpan elapsed, long rows)
    {
        var tag = new KeyValuePair<string, object?>(StorageInstruments.OutcomeTag, success ? "success" : "failure");
        _snapshotRuns.Add(1, tag);
        _snapshotDuration.Record(elapsed.TotalMilliseconds, tag);
        if (success)
        {
            _snapshotRows.Add(rows);
        }
    }

    /// <summary>Counts one queue message by <paramref name="outcome"/> (applied, duplicate, poison, retry, parked, queue_recreated).</summary>
    public void Message(string outcome) => _messages.Add(1, new KeyValuePair<string, object?>(StorageInstruments.OutcomeTag, outcome));
}
