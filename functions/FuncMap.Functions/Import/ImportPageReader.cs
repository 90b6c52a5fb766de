using Azure.Data.Tables;
using FuncMap.Functions.Counters;
using FuncMap.Storage;
using Microsoft.DurableTask.Client.Entities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Import;

/// <summary>
/// The work of one page activity: reads one query page of a partition range of the source table from the page's
/// continuation token, and signals each counter row's entity once with <see cref="CounterOperations.Restore"/>. Rows are
/// judged by the shared row schema, as the local host's restore judges them: fence rows are no counters and are passed
/// over; a row whose key the service cannot serve (<see cref="CounterRows.CheckServable"/>: its rule, such as
/// <c>row.partition</c>) or whose state cannot be read exactly (<see cref="CounterRows.FromEntity"/>:
/// <see cref="MalformedRule"/>), or that holds no version (<see cref="VersionRule"/>), is skipped, logged and counted by
/// rule. Where the local host refuses to start on a malformed row, the import skips it: the entities are not the only
/// copy, the row stays in the table, and the summary names how many there were.
/// </summary>
public sealed class ImportPageReader(IOptions<ImportOptions> options, ILogger<ImportPageReader> logger)
{
    /// <summary>The rule of a row whose state the shared schema cannot read exactly (a missing or non-Int64 column, …).</summary>
    public const string MalformedRule = "row.malformed";

    /// <summary>The rule of a row whose version is below 1: no counter the hosts wrote has one.</summary>
    public const string VersionRule = "row.version";

    /// <summary>Reads the page <paramref name="request"/> names from <paramref name="table"/> and signals its rows' restores through <paramref name="entities"/>.</summary>
    public async Task<ImportPage> ReadAsync(TableClient table, ImportPageRequest request, DurableEntityClient entities, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(entities);
        var settings = options.Value;
        var pages = table.QueryAsync<TableEntity>(CounterRows.PartitionRangeFilter(request.Partition), maxPerPage: settings.PageSize, cancellationToken: cancellationToken)
            .AsPages(request.ContinuationToken, settings.PageSize);
        var enumerator = pages.GetAsyncEnumerator(cancellationToken);
        await using (enumerator.ConfigureAwait(false))
        {
            if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
            {
                return new ImportPage(request.Partition, null, 0, 0, []);
            }

            var page = enumerator.Current;
            var skipped = new Dictionary<string, int>(StringComparer.Ordinal);
            var restores = new List<(string Key, RestoreCommand Command)>(page.Values.Count);
            foreach (var entity in page.Values)
            {
                if (CounterFence.IsFence(entity))
                {
                    continue;
                }

                if (Judge(entity, out var restore) is { } refusal)
                {
                    skipped[refusal.Rule] = skipped.GetValueOrDefault(refusal.Rule) + 1;
                    Log.ImportRowSkipped(logger, entity.PartitionKey, entity.RowKey, refusal.Rule, refusal.Reason, table.Name);
                    continue;
                }

                restores.Add((entity.RowKey, restore!));
            }

            var parallel = new ParallelOptions { MaxDegreeOfParallelism = settings.SignalConcurrency, CancellationToken = cancellationToken };
            await Parallel.ForEachAsync(restores, parallel, async (row, ct) =>
                await entities.SignalEntityAsync(Counter.IdOf(row.Key), CounterOperations.Restore, row.Command, options: null, ct).ConfigureAwait(false)).ConfigureAwait(false);
            // An empty continuation is the end of the range, as a missing one.
            var next = string.IsNullOrEmpty(page.ContinuationToken) ? null : page.ContinuationToken;
            return new ImportPage(request.Partition, next, page.Values.Count, restores.Count, skipped);
        }
    }

    private static (string Rule, string Reason)? Judge(TableEntity entity, out RestoreCommand? restore)
    {
        restore = null;
        if (CounterRows.CheckServable(entity) is { } unservable)
        {
            return (unservable.Rule, unservable.Message);
        }

        CounterRow row;
        try
        {
            row = CounterRows.FromEntity(entity);
        }
        catch (InvalidDataException ex)
        {
            return (MalformedRule, ex.Message);
        }

        if (row.Version < 1)
        {
            return (VersionRule, $"Version {row.Version} is below 1.");
        }

        restore = RestoreCommand.From(row);
        return null;
    }
}
