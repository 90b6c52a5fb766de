using System.Text.Json.Serialization;
using FuncMap.Counters;

namespace FuncMap.Http;

/// <summary>A counter as the API shows it: <c>{key, value, version, updatedAt}</c>.</summary>
public sealed record CounterResponse(string Key, long Value, long Version, DateTimeOffset UpdatedAt)
{
    /// <summary>The response for <paramref name="counter"/>.</summary>
    public static CounterResponse From(in CounterSnapshot counter) =>
        new(counter.Key, counter.Value, counter.Version, counter.UpdatedAt);
}

/// <summary>
/// The answer to <c>POST /api/counters/batch</c>: the batch id, how many items were sent and how many
/// distinct keys they touched; <see cref="OverflowedKeys"/> lists keys whose add was refused because the
/// result would overflow, <see cref="MismatchedKeys"/> keys on which this batch id was applied before with
/// another delta (refused, <c>idempotency.mismatch</c>); each is absent when empty.
/// </summary>
public sealed record BatchAcceptedResponse(
    string BatchId,
    int Items,
    int Keys,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? OverflowedKeys = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? MismatchedKeys = null);

/// <summary>One page of counters ordered by key; <see cref="ContinuationToken"/> is null on the last page.</summary>
public sealed record CounterListResponse(IReadOnlyList<CounterResponse> Items, string? ContinuationToken);

/// <summary>One broken rule in the <c>errors</c> extension of a 400 ProblemDetails.</summary>
public sealed record ProblemFieldError(string Field, string Rule, string Message);
