using FuncMap.Counters;
using FuncMap.Engine;
using FuncMap.Storage;

namespace FuncMap.Local.Storage;

/// <summary>
/// The rows of table <c>Counters</c>: PartitionKey = <see cref="CounterPartition.KeyOf"/>, RowKey = key, Value,
/// Version, UpdatedAt, and OperationIds — the counter's recent operation ids, newline-separated (ids are
/// printable ASCII, so a newline never occurs in one), so deduplication survives journal truncation and restarts.
/// </summary>
public static class CounterRows
{
    /// <summary>Int64 value column.</summary>
    public const string Value = "Value";

    /// <summary>Int64 version column.</summary>
    public const string Version = "Version";

    /// <summary>DateTimeOffset column: the last applied operation.</summary>
    public const string UpdatedAt = "UpdatedAt";

    /// <summary>String column: the recent operation ids, newline-separated; absent when there are none.</summary>
    public const string OperationIds = "OperationIds";

    /// <summary>The most actions of one entity group transaction.</summary>
    public const int MaxTransactionSize = 100;

    /// <summary>The transaction action that makes the table hold <paramref name="change"/>: an upsert, or a delete of a removed counter.</summary>
    public static TableTransactionAction ToAction(CounterChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var partition = CounterPartition.KeyOf(change.Key);
        if (!change.Data.Exists)
        {
            return TableTransactionAction.Delete(partition, change.Key);
        }

        var row = new TableEntity(partition, change.Key)
        {
            [Value] = change.Data.Value,
            [Version] = change.Data.Version,
            [UpdatedAt] = change.Data.UpdatedAt,
        };
        if (change.RecentOperationIds is { Length: > 0 } ids)
        {
            row[OperationIds] = string.Join('\n', ids);
        }

        return TableTransactionAction.Upsert(row);
    }

    /// <summary>Reads a row back as the counter it holds.</summary>
    public static (CounterData Data, string[]? OperationIds) FromRow(TableEntity row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var data = new CounterData
        {
            Value = row.GetInt64(Value) ?? throw Malformed(row, Value),
            Version = row.GetInt64(Version) ?? throw Malformed(row, Version),
            UpdatedAtTicks = (row.GetDateTimeOffset(UpdatedAt) ?? throw Malformed(row, UpdatedAt)).UtcTicks,
            Exists = true,
        };
        var ids = row.GetString(OperationIds);
        return (data, string.IsNullOrEmpty(ids) ? null : ids.Split('\n'));
    }

    private static InvalidDataException Malformed(TableEntity row, string column) =>
        new($"Counters row ({row.PartitionKey}, {row.RowKey}) has no {column}; the table holds rows FuncMap did not write.");
}

/// <summary>Writes counter changes to the table: per partition, in transactions of at most 100 rows; partitions in parallel with a bound.</summary>
public sealed class SnapshotWriter(ITableClient table, int parallelism)
{
    /// <summary>Writes every change; throws the first failure (rows already written stay: they are idempotent upserts).</summary>
    /// <returns>The number of rows upserted or deleted.</returns>
    public async Task<int> WriteAsync(IReadOnlyList<CounterChange> changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (changes.Count == 0)
        {
            return 0;
        }

        var partitions = new Dictionary<string, List<TableTransactionAction>>(StringComparer.Ordinal);
        foreach (var change in changes)
        {
            var action = CounterRows.ToAction(change);
            if (!partitions.TryGetValue(action.Entity.PartitionKey, out var list))
            {
                partitions[action.Entity.PartitionKey] = list = [];
            }

            list.Add(action);
        }

        var options = new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(partitions.Values, options, async (actions, ct) =>
        {
            for (var start = 0; start < actions.Count; start += CounterRows.MaxTransactionSize)
            {
                var chunk = actions.GetRange(start, Math.Min(CounterRows.MaxTransactionSize, actions.Count - start));
                await table.SubmitTransactionAsync(chunk, ct).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
        return changes.Count;
    }
}
