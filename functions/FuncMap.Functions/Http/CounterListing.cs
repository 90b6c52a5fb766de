using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Http;
using Microsoft.DurableTask.Client.Entities;

namespace FuncMap.Functions.Http;

/// <summary>
/// One page of the counter list from an entity query: instance ids that start with
/// <c>@counter@{prefix}</c>, with state, tombstones (deleted counters) left out.
/// </summary>
internal static class CounterListing
{
    /// <summary>
    /// How many backend pages one request may read while they hold nothing visible (a page can be
    /// all tombstones, or empty with a token); bounded so a request never scans the whole hub.
    /// </summary>
    public const int MaxBackendPagesPerRequest = 8;

    /// <summary>Reads one page after <paramref name="continuationToken"/>.</summary>
    public static async Task<CounterListResponse> ReadPageAsync(
        DurableEntityClient entities, string prefix, int pageSize, string? continuationToken, CancellationToken cancellationToken)
    {
        var query = new EntityQuery
        {
            InstanceIdStartsWith = Counter.InstanceIdPrefix + prefix,
            IncludeState = true,
            PageSize = pageSize,
            ContinuationToken = continuationToken,
        };

        var items = new List<CounterResponse>();
        string? next = continuationToken;
        var pagesRead = 0;
        await foreach (var page in entities.GetAllEntitiesAsync<CounterState>(query).AsPages().WithCancellation(cancellationToken))
        {
            pagesRead++;
            foreach (var entity in page.Values)
            {
                if (entity is { IncludesState: true, State.Exists: true })
                {
                    items.Add(CounterResponse.From(entity.State.ToSnapshot(entity.Id.Key)));
                }
            }

            next = page.ContinuationToken;
            if (items.Count > 0 || pagesRead >= MaxBackendPagesPerRequest)
            {
                break;
            }
        }

        return new CounterListResponse(items, pagesRead == 0 ? null : next);
    }
}
