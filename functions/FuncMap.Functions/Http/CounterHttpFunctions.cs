using FuncMap.Counters;
using FuncMap.Functions.Accepts;
using FuncMap.Functions.Batches;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Http;
using FuncMap.Storage;
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
/// ProblemDetails of FuncMap.Http. A plain add (no <c>Idempotency-Key</c>, no <c>?wait=true</c>) is accepted into
/// table <c>Accepted</c> (<see cref="AcceptLog"/>) and answered 202 once it is stored there; the folder brings it to
/// the key's owner (<see cref="AcceptFolder"/>). Every other write signals the owner and answers 202 once the signal
/// is stored; <c>?wait=true</c> and batches signal with a reply token and answer with the owner's reply
/// (<see cref="CounterReplies"/>). Reads return the owner's last persisted state and
/// never wait for it. Every function needs a function key (<c>code</c> or <c>x-functions-key</c>).
/// </summary>
public sealed class CounterHttpFunctions(
    IOptions<FuncMapFunctionsOptions> options,
    IOptions<FuncMapHttpOptions> http,
    AcceptLog acceptLog,
    AcceptFolder folder,
    EntityClientSource clients,
    TimeProvider timeProvider,
    ILogger<CounterHttpFunctions> logger)
{
    /// <summary><c>POST /api/counters/{key}/add</c>, body <c>{"delta": n}</c> or none (delta 1); <c>{}</c> is 400 <c>delta.required</c>.</summary>
    [Function("CounterAdd")]
    public async Task<Results<Ok<CounterResponse>, Accepted<WriteAccepted>, ProblemHttpResult, ServiceUnavailableResult>> AddAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = CounterRoutes.Add)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        if (CounterRequests.ReadWrite(request, key, out var write) is { } invalid)
        {
            return invalid;
        }

        var (delta, bodyProblem) = await CounterRequests.ReadAddAsync(request, http.Value.MaxBodyBytes, cancellationToken);
        if (bodyProblem is not null)
        {
            return bodyProblem;
        }

        var sent = await WriteAsync(request, client, write, CounterOperations.Add, delta, cancellationToken);
        return Answer<Ok<CounterResponse>>(sent, outcome => outcome.Status switch
        {
            OperationStatus.Applied or OperationStatus.Duplicate when outcome.Exists => TypedResults.Ok(ToResponse(key, outcome)),
            OperationStatus.Overflow => CounterProblems.Overflow(key, delta),
            _ => CounterProblems.CounterNotFound(key),
        });
    }

    /// <summary><c>POST /api/counters/{key}/reset</c>: value to 0, version keeps counting.</summary>
    [Function("CounterReset")]
    public async Task<Results<Ok<CounterResponse>, Accepted<WriteAccepted>, ProblemHttpResult, ServiceUnavailableResult>> ResetAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = CounterRoutes.Reset)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        if (CounterRequests.ReadWrite(request, key, out var write) is { } invalid)
        {
            return invalid;
        }

        var sent = await WriteAsync(request, client, write, CounterOperations.Reset, 0, cancellationToken);
        return Answer<Ok<CounterResponse>>(sent, outcome =>
            outcome.Exists ? TypedResults.Ok(ToResponse(key, outcome)) : CounterProblems.CounterNotFound(key));
    }

    /// <summary><c>DELETE /api/counters/{key}</c>: 202, or with <c>?wait=true</c> 204 once deleted.</summary>
    [Function("CounterDelete")]
    public async Task<Results<NoContent, Accepted<WriteAccepted>, ProblemHttpResult, ServiceUnavailableResult>> DeleteAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = CounterRoutes.Counter)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        if (CounterRequests.ReadWrite(request, key, out var write) is { } invalid)
        {
            return invalid;
        }

        var sent = await WriteAsync(request, client, write, CounterOperations.Delete, 0, cancellationToken);
        // A duplicate of the delete that removed the counter answers as the first attempt did.
        return Answer<NoContent>(sent, outcome =>
            outcome.Status is OperationStatus.Applied or OperationStatus.Duplicate && !outcome.Exists
                ? TypedResults.NoContent()
                : CounterProblems.CounterNotFound(key));
    }

    /// <summary><c>GET /api/counters/{key}</c> (and <c>HEAD</c>, RFC 9110 §9.1: the same answer without its body): the owner's last persisted state, or 404.</summary>
    [Function("CounterGet")]
    public static async Task<Results<Ok<CounterResponse>, ProblemHttpResult>> GetAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", "head", Route = CounterRoutes.Counter)] HttpRequest request,
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
    /// <c>GET /api/counters?prefix=&amp;pageSize=&amp;continuationToken=</c> (and <c>HEAD</c>): one page of counters in key order,
    /// <c>pageSize</c> of them whenever that many remain (<see cref="CounterListing"/>).
    /// </summary>
    [Function("CounterList")]
    public static async Task<Results<Ok<CounterListResponse>, ProblemHttpResult>> ListAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", "head", Route = CounterRoutes.Counters)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        if (CounterRequests.ReadList(request, out var list) is { } invalid)
        {
            return invalid;
        }

        return TypedResults.Ok(await CounterListing.ReadPageAsync(client.Entities, list, cancellationToken));
    }

    /// <summary>
    /// <c>POST /api/counters/batch</c>: validate and aggregate with the core library, signal each key with the batch id,
    /// and answer 202 once every owner replied, naming the keys whose add would overflow, as the local host does.
    /// </summary>
    [Function("CounterBatch")]
    public async Task<Results<Accepted<BatchAcceptedResponse>, ProblemHttpResult, ServiceUnavailableResult>> BatchAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = CounterRoutes.Batch)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var settings = options.Value;
        var (batch, problem) = await CounterRequests.ReadBatchAsync(request, http.Value.MaxBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var outcome = await BatchSignaler.ApplyAsync(client.Entities, batch!, settings.SignalConcurrency, settings.BatchWaitTimeout, timeProvider, cancellationToken);
        if (outcome is null)
        {
            // Every signal is stored and will be applied; only the outcome is unknown. Re-posting the batch
            // (same batchId) counts once and answers with the outcome, as after the local host's timeout.
            Log.BatchWaitTimedOut(logger, batch!.BatchId, batch.Deltas.Count, settings.BatchWaitTimeout);
            return CounterProblems.OwnerTimeout($"Not every owner of batch \"{batch.BatchId}\" answered within {settings.BatchWaitTimeout.TotalSeconds:0.#} s; the batch stands. Post it again with the same batchId to learn its outcome.");
        }

        var overflowed = outcome.OverflowedKeys.Count == 0 ? null : outcome.OverflowedKeys;
        var mismatched = outcome.MismatchedKeys.Count == 0 ? null : outcome.MismatchedKeys;
        return TypedResults.Accepted((string?)null, new BatchAcceptedResponse(batch!.BatchId, batch.ItemCount, batch.Deltas.Count, overflowed, mismatched));
    }

    /// <summary>
    /// The answer to a sent write, the same for add, reset and delete: accepted (202), unavailable (503) or refused (422)
    /// as <see cref="WriteAsync"/> decided, else what <paramref name="fromOutcome"/> makes of the owner's outcome (the
    /// write's own success, <typeparamref name="TDone"/>, or a ProblemDetails).
    /// </summary>
    private static Results<TDone, Accepted<WriteAccepted>, ProblemHttpResult, ServiceUnavailableResult> Answer<TDone>(
        SentWrite sent, Func<CounterOutcome, Results<TDone, ProblemHttpResult>> fromOutcome)
        where TDone : IResult
    {
        if (sent.Accepted is { } accepted)
        {
            return accepted;
        }

        if (sent.Unavailable is { } unavailable)
        {
            return unavailable;
        }

        if (sent.Problem is { } refused)
        {
            return refused;
        }

        return fromOutcome(sent.Outcome!).Result switch
        {
            ProblemHttpResult problem => problem,
            var done => (TDone)done,
        };
    }

    private static CounterResponse ToResponse(string key, CounterOutcome outcome) =>
        new(key, outcome.Value, outcome.Version, outcome.UpdatedAt);

    /// <summary>
    /// Sends a write. Without <c>wait</c>: signals the owner and answers 202. With <c>wait</c>: signals it with a reply
    /// token and returns the owner's outcome, or, when it takes longer than <see cref="FuncMapFunctionsOptions.WaitTimeout"/>,
    /// 503 + <c>Retry-After</c> as the local host's owner timeout, with the operation id to repeat the request with.
    /// </summary>
    private async Task<SentWrite> WriteAsync(
        HttpRequest request, DurableTaskClient client, WriteRequest write, string operation, long delta, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        clients.Offer(client.Entities);
        var key = write.Key;
        if (operation == CounterOperations.Add && !write.Wait && write.OperationId is null)
        {
            try
            {
                await acceptLog.AcceptAsync(key, delta, cancellationToken);
            }
            catch (Exception ex) when (StorageFailures.IsStorage(ex))
            {
                return new(null, CounterProblems.StorageUnavailable(
                    "Storage did not confirm the add: it may or may not count (a write whose answer was lost may have been stored)."), null, null);
            }
            catch (ObjectDisposedException)
            {
                // The worker is stopping: the add was not taken.
                return new(null, CounterProblems.Stopping(), null, null);
            }

            return new(TypedResults.Accepted(CounterLocation(key), new WriteAccepted(key, null)), null, null, null);
        }

        // A write that does not commute with adds (reset, delete) or answers with the value (?wait=true) reaches the owner
        // after the adds of the key this process accepted before it, as on the local host.
        if ((write.Wait || operation != CounterOperations.Add) && !await BarrierAsync(key, cancellationToken))
        {
            return new(null, CounterProblems.OwnerTimeout(
                $"Earlier adds of counter {key} were not folded within {options.Value.WaitTimeout.TotalMilliseconds:0} ms; nothing was sent. Retry the request."), null, null);
        }

        // Without an Idempotency-Key the host makes one up, so its own redeliveries never count twice.
        var operationId = write.OperationId ?? OperationId.NewId();
        var replyTo = write.Wait ? CounterReplies.NewReplyTo() : null;
        var command = new CounterCommand(operationId, delta, replyTo);
        await client.Entities.SignalEntityAsync(Counter.IdOf(key), operation, command, options: null, cancellation: cancellationToken);
        if (replyTo is null)
        {
            return new(TypedResults.Accepted(CounterLocation(key), new WriteAccepted(key, operationId)), null, null, null);
        }

        var timeout = options.Value.WaitTimeout;
        var outcome = await CounterReplies.WaitAsync(client.Entities, key, CounterOperations.ToOperation(operation, command), replyTo, timeout, timeProvider, cancellationToken);
        if (outcome is null)
        {
            Log.WaitTimedOut(logger, operation, key, timeout, operationId);
            // The signal is stored and will be applied. The client repeats the request with Idempotency-Key = operationId
            // (given in the problem): the owner recognises the id and answers with the counter; nothing counts twice.
            var unavailable = CounterProblems.OwnerTimeout(
                $"The counter's owner did not answer within {timeout.TotalMilliseconds:0} ms; the operation may still be applied. Retry with {CounterRequests.IdempotencyKeyHeader}: {operationId}.");
            unavailable.Value.Extensions["operationId"] = operationId;
            return new(null, unavailable, null, null);
        }

        // The operation id decides the rest the same way on both hosts: a repeat (the owner answered Duplicate) is
        // marked replayed, a different request under a used id (Mismatch) is refused with 422.
        if (CounterRequests.IdempotencyVerdict(request.HttpContext.Response, write, outcome.Status) is { } refused)
        {
            return new(null, null, refused, null);
        }

        return new(null, null, null, outcome);
    }

    /// <summary>Waits for <see cref="AcceptFolder.BarrierAsync"/> up to <see cref="FuncMapFunctionsOptions.WaitTimeout"/>; false when it took longer.</summary>
    private async Task<bool> BarrierAsync(string key, CancellationToken cancellationToken)
    {
        var barrier = folder.BarrierAsync(key, cancellationToken);
        if (barrier.IsCompleted)
        {
            await barrier;
            return true;
        }

        try
        {
            await barrier.WaitAsync(options.Value.WaitTimeout, timeProvider, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            Log.BarrierTimedOut(logger, key, options.Value.WaitTimeout);
            return false;
        }
    }

    /// <summary>The counter's own URL, as the local host's 202 answers give it (keys need no escaping: their charset is URL-safe).</summary>
    private static string CounterLocation(string key) => "/api/counters/" + key;

    /// <summary>What a write came to: answered at once (202), timed out (503), refused (422), or the owner's outcome to turn into an answer.</summary>
    private sealed record SentWrite(Accepted<WriteAccepted>? Accepted, ServiceUnavailableResult? Unavailable, ProblemHttpResult? Problem, CounterOutcome? Outcome);
}
