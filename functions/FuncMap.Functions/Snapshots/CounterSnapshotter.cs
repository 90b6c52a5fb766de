using System.Net;
using Azure;
using Azure.Data.Tables;
using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using Microsoft.DurableTask.Client.Entities;
using Microsoft.DurableTask.Entities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Snapshots;

/// <summary>What one snapshot run did.</summary>
/// <param name="Since">The lower bound of the entity query (null: everything).</param>
/// <param name="Upserted">Rows written.</param>
/// <param name="Deleted">Rows of deleted counters removed.</param>
/// <param name="PurgesScheduled">Tombstone purges signalled.</param>
public sealed record SnapshotResult(DateTimeOffset? Since, int Upserted, int Deleted, int PurgesScheduled);

/// <summary>
/// Writes counters that changed since the last run to the <c>Counters</c> table, the same rows the
/// local host writes and loads: PartitionKey = <see cref="CounterPartition.KeyOf"/> of the key,
/// RowKey = key, Value, Version, UpdatedAt, OperationIds. Changed live counters are upserted in entity-group
/// transactions of at most 100 rows of one partition; deleted counters (tombstones) have their rows
/// deleted, and then a purge of the tombstone is scheduled for after the retention.
/// </summary>
/// <remarks>
/// "Changed since the last run" is <see cref="EntityQuery.LastModifiedFrom"/> = the previous run's
/// start minus <see cref="FuncMapFunctionsOptions.SnapshotOverlap"/>; rewriting a row twice is
/// harmless, missing one is not. The cursor moves only when everything succeeded: a failed run
/// throws, and the next run starts from the same place.
/// </remarks>
public sealed class CounterSnapshotter(
    TableServiceClient tables,
    TimeProvider timeProvider,
    IOptions<FuncMapFunctionsOptions> options,
    FunctionsMetrics metrics,
    ILogger<CounterSnapshotter> logger)
{
    /// <summary>The snapshot table.</summary>
    public const string TableName = "Counters";

    /// <summary>The most actions of one entity-group transaction.</summary>
    public const int MaxTransactionActions = 100;

    /// <summary>Entities read per query page.</summary>
    public const int QueryPageSize = 1000;

    /// <summary>Runs one snapshot.</summary>
    public async Task<SnapshotResult> RunAsync(DurableEntityClient entities, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entities);
        var settings = options.Value;
        var startedAt = timeProvider.GetUtcNow();
        var cursor = await entities.GetEntityAsync<SnapshotCursorState>(SnapshotCursor.Id, includeState: true, cancellationToken);
        DateTimeOffset? since = cursor is { IncludesState: true, State.LastRunStartedAt: { } last } ? last - settings.SnapshotOverlap : null;

        var table = tables.GetTableClient(TableName);
        await table.CreateIfNotExistsAsync(cancellationToken);

        var pending = new Dictionary<string, Dictionary<string, TableEntity>>(StringComparer.Ordinal);
        var tombstones = new List<(string Key, CounterState State)>();
        var upserted = 0;
        var query = new EntityQuery
        {
            InstanceIdStartsWith = Counter.InstanceIdPrefix,
            LastModifiedFrom = since,
            IncludeState = true,
            PageSize = QueryPageSize,
        };

        await foreach (var entity in entities.GetAllEntitiesAsync<CounterState>(query).WithCancellation(cancellationToken))
        {
            if (!entity.IncludesState)
            {
                continue;
            }

            var key = entity.Id.Key;
            if (!entity.State.Exists)
            {
                tombstones.Add((key, entity.State));
                continue;
            }

            var partition = CounterPartition.KeyOf(key);
            if (!pending.TryGetValue(partition, out var rows))
            {
                rows = new Dictionary<string, TableEntity>(StringComparer.Ordinal);
                pending.Add(partition, rows);
            }

            rows[key] = ToRow(partition, key, entity.State);
            if (rows.Count == MaxTransactionActions)
            {
                upserted += await UpsertAsync(table, rows.Values, cancellationToken);
                rows.Clear();
            }
        }

        foreach (var rows in pending.Values.Where(r => r.Count > 0))
        {
            upserted += await UpsertAsync(table, rows.Values, cancellationToken);
        }

        var purges = 0;
        foreach (var (key, state) in tombstones)
        {
            await DeleteRowAsync(table, key, cancellationToken);
            var purgeAt = state.UpdatedAt + settings.TombstoneRetention;
            var signal = purgeAt > startedAt ? new SignalEntityOptions { SignalTime = purgeAt } : null;
            await entities.SignalEntityAsync(Counter.IdOf(key), CounterOperations.Purge, state.Version, signal, cancellationToken);
            purges++;
        }

        await entities.SignalEntityAsync(SnapshotCursor.Id, nameof(SnapshotCursor.Advance), startedAt, options: null, cancellation: cancellationToken);
        metrics.SnapshotRowsWritten(upserted, tombstones.Count);
        Log.SnapshotCompleted(logger, since, upserted, tombstones.Count, purges);
        return new SnapshotResult(since, upserted, tombstones.Count, purges);
    }

    /// <summary>
    /// The table row of a live counter, column for column the local host's: Value, Version, UpdatedAt and,
    /// when the counter has any, OperationIds (its recent operation ids, newline-separated; ids are printable
    /// ASCII, so a newline never occurs in one), so that a local host loading this table keeps deduplicating.
    /// </summary>
    internal static TableEntity ToRow(string partition, string key, CounterState state)
    {
        var row = new TableEntity(partition, key)
        {
            ["Value"] = state.Value,
            ["Version"] = state.Version,
            ["UpdatedAt"] = state.UpdatedAt,
        };
        if (state.RecentOperationIds is { Length: > 0 } ids)
        {
            row["OperationIds"] = string.Join('\n', ids);
        }

        return row;
    }

    /// <summary>Deletes a deleted counter's row; a row that is already gone (an earlier run, or never written) is done.</summary>
    private static async Task DeleteRowAsync(TableClient table, string key, CancellationToken cancellationToken)
    {
        try
        {
            await table.DeleteEntityAsync(CounterPartition.KeyOf(key), key, ETag.All, cancellationToken);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            // Nothing to delete.
        }
    }

    private static async Task<int> UpsertAsync(TableClient table, IEnumerable<TableEntity> rows, CancellationToken cancellationToken)
    {
        var actions = rows.Select(r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, r)).ToList();
        await table.SubmitTransactionAsync(actions, cancellationToken);
        return actions.Count;
    }
}
