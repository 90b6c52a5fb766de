using Azure.Data.Tables;
using FuncMap.Counters;
using FuncMap.Engine;
using FuncMap.Validation;

namespace FuncMap.Storage;

/// <summary>
/// One row of table <c>Counters</c> as both hosts write and read it. <see cref="Exists"/> false means "the counter
/// was deleted": the snapshot writer deletes its row instead of upserting it.
/// </summary>
/// <param name="Key">The counter key (the RowKey).</param>
/// <param name="Value">The counter's value.</param>
/// <param name="Version">The counter's version.</param>
/// <param name="UpdatedAt">When the last operation was applied.</param>
/// <param name="OperationIds">The counter's recent operation ids, oldest first (null or empty: none).</param>
/// <param name="Exists">False for a deleted counter.</param>
/// <param name="Epoch">The single-writer lease epoch the row was written under (0: none, the Functions app or an unfenced writer).</param>
public readonly record struct CounterRow(string Key, long Value, long Version, DateTimeOffset UpdatedAt, IReadOnlyList<string>? OperationIds, bool Exists = true, long Epoch = 0)
{
    /// <summary>The row of a change the local engine collected.</summary>
    public static CounterRow From(CounterChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        return new CounterRow(change.Key, change.Data.Value, change.Data.Version, change.Data.UpdatedAt, change.RecentOperationIds, change.Data.Exists);
    }

    /// <summary>The row of a counter entity's state (the Functions app).</summary>
    public static CounterRow From(string key, CounterState state)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(state);
        return new CounterRow(key, state.Value, state.Version, state.UpdatedAt, state.RecentOperationIds, state.Exists);
    }

    /// <summary>The counter data the engine loads (always existing: deleted counters have no row).</summary>
    public CounterData ToData() => new() { Value = Value, Version = Version, UpdatedAtTicks = UpdatedAt.UtcTicks, Exists = true };
}

/// <summary>
/// The schema of table <c>Counters</c>, written by both hosts and loaded by the local host: PartitionKey =
/// <see cref="CounterPartition.KeyOf"/> of the key, RowKey = key, Value and Version (Int64), UpdatedAt
/// (DateTime), and OperationIds — the recent operation ids, newline-separated (ids are printable ASCII, so a
/// newline never occurs in one), absent when there are none — so deduplication survives journal truncation,
/// restarts, and a move between the hosts; and Epoch (Int64), the lease epoch of the local host that wrote the
/// row, absent for the Functions app's rows (read as 0). Each partition may also hold one fence row
/// (<see cref="CounterFence"/>), which is no counter.
/// </summary>
public static class CounterRows
{
    /// <summary>The table's default name.</summary>
    public const string DefaultTableName = "Counters";

    /// <summary>Int64 value column.</summary>
    public const string Value = "Value";

    /// <summary>Int64 version column.</summary>
    public const string Version = "Version";

    /// <summary>DateTime column: the last applied operation.</summary>
    public const string UpdatedAt = "UpdatedAt";

    /// <summary>String column: the recent operation ids, newline-separated; absent when there are none.</summary>
    public const string OperationIds = "OperationIds";

    /// <summary>Int64 column: the lease epoch of the host that wrote the row; absent when unfenced.</summary>
    public const string Epoch = "Epoch";

    /// <summary>The most actions of one entity group transaction (a service limit).</summary>
    public const int MaxTransactionActions = 100;

