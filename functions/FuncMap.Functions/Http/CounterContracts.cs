using FuncMap.Counters;

namespace FuncMap.Functions.Http;

// The JSON shapes of the HTTP contract (DESIGN.md). They mirror the local host's; when the shared
// FuncMap.Http library lands, these give way to its DTOs so both hosts serialize one set of types.

/// <summary>A counter as the API shows it: <c>{key, value, version, updatedAt}</c>.</summary>
public sealed record CounterResponse(string Key, long Value, long Version, DateTimeOffset UpdatedAt)
{
    /// <summary>The response for <paramref name="key"/> in <paramref name="state"/>.</summary>
    public static CounterResponse From(string key, CounterState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        return new(key, state.Value, state.Version, state.UpdatedAt);
    }
}

/// <summary>One page of <c>GET /api/counters</c>; <see cref="ContinuationToken"/> is null on the last page.</summary>
public sealed record CounterPage(IReadOnlyList<CounterResponse> Items, string? ContinuationToken);

/// <summary>The 202 body of a write: which operation id it carries, and for a write that is still running after <c>?wait=true</c>, where to follow it.</summary>
public sealed record WriteAccepted(string Key, string OperationId, string? StatusUri = null);

/// <summary>The 202 body of <c>POST /api/counters/batch</c>.</summary>
public sealed record BatchAccepted(string BatchId, int Items, int Keys);
