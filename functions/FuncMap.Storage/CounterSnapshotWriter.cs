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
/// </summary>
public sealed class CounterSnapshotWriter
{
    private readonly TableClient _table;
    private readonly int _parallelism;

    /// <summary>A writer of <paramref name="table"/>, <paramref name="parallelism"/> partitions at once.</summary>
    public CounterSnapshotWriter(TableClient table, int parallelism)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        _table = table;
        _parallelism = parallelism;
    }

    /// <summary>
    /// Writes every row (a key given twice: the last wins). Throws the first failure as
    /// <see cref="CounterRowWriteException"/>; transactions already committed stay (they are idempotent).
    /// </summary>
    public async Task<SnapshotWriteResult> WriteAsync(IEnumerable<CounterRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
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
            foreach (var chunk in actions.Values.Chunk(CounterRows.MaxTransactionActions))
            {
                await SubmitAsync([.. chunk], ct).ConfigureAwait(false);
                Interlocked.Increment(ref transactions);
            }
        }).ConfigureAwait(false);
        return new SnapshotWriteResult(upserted, deleted, transactions);
    }

    private async Task SubmitAsync(List<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        while (actions.Count > 0)
        {
            try
            {
                await _table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (TableTransactionFailedException ex) when (ex.FailedTransactionActionIndex is { } index && index < actions.Count
                && actions[index].ActionType == TableTransactionActionType.Delete && ex.ErrorCode == TableErrorCode.ResourceNotFound)
            {
                // The row of a deleted counter is already gone (an earlier run, or never written): done.
                actions.RemoveAt(index);
            }
            catch (RequestFailedException ex) when (ex is not CounterRowWriteException)
            {
                var failed = ex is TableTransactionFailedException { FailedTransactionActionIndex: { } i } && i < actions.Count ? actions[i].Entity : actions[0].Entity;
                throw new CounterRowWriteException(_table.Name, failed.PartitionKey, failed.RowKey, actions.Count, ex);
            }
        }
    }
}
