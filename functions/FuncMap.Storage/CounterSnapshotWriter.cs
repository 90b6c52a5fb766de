using System.Collections.Concurrent;
using System.Net;
using Azure;
using Azure.Data.Tables;
using Azure.Data.Tables.Models;
using FuncMap.Counters;

namespace FuncMap.Storage;

/// <summary>What one <see cref="CounterSnapshotWriter.WriteAsync"/> did.</summary>
/// <param name="Upserted">Rows of live counters written.</param>
/// <param name="Deleted">Rows of deleted counters removed (or found already gone).</param>
/// <param name="Transactions">Entity group transactions submitted successfully.</param>
public readonly record struct SnapshotWriteResult(int Upserted, int Deleted, int Transactions);

/// <summary>
/// A Counters row could not be written: the failed transaction's row (from the service's failed-action index, or
/// the transaction's first row when the whole request failed), with the service's status and error code, so that
/// <see cref="StorageFailures"/> classifies it like any other storage failure.
/// </summary>
public sealed class CounterRowWriteException : RequestFailedException
{
    /// <summary>Wraps <paramref name="failure"/> of a transaction on <paramref name="table"/>, naming the row.</summary>
    public CounterRowWriteException(string table, string partitionKey, string rowKey, int rowsInTransaction, RequestFailedException failure)
        : base(
            (failure ?? throw new ArgumentNullException(nameof(failure))).Status,
            $"Writing row ({partitionKey}, {rowKey}) of table {table} failed: {failure.Status} {failure.ErrorCode ?? "(no error code)"}; " +
            $"none of the {rowsInTransaction} row(s) of its transaction was written. {failure.Message}",
            failure.ErrorCode,
            failure)
    {
        Table = table;
        PartitionKey = partitionKey;
        RowKey = rowKey;
    }

    /// <summary>The table written.</summary>
    public string Table { get; }

    /// <summary>The PartitionKey of the row that failed.</summary>
    public string PartitionKey { get; }

    /// <summary>The RowKey (the counter key) of the row that failed.</summary>
    public string RowKey { get; }
}

/// <summary>
/// Writes counter rows to table <c>Counters</c> for both hosts: grouped by partition into entity group transactions
/// of at most <see cref="CounterRows.MaxTransactionActions"/> rows (upserts of live counters, deletes of deleted
/// ones), <c>parallelism</c> partitions at once, each partition's transactions in order. Every action is idempotent,
/// so a run that failed half-way is simply run again: a delete of a row that is already gone is done (the service
/// fails the whole transaction with ResourceNotFound at that action; it is dropped and the rest resubmitted).
/// <para>
/// Fencing (the local host; the Functions app has no lease and writes unfenced): after <see cref="RaiseFencesAsync"/>,
/// every transaction also updates its partition's <see cref="CounterFence"/> row, conditional on the ETag this writer
/// last saw, and every row carries the epoch. When the fence changed, the writer reads it: a newer epoch throws
/// <see cref="CounterFencedException"/>; its own epoch (a commit whose answer was lost) is taken and the transaction
/// resubmitted. Fenced transactions hold at most 99 rows and the fence.
/// </para>
/// </summary>
public sealed class CounterSnapshotWriter
{
    private readonly TableClient _table;
    private readonly int _parallelism;
    private readonly ConcurrentDictionary<string, ETag> _fences = new(StringComparer.Ordinal);
    private long _epoch;

