using System.Net;
using Azure;
using Azure.Data.Tables;
using FuncMap.Counters;
using FuncMap.Storage;

namespace FuncMap.Functions.Snapshots;

/// <summary>What one <see cref="NewerRowGuard.WriteAsync"/> did.</summary>
/// <param name="Upserted">Rows of live counters written.</param>
/// <param name="Deleted">Rows of deleted counters removed (or found already gone).</param>
/// <param name="Kept">Rows left as they were: their stored version is at least the entity's (or unreadable), so they hold state the app has not seen.</param>
public readonly record struct GuardedWriteResult(int Upserted, int Deleted, int Kept);

/// <summary>
/// The snapshot's writer while no import of the table has completed (<see cref="SnapshotCursorState.ImportedAt"/>):
/// the table may hold rows another writer made (a local host's final snapshot, an older deployment's rows) that the
/// entities have never seen, and a snapshot must never destroy them. Per partition, in chunks of at most
/// <see cref="CounterRows.MaxTransactionActions"/> keys taken in key order, it reads the chunk's stored rows with one
/// range query (<see cref="ReadStoredAsync"/>), then writes in one entity group transaction only what is older than
/// the entity's state, each action conditional on the ETag it read:
/// a live counter's row is added when missing (<c>Add</c> fails if one appeared) or replaced when its stored version
/// is lower (<c>UpdateReplace</c> with the row's ETag); a deleted counter's row is deleted only when its stored
/// version is lower than the tombstone's (<c>Delete</c> with the row's ETag), so a tombstone the app made for a key it
/// never wrote (version 0: a 404 to a reset or delete) removes nothing. A row whose stored version is equal or higher,
/// or that the shared row schema cannot read exactly, is kept. When another writer changed a row between the read
/// and the transaction (the service answers 409 or 412, or 404 for a row deleted meanwhile), the chunk is read and
/// decided again.
/// </summary>
/// <remarks>
/// Table storage has no "replace if column &lt; x": the ETag of a row just read is its only condition
/// (<see cref="TableTransactionActionType.UpdateReplace"/> and <see cref="TableTransactionActionType.Delete"/>
/// take it; <see cref="TableTransactionActionType.Add"/> is "only if absent"). The cost is paid only until an import
/// completes: one range query per chunk of up to 100 changed keys (a page per up to 1,000 stored rows between its first
/// and last key), and never more than one request over a point read per changed key (<see cref="ReadStoredAsync"/>).
/// </remarks>
public sealed class NewerRowGuard
{
    /// <summary>The most rows one page of a chunk's range query returns (the service's own maximum).</summary>
    internal const int RangePageSize = 1000;

    private readonly TableClient _table;
    private readonly int _parallelism;

