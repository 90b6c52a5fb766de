using System.Collections.Concurrent;
using System.Threading.Channels;
using Azure;
using Azure.Data.Tables;
using Azure.Data.Tables.Models;
using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Storage;
using Microsoft.DurableTask.Client.Entities;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Accepts;

/// <summary>
/// Folds the rows of <c>Accepted</c> into the counters' entities, so that an entity receives one <c>fold</c> signal per
/// key per fold instead of one signal per add. Every <see cref="FuncMapFunctionsOptions.FoldInterval"/> (at once when a
/// write must not overtake this process's accepted adds: <see cref="BarrierAsync"/>) it reads this process's partition
/// and, in ONE entity-group transaction per at most <see cref="AcceptedRows.MaxRowsPerFold"/> rows, deletes the rows it
/// read (each with its ETag) and inserts a fold record: per key, the sum of its adds, numbered by a per-(source, key)
/// sequence (<see cref="SourceSequences"/>). Only after the transaction succeeded are the numbers taken; then it signals
/// each key's entity with <see cref="CounterOperations.Fold"/> and deletes the fold record.
/// </summary>
/// <remarks>
/// Why nothing is lost and nothing counts twice: an add answered 202 is in an accepted row; the row leaves the table only
/// in the transaction that writes its fold record, and the fold record leaves only after every one of its signals was
/// stored in the task hub. A crash between the two leaves the record, which any folder re-sends with the numbers it
/// recorded (a partition's fold records are re-read at each fold, and <see cref="SweepAsync"/> folds the partitions of
/// other sources once their rows are older than <see cref="FuncMapFunctionsOptions.FoldStaleAfter"/>, e.g. a process that
/// stopped). The entity applies each (source, sequence) once and in order, so re-sent and redelivered signals are
/// duplicates. Two folders reading the same rows: the ETag'd deletes fail one transaction, which folds nothing.
/// A transaction whose outcome is unknown (no answer) may have been written: the folder then numbers under a fresh
/// source, so no number is ever given to two different sums. A folder numbers under one source for at most
/// <see cref="SourceLifetime"/>, so that entities may forget a source after <see cref="Counter.SourceRetention"/>.
/// </remarks>
public sealed class AcceptFolder(
    AcceptLog log, EntityClientSource clients, IOptions<FuncMapFunctionsOptions> options, FunctionsMetrics metrics, TimeProvider timeProvider, ILogger<AcceptFolder> logger)
    : BackgroundService
{
    /// <summary>
    /// How long a folder numbers under one sequence source before it starts a new one. Entities must remember a source
    /// longer than this (tombstone retention, source retention: <see cref="FuncMapFunctionsOptionsValidator.SourceDeliveryBound"/>).
    /// </summary>
    public static readonly TimeSpan SourceLifetime = TimeSpan.FromHours(1);

    /// <summary>How long an unfolded flush must stay missing from this process's partition, across folds, before it is reported as lost.</summary>
    public static readonly TimeSpan LostAfterMissedFor = TimeSpan.FromSeconds(2);

    /// <summary>How many transactions one fold of a partition submits before it signals (and starts over if more is left).</summary>
    public const int MaxTransactionsPerFold = 10;

    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly ConcurrentDictionary<TaskCompletionSource, long> _barriers = new();
    private readonly Dictionary<long, DateTimeOffset> _suspects = [];
    private Dictionary<string, long> _lastSequence = new(StringComparer.Ordinal);
    private string _sequenceSource = log.Source;
    private DateTimeOffset _sequenceSourceStarted = timeProvider.GetUtcNow();
    private long _foldNumber;
    private long _foldedThrough;
    private DurableEntityClient? _entities;

    /// <summary>The source the folder numbers under now (it changes: <see cref="SourceLifetime"/>, and after an unknown outcome).</summary>
    public string SequenceSource => _sequenceSource;

    /// <summary>
    /// Completes once every add of <paramref name="key"/> this process accepted before the call has been signalled to the
    /// key's entity, so that a write sent to the entity after it (a reset, a delete, a <c>?wait=true</c>) comes after those
    /// adds, as on the local host. Immediate when there is none.
    /// </summary>
    public Task BarrierAsync(string key, CancellationToken cancellationToken)
    {
        var flush = log.LastFlushOf(key);
        if (flush == 0 || flush <= Volatile.Read(ref _foldedThrough))
        {
            return Task.CompletedTask;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _barriers[done] = flush;
        if (flush <= Volatile.Read(ref _foldedThrough))
        {
            _barriers.TryRemove(done, out _);
            return Task.CompletedTask;
        }

        _wake.Writer.TryWrite(true);
        return WaitAsync(done, cancellationToken);
    }

    /// <summary>
    /// Folds this process's partition once: re-sends the fold records found there, folds its accepted rows (up to
    /// <see cref="MaxTransactionsPerFold"/> transactions), signals, deletes the records. True when everything that was in
    /// the partition when the fold began has been signalled.
    /// </summary>
    public async Task<bool> FoldOwnAsync(DurableEntityClient entities, CancellationToken cancellationToken)
    {
        var covered = log.LastFlush;
        var complete = await FoldPartitionAsync(entities, log.Source, covered, cancellationToken).ConfigureAwait(false);
        if (complete)
        {
            FoldedThrough(covered);
        }

        return complete;
    }

    /// <summary>
    /// Folds the partitions of other sources that hold a row older than <see cref="FuncMapFunctionsOptions.FoldStaleAfter"/>
    /// (a stopped process's adds, or fold records it did not finish), numbering under this folder's own source and
    /// writing each fold record into the partition whose rows it deletes (a transaction spans one partition).
    /// Returns how many partitions it folded.
    /// </summary>
    public async Task<int> SweepAsync(DurableEntityClient entities, CancellationToken cancellationToken)
    {
        var before = timeProvider.GetUtcNow() - options.Value.FoldStaleAfter;
        var partitions = new SortedSet<string>(StringComparer.Ordinal);
        try
        {
            var filter = TableClient.CreateQueryFilter($"Timestamp lt {before}");
            await foreach (var row in log.Table.QueryAsync<TableEntity>(filter, select: [nameof(TableEntity.PartitionKey)], cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (!string.Equals(row.PartitionKey, log.Source, StringComparison.Ordinal))
                {
                    partitions.Add(row.PartitionKey);
                }
            }
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == TableErrorCode.TableNotFound)
        {
            return 0;
        }

        foreach (var partition in partitions)
        {
            Log.SweepingSource(logger, partition, options.Value.FoldStaleAfter);

            // A few rounds: a partition still being written (a live source whose folder is behind) is left to later sweeps.
            for (var round = 0; round < 3 && !await FoldPartitionAsync(entities, partition, ownCovered: null, cancellationToken).ConfigureAwait(false); round++)
            {
            }
        }

        return partitions.Count;
    }

    /// <summary>
    /// A graceful stop: stops the loop, stops the accept log taking adds (later ones are answered 503
    /// <c>service.stopping</c>) and waits for its last flush, then folds and signals until the partition is empty or
    /// <paramref name="cancellationToken"/> (the host's shutdown time) ends. Logs what it leaves (event 6153): a sweep of
    /// another instance, or of this app's next start, folds it once it is older than <c>FoldStaleAfter</c>, within
    /// <c>FoldStaleAfter</c> + <c>SweepInterval</c> (45 s) of an instance running.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await log.CompleteAsync().ConfigureAwait(false);
        if (_entities is not { } entities)
        {
            // No client yet (no trigger ran since the start): nothing can be signalled, the sweep takes the rows.
            await LogLeftAsync().ConfigureAwait(false);
            return;
        }

        var rounds = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            rounds++;
            try
            {
                // False: more than one fold's worth was left (or a transaction lost a race); the next round goes on at once.
                if (await FoldOwnAsync(entities, cancellationToken).ConfigureAwait(false))
                {
                    Log.StopFolded(logger, log.Source, log.LastFlush, rounds);
                    return;
                }

                continue;
            }
            catch (Exception ex) when (ex is OperationCanceledException || StorageFailures.IsStorage(ex) || ex is Grpc.Core.RpcException)
            {
                Log.FoldFailed(logger, ex, log.Source, StorageFailures.Status(ex), StorageFailures.ErrorCode(ex));
            }

            // What failed is still in the table: the next round takes it, after a pause (a failing storage is not hammered).
            try
            {
                await Task.Delay(options.Value.FoldInterval, timeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        await LogLeftAsync().ConfigureAwait(false);
    }

    /// <summary>Counts what the stop leaves in this process's partition and logs it; a few seconds at most.</summary>
    private async Task LogLeftAsync()
    {
        var (rows, records) = (0, 0);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var cancellationToken = timeout.Token;
        try
        {
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {log.Source}");
            await foreach (var row in log.Table.QueryAsync<TableEntity>(filter, select: [nameof(TableEntity.RowKey)], cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                if (AcceptedRows.IsFoldRecord(row.RowKey))
                {
                    records++;
                }
                else
                {
                    rows++;
                }
            }
        }
        catch (Exception ex) when (StorageFailures.IsStorage(ex) || ex is OperationCanceledException)
        {
            (rows, records) = (-1, -1);
        }

        if (rows != 0 || records != 0)
        {
            Log.StopLeft(logger, log.Source, rows, records, options.Value.FoldStaleAfter + options.Value.SweepInterval);
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var entities = await clients.GetAsync(stoppingToken).ConfigureAwait(false);
        _entities = entities;
        var nextSweep = timeProvider.GetUtcNow();
        var complete = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            if (complete)
            {
                await WaitForTurnAsync(stoppingToken).ConfigureAwait(false);
            }

            try
            {
                complete = await FoldOwnAsync(entities, stoppingToken).ConfigureAwait(false);
                if (timeProvider.GetUtcNow() >= nextSweep)
                {
                    nextSweep = timeProvider.GetUtcNow() + options.Value.SweepInterval;
                    await SweepAsync(entities, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // Whatever failed is still in the table and is folded (or re-sent) by the next round.
                Log.FoldFailed(logger, ex, log.Source, StorageFailures.Status(ex), StorageFailures.ErrorCode(ex));
                complete = true;
            }
        }
    }

    private async Task WaitForTurnAsync(CancellationToken stoppingToken)
    {
        if (_wake.Reader.TryRead(out _))
        {
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(options.Value.FoldInterval);
        try
        {
            await _wake.Reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
            _wake.Reader.TryRead(out _);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // The interval passed.
        }
    }

    private static async Task WaitAsync(TaskCompletionSource done, CancellationToken cancellationToken) =>
        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);

    private void FoldedThrough(long flush)
    {
        Volatile.Write(ref _foldedThrough, Math.Max(Volatile.Read(ref _foldedThrough), flush));
        foreach (var (done, needed) in _barriers)
        {
            if (needed <= flush && _barriers.TryRemove(done, out _))
            {
                done.TrySetResult();
            }
        }

        foreach (var (key, last) in log.PendingKeys)
        {
            if (last <= flush)
            {
                log.Forget(key, last);
            }
        }
    }

    /// <summary>
    /// Folds <paramref name="partition"/> once. For this process's own partition, <paramref name="ownCovered"/> is the last
    /// flush confirmed before the query began: every unfolded flush up to it must be in the partition, and one that is not
    /// was lost by storage (<see cref="CheckUnfolded"/>).
    /// </summary>
    private async Task<bool> FoldPartitionAsync(DurableEntityClient entities, string partition, long? ownCovered, CancellationToken cancellationToken)
    {
        var table = log.Table;
        var seen = new HashSet<long>();
        var accepted = new List<TableEntity>();
        var records = new List<(string RowKey, FoldRecord Record)>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition}");
        var limit = MaxTransactionsPerFold * AcceptedRows.MaxRowsPerFold;
        var truncated = false;
        try
        {
            await foreach (var row in table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
            {
                // Every accepted row counts as seen, also those past this fold's limit (a fold record has no flush number).
                if (ownCovered is not null && AcceptedRows.FlushOf(row.RowKey) is { } flush)
                {
                    seen.Add(flush);
                }

                if (AcceptedRows.IsFoldRecord(row.RowKey))
                {
                    if (TryRead(row, AcceptedRows.ReadFold) is { } record)
                    {
                        records.Add((row.RowKey, record));
                    }
                }
                else if (accepted.Count < limit)
                {
                    accepted.Add(row);
                }
                else
                {
                    truncated = true;
                }
            }
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == TableErrorCode.TableNotFound)
        {
            return true;
        }

        if (ownCovered is { } covered)
        {
            CheckUnfolded(seen, covered);
        }

        var complete = await FoldRowsAsync(table, partition, accepted, records, cancellationToken).ConfigureAwait(false) && !truncated;

        await SignalAsync(entities, records, cancellationToken).ConfigureAwait(false);
        foreach (var (rowKey, _) in records)
        {
            try
            {
                await table.DeleteEntityAsync(partition, rowKey, ETag.All, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
                // Another folder re-sent and deleted it first.
            }
        }

        return complete;
    }

    /// <summary>Folds <paramref name="rows"/> in transactions, adding each written fold record to <paramref name="records"/>; false when one failed.</summary>
    private async Task<bool> FoldRowsAsync(
        TableClient table, string partition, List<TableEntity> rows, List<(string RowKey, FoldRecord Record)> records, CancellationToken cancellationToken)
    {
        RenewSequenceSourceIfOld();
        var index = 0;
        while (index < rows.Count)
        {
            var sums = new Dictionary<string, List<Int128>>(StringComparer.Ordinal);
            var taken = new List<TableEntity>();
            var chars = 0L;
            var items = 0;
            for (; index < rows.Count && taken.Count < AcceptedRows.MaxRowsPerFold; index++)
            {
                if (TryRead(rows[index], AcceptedRows.ReadItems) is not { } rowItems)
                {
                    continue;
                }

                // The most this row can add to the fold record: a new line for each of its items.
                var bound = rowItems.Sum(static i => (long)i.Key.Length + AcceptedRows.FoldLineOverhead);
                if (taken.Count > 0 && chars + bound > AcceptedRows.MaxFoldChars)
                {
                    break;
                }

                foreach (var item in rowItems)
                {
                    chars += Add(sums, item);
                }

                items += rowItems.Count;
                taken.Add(rows[index]);
            }

            if (taken.Count == 0)
            {
                continue;
            }

            var entries = new List<FoldEntry>();
            var next = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (key, chunks) in sums)
            {
                var sequence = _lastSequence.GetValueOrDefault(key);
                foreach (var chunk in chunks)
                {
                    entries.Add(new FoldEntry(key, ++sequence, (long)chunk));
                }

                next[key] = sequence;
            }

            if (string.Equals(partition, log.Source, StringComparison.Ordinal))
            {
                // Whatever the transaction's outcome, these rows may be folded from now on: no longer watched for a loss.
                foreach (var row in taken)
                {
                    if (AcceptedRows.FlushOf(row.RowKey) is { } flush)
                    {
                        log.Taken(flush);
                    }
                }
            }

            var record = new FoldRecord(_sequenceSource, entries);
            var rowKey = AcceptedRows.FoldRowKeyOf(log.Source, ++_foldNumber);
            var actions = new List<TableTransactionAction>(taken.Count + 1);
            actions.AddRange(taken.Select(static row => new TableTransactionAction(TableTransactionActionType.Delete, row, row.ETag)));
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, AcceptedRows.ToFoldEntity(partition, rowKey, record)));
            try
            {
                await table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (StorageFailures.IsStorage(ex))
            {
                // A refused transaction wrote nothing (another folder took a row first: its ETag no longer matches, or it
                // is gone); one without an answer may have been written. Either way these numbers are never used again.
                Log.FoldTransactionFailed(logger, ex, partition, taken.Count);
                StartSequenceSource();
                return false;
            }
            catch (OperationCanceledException)
            {
                // Cancelled in flight (a stop): the transaction may have been written, so these numbers are not used again either.
                StartSequenceSource();
                throw;
            }

            foreach (var (key, sequence) in next)
            {
                _lastSequence[key] = sequence;
            }

            metrics.AddsFolded(items, entries.Count);
            records.Add((rowKey, record));
        }

        return true;
    }

    /// <summary>
    /// Compares the flushes this process holds as unfolded (<see cref="AcceptLog.Unfolded"/>) up to <paramref name="covered"/>
    /// with those the query saw. One that a query misses is first only suspected: under a real Functions host on Azurite a
    /// query missed a row whose insert had been confirmed 3 s before, and the next fold found and folded it. Missed again
    /// by a fold at least <see cref="LostAfterMissedFor"/> later, it is gone without this folder folding it. Younger than
    /// half of <see cref="FuncMapFunctionsOptions.FoldStaleAfter"/>, no sweep of another instance (which takes only rows
    /// older than that, by its clock) can have taken it: storage lost a row it had confirmed (EventId 6170, outcome
    /// <c>lost</c>). Older, a sweep may have folded it (EventId 6171, outcome <c>lostOrSwept</c>). Either way the adds are
    /// reported with their count and keys, never written again: a sweep cannot be told from a loss with certainty, and
    /// writing them again could count them twice.
    /// </summary>
    private void CheckUnfolded(HashSet<long> seen, long covered)
    {
        var now = timeProvider.GetUtcNow();
        var staleAfter = options.Value.FoldStaleAfter;
        var unfolded = log.Unfolded;
        foreach (var found in _suspects.Keys.Where(f => !unfolded.ContainsKey(f) || seen.Contains(f)).ToList())
        {
            _suspects.Remove(found);
        }

        foreach (var (flush, written) in unfolded.Where(f => f.Key <= covered && !seen.Contains(f.Key)).OrderBy(static f => f.Key).ToList())
        {
            if (!_suspects.TryGetValue(flush, out var firstMissed))
            {
                _suspects[flush] = now;
                continue;
            }

            if (now - firstMissed < LostAfterMissedFor)
            {
                continue;
            }

            _suspects.Remove(flush);
            log.Taken(flush);
            var age = now - written.WrittenAt;
            var keys = string.Join(", ", written.Items.Select(static i => i.Key).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Take(20));
            var certain = age < staleAfter / 2;
            if (certain)
            {
                Log.AcceptedRowLost(logger, log.Source, flush, written.Items.Count, age, keys);
            }
            else
            {
                Log.AcceptedRowMissing(logger, log.Source, flush, written.Items.Count, age, staleAfter, keys);
            }

            metrics.AcceptedRowLost(written.Items.Count, certain);
        }
    }

    /// <summary>Adds <paramref name="item"/> to its key's running sums (a new sum when the current one would leave Int64); returns the fold-record characters that may take.</summary>
    private static int Add(Dictionary<string, List<Int128>> sums, AcceptedItem item)
    {
        if (!sums.TryGetValue(item.Key, out var chunks))
        {
            sums.Add(item.Key, [item.Delta]);
            return item.Key.Length + AcceptedRows.FoldLineOverhead;
        }

        var sum = chunks[^1] + item.Delta;
        if (sum > long.MaxValue || sum < long.MinValue)
        {
            // Applied as two adds, in order, each with the counter rules; no add of the fold is refused here.
            chunks.Add(item.Delta);
            return item.Key.Length + AcceptedRows.FoldLineOverhead;
        }

        chunks[^1] = sum;
        return 0;
    }

    private async Task SignalAsync(DurableEntityClient entities, List<(string RowKey, FoldRecord Record)> records, CancellationToken cancellationToken)
    {
        var runs = new List<(string Key, FoldCommand Command)>();
        foreach (var group in records
            .SelectMany(static r => r.Record.Entries.Select(e => (r.Record.Source, Entry: e)))
            .GroupBy(static x => (x.Entry.Key, x.Source)))
        {
            var ordered = group.Select(static x => x.Entry).DistinctBy(static e => e.Sequence).OrderBy(static e => e.Sequence).ToList();
            var start = 0;
            for (var i = 1; i <= ordered.Count; i++)
            {
                if (i == ordered.Count || ordered[i].Sequence != ordered[i - 1].Sequence + 1)
                {
                    var deltas = ordered.Skip(start).Take(i - start).Select(static e => e.Delta).ToArray();
                    runs.Add((group.Key.Key, new FoldCommand(group.Key.Source, ordered[start].Sequence, deltas)));
                    start = i;
                }
            }
        }

        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Value.SignalConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(runs, parallel, (run, ct) => new ValueTask(
            entities.SignalEntityAsync(Counter.IdOf(run.Key), CounterOperations.Fold, run.Command, options: null, cancellation: ct))).ConfigureAwait(false);
        metrics.FoldSignalsSent(runs.Count);
    }

    private T? TryRead<T>(TableEntity row, Func<TableEntity, T> read)
        where T : class
    {
        try
        {
            return read(row);
        }
        catch (InvalidDataException ex)
        {
            // Not a row FuncMap wrote: left where it is, for a person to look at.
            Log.AcceptedRowUnreadable(logger, row.PartitionKey, row.RowKey, ex.Message);
            return null;
        }
    }

    private void RenewSequenceSourceIfOld()
    {
        if (timeProvider.GetUtcNow() - _sequenceSourceStarted >= SourceLifetime)
        {
            StartSequenceSource();
        }
    }

    private void StartSequenceSource()
    {
        _sequenceSourceStarted = timeProvider.GetUtcNow();
        _sequenceSource = SourceSequences.NewSourceId(_sequenceSourceStarted);
        _lastSequence = new Dictionary<string, long>(StringComparer.Ordinal);
    }
}
