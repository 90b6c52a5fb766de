using System.Diagnostics;
using Azure.Data.Tables;
using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Storage;
using FuncMap.Telemetry;
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
/// <param name="Kept">Rows left as they were because they are as new or newer than their entity (only before an import completed).</param>
/// <param name="Guarded">True when the run wrote through the <see cref="NewerRowGuard"/> (no import of the table has completed).</param>
public sealed record SnapshotResult(DateTimeOffset? Since, int Upserted, int Deleted, int PurgesScheduled, int Kept = 0, bool Guarded = false);

/// <summary>
/// Writes counters that changed since the last run to the <c>Counters</c> table, through the
/// <see cref="CounterSnapshotWriter"/> the local host uses too, so the rows are the same: changed live
/// counters are upserted and deleted counters (tombstones) have their rows deleted, in entity-group
/// transactions of at most 100 rows of one partition, partitions in parallel; then a purge of each
/// tombstone is scheduled for after the retention.
/// </summary>
/// <remarks>
/// "Changed since the last run" is <see cref="EntityQuery.LastModifiedFrom"/> = the previous run's
/// start minus <see cref="FuncMapFunctionsOptions.SnapshotOverlap"/>; rewriting a row twice is
/// harmless, missing one is not. The cursor moves only when everything succeeded: a failed run
/// throws (a <see cref="CounterRowWriteException"/> names the row and the service's error code), and
/// the next run starts from the same place.
/// <para>
/// Until an import of the table into the entities has completed (<see cref="SnapshotCursorState.ImportedAt"/>), the
/// table may hold rows the entities never saw (a local host's, or the app's own from before a lost task hub), and
/// the run writes through the <see cref="NewerRowGuard"/>: a row as new or newer than its entity is kept, never
/// overwritten nor deleted. After the import every row's state is in its entity, and rows are written as they are.
/// </para>
/// </remarks>
public sealed class CounterSnapshotter(
    TableServiceClient tables,
    TimeProvider timeProvider,
    IOptions<FuncMapFunctionsOptions> options,
    FunctionsMetrics metrics,
    ILogger<CounterSnapshotter> logger)
{
    /// <summary>Entities read per query page.</summary>
    public const int QueryPageSize = 1000;

    /// <summary>Rows gathered before they are written, so that a large run holds a bounded number in memory.</summary>
    internal const int WriteChunkRows = 10_000;

    /// <summary>Runs one snapshot.</summary>
    public async Task<SnapshotResult> RunAsync(DurableEntityClient entities, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entities);
        // The local host's snapshot span and instruments (funcmap.storage.snapshot.*), so one dashboard reads both.
        using var span = StorageTelemetry.Source.StartActivity(FuncMapTelemetry.SnapshotSpan);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await RunCoreAsync(entities, cancellationToken);
            var rows = result.Upserted + result.Deleted;
            metrics.Storage.Snapshot(success: true, Stopwatch.GetElapsedTime(started), rows);
            span.Succeeded(FuncMapTelemetry.RowsTag, rows);
            return result;
        }
        catch (Exception ex)
        {
            metrics.Storage.Snapshot(success: false, Stopwatch.GetElapsedTime(started), 0);
            span.Failed(ex);
            throw;
        }
    }

    private async Task<SnapshotResult> RunCoreAsync(DurableEntityClient entities, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var startedAt = timeProvider.GetUtcNow();
        var cursor = await entities.GetEntityAsync<SnapshotCursorState>(SnapshotCursor.Id, includeState: true, cancellationToken);
        DateTimeOffset? since = cursor is { IncludesState: true, State.LastRunStartedAt: { } last } ? last - settings.SnapshotOverlap : null;
        var guarded = cursor is not { IncludesState: true, State.ImportedAt: not null };

        var table = tables.GetTableClient(settings.SnapshotTable);
        await table.CreateIfNotExistsAsync(cancellationToken);
        var writer = new CounterSnapshotWriter(table, settings.SnapshotParallelism);
        var guard = new NewerRowGuard(table, settings.SnapshotParallelism);

        var rows = new List<CounterRow>();
        var tombstones = new List<(string Key, CounterState State)>();
        var upserted = 0;
        var deleted = 0;
        var kept = 0;
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

            rows.Add(CounterRow.From(entity.Id.Key, entity.State));
            if (!entity.State.Exists)
            {
                tombstones.Add((entity.Id.Key, entity.State));
            }

            if (rows.Count == WriteChunkRows)
            {
                (upserted, deleted, kept) = Add((upserted, deleted, kept), await WriteAsync(rows));
                rows.Clear();
            }
        }

        (upserted, deleted, kept) = Add((upserted, deleted, kept), await WriteAsync(rows));

        // Rows first, purges after: a tombstone purged before its row was deleted would leave a row no run deletes.
        var purges = 0;
        foreach (var (key, state) in tombstones)
        {
            var purgeAt = state.UpdatedAt + settings.TombstoneRetention;
            var signal = purgeAt > startedAt ? new SignalEntityOptions { SignalTime = purgeAt } : null;
            await entities.SignalEntityAsync(Counter.IdOf(key), CounterOperations.Purge, state.Version, signal, cancellationToken);
            purges++;
        }

        await entities.SignalEntityAsync(SnapshotCursor.Id, nameof(SnapshotCursor.Advance), startedAt, options: null, cancellation: cancellationToken);
        metrics.SnapshotRowsWritten(upserted, deleted);
        Log.SnapshotCompleted(logger, since, upserted, deleted, purges);
        if (kept > 0)
        {
            Log.SnapshotKeptNewerRows(logger, kept, settings.SnapshotTable);
        }

        return new SnapshotResult(since, upserted, deleted, purges, kept, guarded);

        async Task<GuardedWriteResult> WriteAsync(List<CounterRow> chunk)
        {
            if (guarded)
            {
                return await guard.WriteAsync(chunk, cancellationToken);
            }

            var written = await writer.WriteAsync(chunk, cancellationToken);
            return new GuardedWriteResult(written.Upserted, written.Deleted, 0);
        }
    }

    private static (int Upserted, int Deleted, int Kept) Add((int Upserted, int Deleted, int Kept) total, GuardedWriteResult written) =>
        (total.Upserted + written.Upserted, total.Deleted + written.Deleted, total.Kept + written.Kept);
}
