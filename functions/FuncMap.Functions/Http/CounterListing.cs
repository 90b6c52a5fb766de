using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Http;
using Microsoft.DurableTask.Client.Entities;

namespace FuncMap.Functions.Http;

/// <summary>
/// One page of the counter list from entity queries: instance ids that start with <c>@counter@{prefix}</c>,
/// with state, in key order (the Azure Storage backend returns entities ordered by instance id), tombstones
/// (deleted counters) left out. A page holds <c>pageSize</c> counters whenever that many remain, as on the
/// local host: backend pages are read until it is full, each asking for just the counters still missing.
/// </summary>
/// <remarks>
/// The continuation token is the shared <see cref="ContinuationToken"/>: the page's last key and the backend
/// position to read on from. The last key is also a filter (keys up to it are skipped), so resuming from a
/// position before the last key, which happens when a backend page held more than was asked, repeats nothing.
/// </remarks>
internal static class CounterListing
{
    /// <summary>
    /// How many backend pages one request reads at most (a run of tombstones, or empty pages with a token);
    /// a page cut short by this bound still carries a token, and bounds the work of one request.
    /// </summary>
    public const int MaxBackendPagesPerRequest = 32;

    /// <summary>Reads the page <paramref name="list"/> asks for.</summary>
    public static async Task<CounterListResponse> ReadPageAsync(DurableEntityClient entities, ListRequest list, CancellationToken cancellationToken)
    {
        var items = new List<CounterResponse>(list.PageSize);
        var after = list.AfterKey;
        // A token without a backend position reads from the prefix's start and skips up to its key.
        var position = list.Resume;
        for (var pages = 0; pages < MaxBackendPagesPerRequest || after is null; pages++)
        {
            var query = new EntityQuery
            {
                InstanceIdStartsWith = Counter.InstanceIdPrefix + list.Prefix,
                IncludeState = true,
                PageSize = list.PageSize - items.Count,
                ContinuationToken = position,
            };

            var page = await FirstPageAsync(entities, query, cancellationToken).ConfigureAwait(false);
            if (page is null)
            {
                return new CounterListResponse(items, null);
            }

            for (var i = 0; i < page.Values.Count; i++)
            {
                var entity = page.Values[i];
                var key = entity.Id.Key;
                if (after is not null && string.CompareOrdinal(key, after) <= 0)
                {
                    continue;
                }

                if (entity is { IncludesState: true, State.Exists: true })
                {
                    items.Add(CounterResponse.From(entity.State.ToSnapshot(key)));
                    if (items.Count == list.PageSize)
                    {
                        // Full. If the backend page held more than was asked, the next request reads this page
                        // again from where it began and skips up to the key; else it reads on after the page.
                        var last = i == page.Values.Count - 1;
                        var resume = last ? page.ContinuationToken : position;
                        return new CounterListResponse(items, last && resume is null ? null : ContinuationToken.Encode(key, resume));
                    }
                }
            }

            if (page.ContinuationToken is null)
            {
                return new CounterListResponse(items, null);
            }

            position = page.ContinuationToken;
            if (page.Values.Count > 0)
            {
                after = page.Values[^1].Id.Key;
            }
        }

        // Cut short by the bound: the token continues after the last entity read (a tombstone, maybe).
        return new CounterListResponse(items, ContinuationToken.Encode(after!, position));
    }

    private static async Task<Microsoft.DurableTask.Page<EntityMetadata<CounterState>>?> FirstPageAsync(
        DurableEntityClient entities, EntityQuery query, CancellationToken cancellationToken)
    {
        await foreach (var page in entities.GetAllEntitiesAsync<CounterState>(query).AsPages().WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            return page;
        }

        return null;
    }
}