    /// <summary>
    /// The filter of PartitionKey range <paramref name="partition"/> (0–63): from <c>Name(partition)</c> (none below for 0)
    /// to before <c>Name(partition + 1)</c> (none above for 63). The 64 ranges cover every possible PartitionKey exactly
    /// once, so a row outside the 64 names ("", "1", "000", "64", "x") is read too, by the range it sorts into, and found
    /// foreign (<see cref="CheckServable"/>); readers of the whole table (the local host's restore, the Functions app's
    /// import) need no extra query.
    /// </summary>
    public static string PartitionRangeFilter(int partition)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, CounterPartition.Count);
        if (partition == 0)
        {
            return TableClient.CreateQueryFilter($"PartitionKey lt {CounterPartition.Name(1)}");
        }

        var lower = CounterPartition.Name(partition);
        return partition == CounterPartition.Count - 1
            ? TableClient.CreateQueryFilter($"PartitionKey ge {lower}")
            : TableClient.CreateQueryFilter($"PartitionKey ge {lower} and PartitionKey lt {CounterPartition.Name(partition + 1)}");
    }

    /// <summary>The entity of a live counter's row.</summary>
    public static TableEntity ToEntity(in CounterRow row)
    {
        var entity = new TableEntity(CounterPartition.KeyOf(row.Key), row.Key)
        {
            [Value] = row.Value,
            [Version] = row.Version,
            [UpdatedAt] = row.UpdatedAt,
        };
        if (row.OperationIds is { Count: > 0 } ids)
        {
            entity[OperationIds] = string.Join('\n', ids);
        }

        if (row.Epoch > 0)
        {
            entity[Epoch] = row.Epoch;
        }

        return entity;
    }

    /// <summary>
    /// Why the service cannot serve the row's counter, or null when it can: its RowKey breaks the key rule
    /// (<see cref="CounterKey"/>: a row written by another tool, or a key a newer rule refuses, such as <c>.</c>), so
    /// no route could read, write or delete it and a list page ending on it would hand out a continuation token the
    /// API refuses; or its PartitionKey is not the one FuncMap gives that key (<c>row.partition</c>), so a snapshot
    /// would never update or delete it. Readers skip such rows (and name them), never load or delete them.
    /// </summary>
    public static ValidationError? CheckServable(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        if (CounterKey.Validate(entity.RowKey, "RowKey") is { } keyError)
        {
            return keyError;
        }

        var expected = CounterPartition.KeyOf(entity.RowKey);
        return string.Equals(entity.PartitionKey, expected, StringComparison.Ordinal)
            ? null
            : new ValidationError("PartitionKey", "row.partition", $"The key's PartitionKey is \"{expected}\", not \"{entity.PartitionKey}\": FuncMap never writes the row there.");
    }

    /// <summary>
    /// Reads a row back as the counter it holds, exactly or not at all. Refused with <see cref="InvalidDataException"/>
    /// (naming the row, the column and the type found): Value or Version missing or not an integer (an Edm.Double
    /// such as 5.0 is refused too: a double cannot hold every Int64, so the row's state is not known exactly),
    /// UpdatedAt missing or not a date, OperationIds not a string,
    /// Epoch present but not an integer. Int32 values (written by other tools as untyped
    /// JSON numbers) widen to Int64. A reader that gets this must not serve a guess: the local host stops its start.
    /// </summary>
    public static CounterRow FromEntity(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        var ids = entity.TryGetValue(OperationIds, out var idsValue) ? idsValue : null;
        if (ids is not null and not string)
        {
            throw Malformed(entity, OperationIds, "is not a string");
        }

        return new CounterRow(
            entity.RowKey,
            Int64(entity, Value),
            Int64(entity, Version),
            entity.TryGetValue(UpdatedAt, out var at) ? at switch
            {
                DateTimeOffset offset => offset,
                DateTime time => new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)),
                _ => throw Malformed(entity, UpdatedAt, "is not a date"),
            } : throw Malformed(entity, UpdatedAt, "is missing"),
            string.IsNullOrEmpty((string?)ids) ? null : ((string)ids).Split('\n'),
            Exists: true,
            Epoch: entity.ContainsKey(Epoch) ? Int64(entity, Epoch) : 0);
    }

    private static long Int64(TableEntity entity, string column) =>
        !entity.TryGetValue(column, out var value) ? throw Malformed(entity, column, "is missing") : value switch
        {
            long l => l,
            int i => i,
            _ => throw Malformed(entity, column, $"is {TypeName(value)}, not Int64 (Edm.Int64), so it cannot be read exactly"),
        };

    private static string TypeName(object? value) => value switch
    {
        null => "null",
        double => "Double (Edm.Double)",
        string => "String (Edm.String)",
        _ => value.GetType().Name,
    };

    private static InvalidDataException Malformed(TableEntity entity, string column, string problem) =>
        new($"Counters row ({entity.PartitionKey}, {entity.RowKey}): column {column} {problem}; the table holds rows FuncMap did not write.");
}
