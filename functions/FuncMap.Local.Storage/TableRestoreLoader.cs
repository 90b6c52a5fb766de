using System.Diagnostics;
using System.Threading.Channels;
using Azure.Data.Tables;
using FuncMap.Counters;
using FuncMap.Engine;
using FuncMap.Journal;
using FuncMap.Storage;
using FuncMap.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Local.Storage;

/// <summary>
/// Snapshot restore (order 100): once the lease is ours, creates the table if missing and loads every row into
/// the engine as persisted, with its operation ids. The table is read as 64 PartitionKey ranges, one per counter
/// partition, <see cref="StorageOptions.RestoreParallelism"/> at a time; the pages go through a channel to one
/// loading loop, because <see cref="CounterEngine.Load"/> is single-threaded by contract. While storage is
/// unreachable it retries with backoff and the host stays unready: it never starts serving with an empty map.
/// With a journal, it then hands the journal the segment its replay must start from (<see cref="ReplayRequirement"/>),
/// so that a missing segment the table does not cover stops the start.
/// </summary>
public sealed class TableRestoreLoader : ICounterLoader
{
    /// <summary>Rows per query page (the service's maximum).</summary>
    internal const int PageSize = 1000;

    /// <summary>A progress line is logged every this many rows loaded.</summary>
    internal const long ProgressInterval = 100_000;

    /// <summary>Skipped rows logged one by one (each with its reason); the rest are only counted.</summary>
    private const int SkippedRowsLogged = 1000;

