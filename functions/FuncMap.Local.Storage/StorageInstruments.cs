using System.Diagnostics.Metrics;
using FuncMap.Storage;

namespace FuncMap.Local.Storage;

/// <summary>The storage instruments of the local host: the shared ones (<see cref="StorageRunMetrics"/>) and its own.</summary>
internal sealed class StorageMetrics
{
    private readonly StorageRunMetrics _runs;
    private readonly Counter<long> _restoredRows;
    private readonly Counter<long> _skippedRows;
    private readonly Counter<long> _items;
    private readonly Counter<long> _overflowedKeys;
    private readonly Counter<long> _mismatchedKeys;
    private readonly Counter<long> _leaseRenewals;
    private Func<int> _pending = static () => 0;

    public StorageMetrics(IMeterFactory meterFactory)
    {
        _runs = new StorageRunMetrics(meterFactory);
        var meter = _runs.Meter;
        _restoredRows = meter.CreateCounter<long>(StorageInstruments.RestoredRows, "{row}", "Rows loaded from the snapshot table.");
        _skippedRows = meter.CreateCounter<long>(StorageInstruments.SkippedRows, "{row}", "Rows of the snapshot table the restore skipped (a key the service cannot serve); never deleted.");
        _items = meter.CreateCounter<long>(StorageInstruments.Items, "{item}", "Increment items applied from the queue.");
        _overflowedKeys = meter.CreateCounter<long>(StorageInstruments.OverflowedKeys, "{key}", "Queued keys not applied because the counter would overflow.");
        _mismatchedKeys = meter.CreateCounter<long>(StorageInstruments.MismatchedKeys, "{key}", "Queued keys not applied because the batch id was used before with another total (idempotency.mismatch).");
        _leaseRenewals = meter.CreateCounter<long>(StorageInstruments.LeaseRenewals, "{renewal}", "Lease renewals by outcome.");
        meter.CreateObservableGauge(StorageInstruments.PendingMessages, () => _pending(), "{message}", "Applied messages waiting for a snapshot before they are deleted.");
    }

    public void Snapshot(bool success, TimeSpan elapsed, int rows) => _runs.Snapshot(success, elapsed, rows);

    public void Restored(long rows) => _restoredRows.Add(rows);

    public void RowSkipped(string rule) => _skippedRows.Add(1, new KeyValuePair<string, object?>(FuncMap.Telemetry.FuncMapTelemetry.ReasonTag, rule));

    public void Message(string outcome) => _runs.Message(outcome);

    public void Items(int count) => _items.Add(count);

    public void Overflowed(int keys) => _overflowedKeys.Add(keys);

    public void Mismatched(int keys) => _mismatchedKeys.Add(keys);

    public void LeaseRenewal(string outcome) => _leaseRenewals.Add(1, new KeyValuePair<string, object?>(StorageInstruments.OutcomeTag, outcome));

    public void ObservePending(Func<int> pending) => _pending = pending;
}
