using FuncMap.Counters;
using FuncMap.Engine;
using FuncMap.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace FuncMap.Local;

/// <summary>
/// The <c>/api/counters</c> routes on the in-process engine. Every input is parsed by the shared
/// <see cref="CounterRequests"/> helpers (the Functions app's triggers use the same), so both hosts
/// answer alike. Writes without <c>?wait=true</c> are accepted (202); with it, they answer after the
/// owner applied them.
/// </summary>
public static class CounterEndpoints
{
    private static readonly string[] ReadMethods = [HttpMethods.Get, HttpMethods.Head];

    /// <summary>Maps the counter API under <c>/api/counters</c>.</summary>
    public static RouteGroupBuilder MapCounters(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup("/api/counters")
            .AddEndpointFilter<CounterApiFilter>();

        // Names are the OpenAPI document's operationIds (FuncMap.Http/OpenApi/funcmap-v1.json), which documents them.
        api.MapPost("/{key}/add", AddAsync).WithName("AddToCounter");
        api.MapPost("/{key}/reset", ResetAsync).WithName("ResetCounter");
        api.MapDelete("/{key}", DeleteAsync).WithName("DeleteCounter");
        // Every GET route serves HEAD too (RFC 9110 §9.1): the same status and headers, no body (the server drops it).
        api.MapMethods("/{key}", ReadMethods, Get).WithName("GetCounter");
        api.MapMethods("/", ReadMethods, List).WithName("ListCounters");
        api.MapPost("/batch", ApplyBatchAsync).WithName("ApplyBatch");
        return api;
    }

    private static async Task<Results<Accepted, Ok<CounterResponse>, ProblemHttpResult>> AddAsync(
        string key, HttpRequest request, CounterEngine engine, IOptions<FuncMapHttpOptions> http, CancellationToken cancellationToken)
    {
        if (CounterRequests.ReadWrite(request, key, out var write) is { } invalid)
        {
            return invalid;
        }

        var (delta, problem) = await CounterRequests.ReadAddAsync(request, http.Value.MaxBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        return await WriteAsync(request, engine, write, CounterOperation.Add(delta, write.OperationId), cancellationToken);
    }

    private static async Task<Results<Accepted, Ok<CounterResponse>, ProblemHttpResult>> ResetAsync(
        string key, HttpRequest request, CounterEngine engine, CancellationToken cancellationToken)
    {
        if (CounterRequests.ReadWrite(request, key, out var write) is { } invalid)
        {
            return invalid;
        }

        return await WriteAsync(request, engine, write, CounterOperation.Reset(write.OperationId), cancellationToken);
    }

    private static async Task<Results<Accepted, NoContent, ProblemHttpResult>> DeleteAsync(
        string key, HttpRequest request, CounterEngine engine, CancellationToken cancellationToken)
    {
        if (CounterRequests.ReadWrite(request, key, out var write) is { } invalid)
        {
            return invalid;
        }

        var operation = CounterOperation.Delete(write.OperationId);
        if (!write.Wait)
        {
            var accepted = await engine.AcceptAsync(write.Key, operation, cancellationToken);
            return Verdict(request, write, accepted) is { } refusedAccept ? refusedAccept : TypedResults.Accepted(Location(write.Key));
        }

        var result = await engine.ExecuteAsync(write.Key, operation, cancellationToken);
        if (Verdict(request, write, result) is { } refused)
        {
            return refused;
        }

        return result.Status == OperationStatus.NotFound
            ? CounterProblems.CounterNotFound(write.Key)
            : TypedResults.NoContent();
    }

    private static Results<Ok<CounterResponse>, ProblemHttpResult> Get(string key, CounterEngine engine)
    {
        if (CounterRequests.ValidateKey(key) is { } invalid)
        {
            return invalid;
        }

        return engine.TryGet(key, out var counter)
            ? TypedResults.Ok(CounterResponse.From(counter))
            : CounterProblems.CounterNotFound(key);
    }

    private static Results<Ok<CounterListResponse>, ProblemHttpResult> List(HttpRequest request, CounterEngine engine)
    {
        if (CounterRequests.ReadList(request, out var list) is { } invalid)
        {
            return invalid;
        }

        var page = engine.List(list.Prefix, list.PageSize, list.AfterKey);
        var items = new CounterResponse[page.Items.Count];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = CounterResponse.From(page.Items[i]);
        }

        var token = page.ContinuationKey is null ? null : ContinuationToken.Encode(page.ContinuationKey);
        return TypedResults.Ok(new CounterListResponse(items, token));
    }

    private static async Task<Results<Accepted<BatchAcceptedResponse>, ProblemHttpResult>> ApplyBatchAsync(
        HttpRequest request, CounterEngine engine, IOptions<FuncMapHttpOptions> http, CancellationToken cancellationToken)
    {
        var (batch, problem) = await CounterRequests.ReadBatchAsync(request, http.Value.MaxBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        // Waits for every owner: the answer can then say which keys overflowed. The batch id is every
        // key's operation id, so re-posting the batch (after a 503, say) counts it once.
        var result = await engine.ApplyBatchAsync(batch!, cancellationToken);
        if (result.Applied == 0 && result.Duplicates > 0)
        {
            CounterRequests.MarkReplayed(request.HttpContext.Response);
        }

        return TypedResults.Accepted((string?)null, new BatchAcceptedResponse(batch!.BatchId, batch.ItemCount, batch.Deltas.Count,
            result.OverflowedKeys.Count == 0 ? null : result.OverflowedKeys,
            result.MismatchedKeys.Count == 0 ? null : result.MismatchedKeys));
    }

    private static async Task<Results<Accepted, Ok<CounterResponse>, ProblemHttpResult>> WriteAsync(
        HttpRequest request, CounterEngine engine, WriteRequest write, CounterOperation operation, CancellationToken cancellationToken)
    {
        if (!write.Wait)
        {
            // Without an Idempotency-Key the operation id stays null: the owner is in this process, so
            // nothing between the handler and the owner retries, and a made-up id would only fill the
            // dedup window. A client that retries sends an Idempotency-Key; then the owner's verdict
            // (replay or mismatch) is awaited, and given.
            var accepted = await engine.AcceptAsync(write.Key, operation, cancellationToken);
            return Verdict(request, write, accepted) is { } refusedAccept ? refusedAccept : TypedResults.Accepted(Location(write.Key));
        }

        var result = await engine.ExecuteAsync(write.Key, operation, cancellationToken);
        if (Verdict(request, write, result) is { } refused)
        {
            return refused;
        }

        return result.Status switch
        {
            OperationStatus.Applied => TypedResults.Ok(CounterResponse.From(result.Counter)),
            // A repeat (marked replayed above): nothing changed; answer with the counter as it is now.
            OperationStatus.Duplicate when result.Counter.Key is not null => TypedResults.Ok(CounterResponse.From(result.Counter)),
            OperationStatus.Overflow => CounterProblems.Overflow(write.Key, operation.Delta),
            _ => CounterProblems.CounterNotFound(write.Key),
        };
    }

    private static ProblemHttpResult? Verdict(HttpRequest request, WriteRequest write, OperationResult? result) =>
        CounterRequests.IdempotencyVerdict(request.HttpContext.Response, write, result?.Status);

    private static string Location(string key) => "/api/counters/" + key;
}
