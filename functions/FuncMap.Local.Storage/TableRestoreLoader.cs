using System.Diagnostics;
using FuncMap.Engine;
using FuncMap.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Local.Storage;

/// <summary>
/// Snapshot restore (order 100): once the lease is ours, creates the table if missing and loads every row into
/// the engine as persisted, with its operation ids. While storage is unreachable it retries with backoff and
/// the host stays unready: it never starts serving with an empty map.
/// </summary>
public sealed class TableRestoreLoader : ICounterLoader
{
    private const int PageSize = 1000;

    private readonly CounterStorage _storage;
    private readonly LeaseService _lease;
    private readonly StorageOptions _options;
    private readonly StorageStatus _status;
    private readonly StorageMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    internal TableRestoreLoader(CounterStorage storage, LeaseService lease, IOptions<StorageOptions> options, StorageStatus status, StorageMetrics metrics, TimeProvider time, ILogger<TableRestoreLoader> logger)
    {
        _storage = storage;
        _lease = lease;
        _options = options.Value;
        _status = status;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    public int Order => 100;

    /// <inheritdoc />
    public async Task LoadAsync(CounterEngine engine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(engine);
        await _lease.WhenClaimed.WaitAsync(cancellationToken).ConfigureAwait(false);
        for (var failures = 0; ; failures++)
        {
            try
            {
                var started = Stopwatch.GetTimestamp();
                var rows = await LoadRowsAsync(_storage.Counters, engine, cancellationToken).ConfigureAwait(false);
                _status.RestoreWaiting(null);
                _metrics.Restored(rows);
                Log.Restored(_logger, rows, _storage.Counters.Name, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                return;
            }
            catch (Exception ex) when (StorageFailures.IsTransient(ex))
            {
                // Loading again from the start is safe: a load of the same row twice changes nothing.
                _status.RestoreWaiting(ex);
                var delay = Backoff.Delay(failures, _options.SnapshotMaxBackoff);
                Log.RestoreRetrying(_logger, _storage.Counters.Name, ex.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Creates the table if missing and loads every row; returns the row count.</summary>
    internal static async Task<long> LoadRowsAsync(ITableClient table, CounterEngine engine, CancellationToken cancellationToken)
    {
        await table.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
        long rows = 0;
        // The next page is fetched while this one is loaded, so loading hides behind the network.
        Task<TablePage>? next = table.QueryPageAsync(pageSize: PageSize, cancellationToken: cancellationToken);
        while (next is not null)
        {
            var page = await next.ConfigureAwait(false);
            next = page.Continuation is { } continuation
                ? table.QueryPageAsync(pageSize: PageSize, continuation: continuation, cancellationToken: cancellationToken)
                : null;
            foreach (var row in page.Entities)
            {
                var (data, ids) = CounterRows.FromRow(row);
                engine.Load(row.RowKey, data, ids, persisted: true);
                rows++;
            }
        }

        return rows;
    }
}
