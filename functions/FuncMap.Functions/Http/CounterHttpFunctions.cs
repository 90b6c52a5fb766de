using FuncMap.Counters;
using FuncMap.Functions.Batches;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Http;
using FuncMap.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Http;

/// <summary>
/// The HTTP contract of DESIGN.md on Durable Entities, with the shared request parsing and
/// ProblemDetails of FuncMap.Http. Writes signal the key's owner and answer 202 once the signal is
/// stored (durably accepted); <c>?wait=true</c> runs <see cref="CounterWriteOrchestration"/> and
/// answers with the owner's result. Reads return the owner's last persisted state and never wait
/// for it. Every function needs a function key (<c>code</c> or <c>x-functions-key</c>).
/// </summary>
public sealed class CounterHttpFunctions(IOptions<FuncMapFunctionsOptions> options, ILogger<CounterHttpFunctions> logger)
{
    /// <summary>The largest body of an add (<c>{"delta": n}</c> needs a few dozen bytes).</summary>
    public const int MaxAddBodyBytes = 4 * 1024;

    /// <summary><c>POST /api/counters/{key}/add</c>, body <c>{"delta": n}</c> or none (delta 1).</summary>
    [Function("CounterAdd")]
    public async Task<Results<Ok<CounterResponse>, Accepted<WriteAccepted>, ProblemHttpResult>> AddAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "counters/{key}/add")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        if (CounterRequests.ReadWrite(request, key, out var write) is { } invalid)
        {
            return invalid;
        }

        var (delta, bodyProblem) = await CounterRequests.ReadAddAsync(request, MaxAddBodyBytes, cancellationToken);
        if (bodyProblem is not null)
        {
            return bodyProblem;
        }

        var sent = await WriteAsync(request, client, write, CounterOperations.Add, delta, cancellationToken);
        if (sent.Accepted is { } accepted)
        {
            return accepted;
        }

        if (sent.Problem is { } problem)
        {
            return problem;
        }

        var outcome = sent.Outcome!;
        return outcome.Status switch
        {
            OperationStatus.Applied or OperationStatus.Duplicate when outcome.Exists => TypedResults.Ok(ToResponse(key, outcome)),
            OperationStatus.Overflow => CounterProblems.Overflow(key, delta),
            _ => CounterProblems.CounterNotFound(key),
        };
    }

    /// <summary><c>POST /api/counters/{key}/reset</c>: value to 0, version keeps counting.</summary>
    [Function("CounterReset")]
    public async Task<Results<Ok<CounterResponse>, Accepted<WriteAccepted>, ProblemHttpResult>> ResetAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "counters/{key}/reset")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        if (CounterRequests.ReadWrite(request, key, out var write) is { } invalid)
        {
            return invalid;
        }

        var sent = await WriteAsync(request, client, write, CounterOperations.Reset, 0, cancellationToken);
        if (sent.Accepted is { } accepted)
        {
            return accepted;
        }

        if (sent.Problem is { } problem)
        {
            return problem;
        }

        var outcome = sent.Outcome!;
        return outcome.Exists ? TypedResults.Ok(ToResponse(key, outcome)) : CounterProblems.CounterNotFound(key);
    }

    /// <summary><c>DELETE /api/counters/{key}</c>: 202, or with <c>?wait=true</c> 204 once deleted.</summary>
    [Function("CounterDelete")]
    public async Task<Results<NoContent, Accepted<WriteAccepted>, ProblemHttpResult>> DeleteAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "counters/{key}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        if (CounterRequests.ReadWrite(request, key, out var write) is { } invalid)
        {
            return invalid;
        }

        var sent = await WriteAsync(request, client, write, CounterOperations.Delete, 0, cancellationToken);
        if (sent.Accepted is { } accepted)
        {
            return accepted;
        }

        if (sent.Problem is { } problem)
        {
            return problem;
        }

        // A duplicate of the delete that removed the counter answers as the first attempt did.
        var outcome = sent.Outcome!;
        return outcome.Status is OperationStatus.Applied or OperationStatus.Duplicate && !outcome.Exists
            ? TypedResults.NoContent()
            : CounterProblems.CounterNotFound(key);
    }

    /// <summary><c>GET /api/counters/{key}</c>: the owner's last persisted state, or 404.</summary>
    [Function("CounterGet")]
    public static async Task<Results<Ok<CounterResponse>, ProblemHttpResult>> GetAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "counters/{key}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (CounterRequests.ValidateKey(key) is { } invalid)
        {
            return invalid;
        }

        var entity = await client.Entities.GetEntityAsync<CounterState>(Counter.IdOf(key), includeState: true, cancellationToken);
        return entity is { IncludesState: true, State.Exists: true }
            ? TypedResults.Ok(CounterResponse.From(entity.State.ToSnapshot(key)))
            : CounterProblems.CounterNotFound(key);
    }

    /// <summary>
    /// <c>GET /api/counters?prefix=&amp;pageSize=&amp;continuationToken=</c>: one page of counters in key
    /// order (the Azure Storage backend returns entities ordered by instance id). The continuation
    /// token is the backend's own, passed through unchanged.
    /// </summary>
    [Function("CounterList")]
    public static async Task<Results<Ok<CounterListResponse>, ProblemHttpResult>> ListAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "counters")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        if (CounterRequests.ReadListParameters(request, out var list) is { } invalid)
        {
            return invalid;
        }

        // The token is the entity query's own, passed through unchanged; an empty one means none.
        var continuationToken = string.IsNullOrEmpty(list.ContinuationToken) ? null : list.ContinuationToken;
        return TypedResults.Ok(await CounterListing.ReadPageAsync(client.Entities, list.Prefix, list.PageSize, continuationToken, cancellationToken));
    }

    /// <summary><c>POST /api/counters/batch</c>: validate and aggregate with the core library, signal each key with the batch id.</summary>
    [Function("CounterBatch")]
    public async Task<Results<Accepted<BatchAcceptedResponse>, ProblemHttpResult>> BatchAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "counters/batch")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var settings = options.Value;
        var (batch, problem) = await CounterRequests.ReadBatchAsync(request, settings.MaxBatchBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        await BatchSignaler.SignalAsync(client.Entities, batch!, settings.SignalConcurrency, cancellationToken);

        // Overflow against stored values is found by each owner later (counted and logged), so the
        // answer never lists overflowed keys on this host.
        return TypedResults.Accepted((string?)null, new BatchAcceptedResponse(batch!.BatchId, batch.ItemCount, batch.Deltas.Count));
    }

    private static CounterResponse ToResponse(string key, CounterOutcome outcome) =>
        new(key, outcome.Value, outcome.Version, outcome.UpdatedAt);

    /// <summary>
    /// Sends a write. Without <c>wait</c>: signals the owner and answers 202. With <c>wait</c>: runs the
    /// write orchestration and returns the owner's outcome, or 202 with the counter's location and the
    /// operation id (to repeat the request with) when it takes longer than <see cref="FuncMapFunctionsOptions.WaitTimeout"/>.
    /// </summary>
    private async Task<SentWrite> WriteAsync(
        HttpRequest request, DurableTaskClient client, WriteRequest write, string operation, long delta, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);

        // Without an Idempotency-Key the host makes one up, so its own redeliveries never count twice.
        var operationId = write.OperationId ?? OperationId.NewId();
        var key = write.Key;
        if (!write.Wait)
        {
            await client.Entities.SignalEntityAsync(
                Counter.IdOf(key), operation, new CounterCommand(operationId, delta), options: null, cancellation: cancellationToken);
            return new(TypedResults.Accepted(CounterLocation(key), new WriteAccepted(key, operationId)), null, null);
        }

        var writeRequest = new CounterWriteRequest(key, operation, operationId, delta);
        var timeout = options.Value.WaitTimeout;
        var (instance, joined) = await CounterWriteOrchestration.StartOrJoinAsync(client, writeRequest, timeout, cancellationToken);
        if (instance is null)
        {
            var instanceId = CounterWriteOrchestration.InstanceIdFor(writeRequest);
            Log.WaitTimedOut(logger, operation, key, timeout, instanceId);
            // Not Durable's status URL: it carries the task hub's system key. The client reads the counter, or
            // repeats the request with Idempotency-Key = operationId and ?wait=true, which joins this orchestration.
            request.HttpContext.Response.Headers.RetryAfter = "1";
            return new(TypedResults.Accepted(CounterLocation(key), new WriteAccepted(key, operationId)), null, null);
        }

        if (instance.RuntimeStatus != OrchestrationRuntimeStatus.Completed || instance.ReadOutputAs<CounterOutcome>() is not { } outcome)
        {
            Log.WaitFailed(logger, instance.InstanceId, operation, key, instance.RuntimeStatus.ToString());
            return new(null, TypedResults.Problem(CounterProblems.Create(StatusCodes.Status500InternalServerError, "The operation failed.",
                $"The {operation} on counter \"{key}\" did not complete ({instance.RuntimeStatus}); retry with the same {CounterRequests.IdempotencyKeyHeader}.",
                "operation.failed")), null);
        }

        // The operation id decides the rest the same way on both hosts: a repeat is marked replayed (also when this
        // request joined an earlier request's instance), a different request under a used id is refused with 422.
        if (CounterRequests.IdempotencyVerdict(request.HttpContext.Response, write, joined && outcome.Status == OperationStatus.Applied ? OperationStatus.Duplicate : outcome.Status) is { } refused)
        {
            return new(null, refused, null);
        }

        return new(null, null, outcome);
    }

    /// <summary>The counter's own URL, as the local host's 202 answers give it (keys need no escaping: their charset is URL-safe).</summary>
    private static string CounterLocation(string key) => "/api/counters/" + key;

    /// <summary>What a write came to: answered at once (202), refused, or the owner's outcome to turn into an answer.</summary>
    private sealed record SentWrite(Accepted<WriteAccepted>? Accepted, ProblemHttpResult? Problem, CounterOutcome? Outcome);
}