    /// <summary>A guard writing <paramref name="table"/>, <paramref name="parallelism"/> partitions at once.</summary>
    public NewerRowGuard(TableClient table, int parallelism)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        _table = table;
        _parallelism = parallelism;
    }

    /// <summary>
    /// Writes the rows that are newer than what the table holds (a key given twice: the last wins). Throws the first
    /// failure that is not a changed precondition as <see cref="CounterRowWriteException"/>; chunks already committed stay.
    /// </summary>
    public async Task<GuardedWriteResult> WriteAsync(IEnumerable<CounterRow> rows, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var partitions = new Dictionary<string, Dictionary<string, CounterRow>>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            var partitionKey = CounterPartition.KeyOf(row.Key);
            if (!partitions.TryGetValue(partitionKey, out var keys))
            {
                partitions[partitionKey] = keys = new Dictionary<string, CounterRow>(StringComparer.Ordinal);
            }

            keys[row.Key] = row;
        }

        int upserted = 0, deleted = 0, kept = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = _parallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(partitions, options, async (partition, ct) =>
        {
            // In key order, so that each chunk's keys are one narrow RowKey range of the partition.
            var ordered = partition.Value.Values.OrderBy(static row => row.Key, StringComparer.Ordinal);
            foreach (var chunk in ordered.Chunk(CounterRows.MaxTransactionActions))
            {
                var written = await WriteChunkAsync(partition.Key, chunk, ct).ConfigureAwait(false);
                Interlocked.Add(ref upserted, written.Upserted);
                Interlocked.Add(ref deleted, written.Deleted);
                Interlocked.Add(ref kept, written.Kept);
            }
        }).ConfigureAwait(false);
        return new GuardedWriteResult(upserted, deleted, kept);
    }

    private async Task<GuardedWriteResult> WriteChunkAsync(string partitionKey, CounterRow[] chunk, CancellationToken cancellationToken)
    {
        while (true)
        {
            var stored = await ReadStoredAsync(partitionKey, chunk, cancellationToken).ConfigureAwait(false);
            var actions = new List<TableTransactionAction>(chunk.Length);
            int upserted = 0, deleted = 0, kept = 0;
            for (var i = 0; i < chunk.Length; i++)
            {
                var row = chunk[i];
                var current = stored.GetValueOrDefault(row.Key);
                switch (Decide(row, current))
                {
                    case RowDecision.Add:
                        actions.Add(new TableTransactionAction(TableTransactionActionType.Add, CounterRows.ToEntity(row)));
                        upserted++;
                        break;
                    case RowDecision.Replace:
                        actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, CounterRows.ToEntity(row), current!.ETag));
                        upserted++;
                        break;
                    case RowDecision.Delete:
                        actions.Add(new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partitionKey, row.Key), current!.ETag));
                        deleted++;
                        break;
                    case RowDecision.Keep:
                        kept++;
                        break;
                    default:
                        // A deleted counter whose row is already gone: done, as the unguarded writer counts it.
                        deleted++;
                        break;
                }
            }

            if (actions.Count == 0)
            {
                return new GuardedWriteResult(0, deleted, kept);
            }

            try
            {
                await _table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
                return new GuardedWriteResult(upserted, deleted, kept);
            }
            catch (TableTransactionFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // A row changed between the read and the transaction (nothing of it was written): read and decide again.
            }
            catch (RequestFailedException ex)
            {
                var failed = ex is TableTransactionFailedException { FailedTransactionActionIndex: { } index } && index < actions.Count ? actions[index].Entity : actions[0].Entity;
                throw new CounterRowWriteException(_table.Name, failed.PartitionKey, failed.RowKey, actions.Count, ex);
            }
        }
    }

    /// <summary>
    /// The stored rows of <paramref name="chunk"/>'s keys (sorted, ordinal: the service's RowKey order for the key
    /// charset), by key; a key without a row is absent. One range query from the chunk's first key to its last, page by
    /// page, skipping the range's rows that are not the chunk's. A page that reaches none of the chunk's keys not yet
    /// reached (the partition holds many rows between them) ends the query, and those keys are read one by one, in
    /// parallel: every page but the last decided at least one key, so a chunk never costs more than one request over
    /// a point read per key.
    /// </summary>
    internal async Task<Dictionary<string, TableEntity>> ReadStoredAsync(string partitionKey, CounterRow[] chunk, CancellationToken cancellationToken)
    {
        var stored = new Dictionary<string, TableEntity>(chunk.Length, StringComparer.Ordinal);
        var keys = chunk.Select(static row => row.Key).ToHashSet(StringComparer.Ordinal);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partitionKey} and RowKey ge {chunk[0].Key} and RowKey le {chunk[^1].Key}");
        var reached = 0; // the chunk's keys before this index are at or below the last row read: decided
        await foreach (var page in _table.QueryAsync<TableEntity>(filter, maxPerPage: RangePageSize, cancellationToken: cancellationToken).AsPages().ConfigureAwait(false))
        {
            foreach (var entity in page.Values)
            {
                if (keys.Contains(entity.RowKey))
                {
                    stored[entity.RowKey] = entity;
                }
            }

            if (page.ContinuationToken is null)
            {
                return stored;
            }

            var before = reached;
            if (page.Values.Count > 0)
            {
                var last = page.Values[^1].RowKey;
                while (reached < chunk.Length && string.CompareOrdinal(chunk[reached].Key, last) <= 0)
                {
                    reached++;
                }
            }

            if (reached == before || reached == chunk.Length)
            {
                break;
            }
        }

        var rest = chunk[reached..];
        var read = await Task.WhenAll(rest.Select(row => _table.GetEntityIfExistsAsync<TableEntity>(partitionKey, row.Key, cancellationToken: cancellationToken))).ConfigureAwait(false);
        for (var i = 0; i < rest.Length; i++)
        {
            if (read[i].HasValue)
            {
                stored[rest[i].Key] = read[i].Value!;
            }
        }

        return stored;
    }

    /// <summary>What to do with <paramref name="row"/> (the entity's state) given the row the table holds (null: none).</summary>
    internal static RowDecision Decide(in CounterRow row, TableEntity? current)
    {
        if (current is null)
        {
            return row.Exists ? RowDecision.Add : RowDecision.None;
        }

        long storedVersion;
        try
        {
            storedVersion = CounterRows.FromEntity(current).Version;
        }
        catch (InvalidDataException)
        {
            // Not a row the app can read exactly: not its own, so never its to replace or delete.
            return RowDecision.Keep;
        }

        return storedVersion >= row.Version ? RowDecision.Keep : row.Exists ? RowDecision.Replace : RowDecision.Delete;
    }
}

/// <summary>What <see cref="NewerRowGuard"/> does with one row.</summary>
internal enum RowDecision
{
    /// <summary>Nothing to do: a deleted counter whose row is already gone.</summary>
    None = 0,

    /// <summary>Insert the row (there is none).</summary>
    Add,

    /// <summary>Replace the stored row (it is older), conditional on its ETag.</summary>
    Replace,

    /// <summary>Delete the stored row (it is older than the tombstone), conditional on its ETag.</summary>
    Delete,

    /// <summary>Leave the stored row: it is as new or newer than the entity, or not readable.</summary>
    Keep,
}