    /// <summary>A writer of <paramref name="table"/>, <paramref name="parallelism"/> partitions at once.</summary>
    public CounterSnapshotWriter(TableClient table, int parallelism)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        _table = table;
        _parallelism = parallelism;
    }

    /// <summary>The lease epoch the writer fences with (0: unfenced).</summary>
    public long Epoch => Interlocked.Read(ref _epoch);

    /// <summary>
    /// Fences every later write with <paramref name="epoch"/>: raises the fence of all 64 partitions to it (a fence at a
    /// lower epoch is updated, a missing one added), <c>parallelism</c> at a time, before the caller loads the table,
    /// so that an older owner can change no row from then on. Throws <see cref="CounterFencedException"/> when a fence
    /// already holds a newer epoch.
    /// </summary>
    public async Task RaiseFencesAsync(long epoch, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(epoch, 1);
        Interlocked.Exchange(ref _epoch, epoch);
        _fences.Clear();
        var options = new ParallelOptions { MaxDegreeOfParallelism = _parallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(Enumerable.Range(0, CounterPartition.Count), options, async (partition, ct) =>
        {
            var partitionKey = CounterPartition.Name(partition);
            while (true)
            {
                var (current, etag) = await ReadFenceAsync(partitionKey, epoch, ct).ConfigureAwait(false);
                if (current == epoch)
                {
                    _fences[partitionKey] = etag;
                    return;
                }

                try
                {
                    var fence = CounterFence.Create(partitionKey, epoch);
                    var response = etag == default
                        ? await _table.AddEntityAsync(fence, ct).ConfigureAwait(false)
                        : await _table.UpdateEntityAsync(fence, etag, TableUpdateMode.Replace, ct).ConfigureAwait(false);
                    _fences[partitionKey] = response.Headers.ETag ?? throw new InvalidOperationException("The table service answered an entity write without an ETag.");
                    return;
                }
                catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
                {
                    // Another writer changed the fence since it was read: read it again and decide on what is there now.
                }
            }
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes every row (a key given twice: the last wins). Throws the first failure as
    /// <see cref="CounterRowWriteException"/>; transactions already committed stay (they are idempotent).
    /// </summary>
    public async Task<SnapshotWriteResult> WriteAsync(IEnumerable<CounterRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var epoch = Epoch;
        if (epoch > 0)
        {
            rows = rows.Select(row => row with { Epoch = epoch });
        }

        var partitions = new Dictionary<string, Dictionary<string, TableTransactionAction>>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var action = row.Exists
                ? new TableTransactionAction(TableTransactionActionType.UpsertReplace, CounterRows.ToEntity(row))
                : new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(CounterPartition.KeyOf(row.Key), row.Key), ETag.All);
            if (!partitions.TryGetValue(action.Entity.PartitionKey, out var actions))
            {
                partitions[action.Entity.PartitionKey] = actions = new Dictionary<string, TableTransactionAction>(StringComparer.Ordinal);
            }

            actions[row.Key] = action;
        }

        var deleted = partitions.Values.Sum(static p => p.Values.Count(static a => a.ActionType == TableTransactionActionType.Delete));
        var upserted = partitions.Values.Sum(static p => p.Count) - deleted;

        var transactions = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = _parallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(partitions.Values, options, async (actions, ct) =>
        {
            foreach (var chunk in actions.Values.Chunk(epoch > 0 ? CounterRows.MaxTransactionActions - 1 : CounterRows.MaxTransactionActions))
            {
                await SubmitAsync([.. chunk], epoch, ct).ConfigureAwait(false);
                Interlocked.Increment(ref transactions);
            }
        }).ConfigureAwait(false);
        return new SnapshotWriteResult(upserted, deleted, transactions);
    }

    private async Task SubmitAsync(List<TableTransactionAction> actions, long epoch, CancellationToken cancellationToken)
    {
        var partitionKey = actions[0].Entity.PartitionKey;
        var fenced = epoch > 0;
        while (actions.Count > 0)
        {
            if (fenced)
            {
                // The fence goes first: index 0 of a failed transaction is the fence, any other index a row.
                var fence = _fences.TryGetValue(partitionKey, out var etag)
                    ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, CounterFence.Create(partitionKey, epoch), etag)
                    : new TableTransactionAction(TableTransactionActionType.Add, CounterFence.Create(partitionKey, epoch));
                actions.Insert(0, fence);
            }

            try
            {
                var response = await _table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
                if (fenced)
                {
                    _fences[partitionKey] = response.Value[0].Headers.ETag ?? throw new InvalidOperationException("The table service answered a fence update without an ETag.");
                }

                return;
            }
            catch (TableTransactionFailedException ex) when (fenced && ex.FailedTransactionActionIndex == 0
                && ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.Conflict)
            {
                // The fence changed since this writer saw it: a newer owner (refused), or this writer's own commit whose answer was lost.
                var (current, etag) = await ReadFenceAsync(partitionKey, epoch, cancellationToken).ConfigureAwait(false);
                if (etag == default || current < epoch)
                {
                    _fences.TryRemove(partitionKey, out _);
                }
                else
                {
                    _fences[partitionKey] = etag;
                }
            }
            catch (TableTransactionFailedException ex) when (ex.FailedTransactionActionIndex is { } index && index < actions.Count
                && actions[index].ActionType == TableTransactionActionType.Delete && ex.ErrorCode == TableErrorCode.ResourceNotFound)
            {
                // The row of a deleted counter is already gone (an earlier run, or never written): done.
                actions.RemoveAt(index);
            }
            catch (RequestFailedException ex) when (ex is not CounterRowWriteException)
            {
                var failed = ex is TableTransactionFailedException { FailedTransactionActionIndex: { } i } && i < actions.Count ? actions[i].Entity : actions[fenced && actions.Count > 1 ? 1 : 0].Entity;
                throw new CounterRowWriteException(_table.Name, failed.PartitionKey, failed.RowKey, actions.Count, ex);
            }
            finally
            {
                if (fenced)
                {
                    actions.RemoveAt(0);
                }
            }
        }
    }

    /// <summary>The epoch and ETag of a partition's fence (0 and default when there is none); throws when it is newer than <paramref name="epoch"/>.</summary>
    private async Task<(long Epoch, ETag ETag)> ReadFenceAsync(string partitionKey, long epoch, CancellationToken cancellationToken)
    {
        var response = await _table.GetEntityIfExistsAsync<TableEntity>(partitionKey, CounterFence.RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!response.HasValue)
        {
            return (0, default);
        }

        var current = CounterFence.EpochOf(response.Value!);
        return current > epoch
            ? throw new CounterFencedException(_table.Name, partitionKey, epoch, current)
            : (current, response.Value!.ETag);
    }
}