    private readonly CounterStorage _storage;
    private readonly CounterSnapshotWriter _writer;
    private readonly LeaseService _lease;
    private readonly ReplayRequirement _requirement;
    private readonly IJournalCheckpoint? _journal;
    private readonly StorageOptions _options;
    private readonly StorageStatus _status;
    private readonly StorageMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    internal TableRestoreLoader(CounterStorage storage, CounterSnapshotWriter writer, LeaseService lease, ReplayRequirement requirement, IEnumerable<IJournalCheckpoint> journal, IOptions<StorageOptions> options, StorageStatus status, StorageMetrics metrics, TimeProvider time, ILogger<TableRestoreLoader> logger)
    {
        _storage = storage;
        _writer = writer;
        _lease = lease;
        _requirement = requirement;
        _journal = journal.LastOrDefault();
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
        using var span = StorageTelemetry.Source.StartRoot(FuncMapTelemetry.RestoreSpan);
        for (var failures = 0; ; failures++)
        {
            try
            {
                var started = Stopwatch.GetTimestamp();
                // Fences first: from here on no older owner can change a row, so the rows read next stay as read.
                await _storage.Counters.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
                await _writer.RaiseFencesAsync(_lease.Epoch, cancellationToken).ConfigureAwait(false);
                var result = await LoadRowsAsync(_storage.Counters, engine, _options.RestoreParallelism, _logger, cancellationToken, metrics: _metrics).ConfigureAwait(false);
                _status.RestoreWaiting(null);
                _metrics.Restored(result.Rows);
                span.Succeeded(FuncMapTelemetry.RowsTag, result.Rows);
                if (result.SkippedRows > 0)
                {
                    Log.RowsSkipped(_logger, result.SkippedRows, _storage.Counters.Name);
                }

                Log.Restored(_logger, result.Rows, _storage.Counters.Name, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (_journal is not null && await _requirement.ReadAsync(cancellationToken).ConfigureAwait(false) is { } need)
                {
                    // The journal replays next (order 200): it must find every segment the table does not cover.
                    _journal.RequireReplayFrom(need.Sequence, need.JournalId);
                    Log.ReplayRequired(_logger, need.Sequence, need.JournalId);
                }

                return;
            }
            catch (Exception ex) when (StorageFailures.IsTransient(ex))
            {
                // Loading again from the start is safe: a load of the same row twice changes nothing.
                _status.RestoreWaiting(ex);
                span?.AddEvent(new ActivityEvent("retry"));
                var delay = Backoff.Delay(failures, _options.SnapshotMaxBackoff);
                Log.RestoreRetrying(_logger, _storage.Counters.Name, ex.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The filter of PartitionKey range <paramref name="partition"/> (0–63): <see cref="CounterRows.PartitionRangeFilter"/>.</summary>
    internal static string RangeFilter(int partition) => CounterRows.PartitionRangeFilter(partition);

    /// <summary>
    /// Creates the table if missing and loads every row: the 64 partition ranges are queried
    /// <paramref name="parallelism"/> at a time, rows parsed by the readers, and loaded by this one loop.
    /// Every row is validated by the shared row schema (<see cref="CounterRows"/>): a row whose key the service cannot
    /// serve (<see cref="CounterRows.CheckServable"/>: a key the API refuses, or a PartitionKey FuncMap never writes it
    /// in) is skipped, logged with PartitionKey, RowKey and reason, and counted (<c>funcmap.storage.restore.skipped_rows</c>),
    /// never loaded nor deleted; a row whose state cannot be read exactly throws <see cref="InvalidDataException"/>
    /// naming the row and column (not transient: the start fails, with exit code 1).
    /// Progress is logged every <paramref name="progressInterval"/> rows loaded.
    /// </summary>
    internal static async Task<RestoreResult> LoadRowsAsync(TableClient table, CounterEngine engine, int parallelism, ILogger logger, CancellationToken cancellationToken, long progressInterval = ProgressInterval, StorageMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(progressInterval, 1);
        await table.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);

        var started = Stopwatch.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Bounded: the readers wait when the loading loop falls behind, so memory stays at a few pages.
        var pages = Channel.CreateBounded<ParsedPage>(new BoundedChannelOptions(parallelism * 2)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var state = new ReadState(table, pages.Writer, logger, metrics);
        var reading = ReadAllAsync(state, parallelism, stop.Token);

        long rows = 0;
        var nextProgress = progressInterval;
        try
        {
            var reader = pages.Reader;
            while (await reader.WaitToReadAsync(stop.Token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var page))
                {
                    foreach (var row in page.Rows)
                    {
                        engine.Load(row.Key, row.Data, row.OperationIds, persisted: true, row.Epoch);
                    }

                    rows += page.Rows.Length;
                    if (rows >= nextProgress)
                    {
                        Log.RestoreProgress(logger, rows, table.Name, Volatile.Read(ref state.RangesDone), CounterPartition.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                        nextProgress = ((rows / progressInterval) + 1) * progressInterval;
                    }
                }
            }
        }
        catch
        {
            // The loop failed (or was cancelled): stop the readers, observe their end, report the loop's failure.
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await reading.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Cancelled by us, or a failure of their own that is secondary to the loop's.
            }

            throw;
        }

        // The channel completes when every reader has ended; a reader's failure surfaces here (first one).
        await reading.ConfigureAwait(false);
        return new RestoreResult(rows, Volatile.Read(ref state.SkippedRows));
    }

    private static async Task ReadAllAsync(ReadState state, int parallelism, CancellationToken cancellationToken)
    {
        try
        {
            var options = new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken };
            await Parallel.ForEachAsync(Enumerable.Range(0, CounterPartition.Count), options, (partition, ct) => ReadRangeAsync(state, partition, ct)).ConfigureAwait(false);
        }
        finally
        {
            state.Writer.TryComplete();
        }
    }

    private static async ValueTask ReadRangeAsync(ReadState state, int partition, CancellationToken cancellationToken)
    {
        // AsPages follows the service's continuation (NextPartitionKey/NextRowKey) until the range is read.
        var pages = state.Table.QueryAsync<TableEntity>(RangeFilter(partition), maxPerPage: PageSize, cancellationToken: cancellationToken).AsPages();
        await foreach (var page in pages.ConfigureAwait(false))
        {
            if (page.Values.Count > 0)
            {
                await state.Writer.WriteAsync(Parse(state, page.Values), cancellationToken).ConfigureAwait(false);
            }
        }

        Interlocked.Increment(ref state.RangesDone);
    }

    private static ParsedPage Parse(ReadState state, IReadOnlyList<TableEntity> entities)
    {
        var rows = new List<ParsedRow>(entities.Count);
        foreach (var entity in entities)
        {
            if (CounterFence.IsFence(entity))
            {
                continue;
            }

            if (CounterRows.CheckServable(entity) is { } unservable)
            {
                state.Metrics?.RowSkipped(unservable.Rule);
                if (Interlocked.Increment(ref state.SkippedRows) <= SkippedRowsLogged)
                {
                    Log.RowSkipped(state.Logger, entity.PartitionKey, entity.RowKey, unservable.Message, unservable.Rule, state.Table.Name);
                }

                continue;
            }

            var row = CounterRows.FromEntity(entity);
            rows.Add(new ParsedRow(row.Key, row.ToData(), row.OperationIds, row.Epoch));
        }

        return new ParsedPage([.. rows]);
    }

    private sealed class ReadState(TableClient table, ChannelWriter<ParsedPage> writer, ILogger logger, StorageMetrics? metrics)
    {
        public StorageMetrics? Metrics { get; } = metrics;

        public long SkippedRows;
        public int RangesDone;

        public TableClient Table { get; } = table;

        public ChannelWriter<ParsedPage> Writer { get; } = writer;

        public ILogger Logger { get; } = logger;
    }

    private readonly record struct ParsedRow(string Key, CounterData Data, IReadOnlyList<string>? OperationIds, long Epoch);

    private sealed record ParsedPage(ParsedRow[] Rows);
}

/// <summary>What a restore read: rows loaded into the engine, and rows skipped because the service cannot serve their key.</summary>
internal readonly record struct RestoreResult(long Rows, long SkippedRows);
