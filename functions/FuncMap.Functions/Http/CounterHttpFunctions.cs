using FuncMap.Batches;
using FuncMap.Counters;
using FuncMap.Functions.Batches;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Http;

/// <summary>
/// The HTTP contract of DESIGN.md on Durable Entities. Writes signal the key's owner and answer 202
/// once the signal is stored (durably accepted); <c>?wait=true</c> runs
/// <see cref="CounterWriteOrchestration"/> and answers with the result. Reads return the owner's
/// last persisted state and never wait for it. Every function needs a function key.
/// </summary>
public sealed class CounterHttpFunctions(IOptions<FuncMapFunctionsOptions> options, ILogger<CounterHttpFunctions> logger)
{
    /// <summary><c>POST /api/counters/{key}/add</c>, body <c>{"delta": n}</c> or none (delta 1).</summary>
    [Function("CounterAdd")]
    public async Task<Results<Ok<CounterResponse>, Accepted<WriteAccepted>, ValidationProblem, ProblemHttpResult>> AddAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "counters/{key}/add")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = await HttpInput.ReadBodyAsync(request, HttpInput.MaxAddBodyBytes, cancellationToken);
        if (body is null)
        {
            return HttpInput.TooLarge(HttpInput.MaxAddBodyBytes);
        }

        if (CounterKey.Validate(key) is { } keyError)
        {
            return HttpInput.Invalid(keyError);
        }

        if (DeltaParser.ParseAddBody(body, out var delta) is { } bodyError)
        {
            return HttpInput.Invalid(bodyError);
        }

        var write = await WriteAsync(request, client, key, CounterOperations.Add, delta, cancellationToken);
        if (write.Answer is { } answer)
        {
            return answer.Match<Results<Ok<CounterResponse>, Accepted<WriteAccepted>, ValidationProblem, ProblemHttpResult>>(a => a, v => v, p => p);
        }

        var outcome = write.Outcome!;
        return outcome.Status switch
        {
            OperationStatus.Applied or OperationStatus.Duplicate when outcome.Exists => TypedResults.Ok(ToResponse(key, outcome)),
            OperationStatus.Overflow => Overflow(key, delta),
            _ => HttpInput.CounterNotFound(key),
        };
    }

    /// <summary><c>POST /api/counters/{key}/reset</c>: value to 0, version keeps counting.</summary>
    [Function("CounterReset")]
    public async Task<Results<Ok<CounterResponse>, Accepted<WriteAccepted>, ValidationProblem, ProblemHttpResult>> ResetAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "counters/{key}/reset")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (CounterKey.Validate(key) is { } error)
        {
            return HttpInput.Invalid(error);
        }

        var write = await WriteAsync(request, client, key, CounterOperations.Reset, 0, cancellationToken);
        if (write.Answer is { } answer)
        {
            return answer.Match<Results<Ok<CounterResponse>, Accepted<WriteAccepted>, ValidationProblem, ProblemHttpResult>>(a => a, v => v, p => p);
        }

        var outcome = write.Outcome!;
        return outcome.Exists ? TypedResults.Ok(ToResponse(key, outcome)) : HttpInput.CounterNotFound(key);
    }

    /// <summary><c>DELETE /api/counters/{key}</c>: 202, or with <c>?wait=true</c> 204 once deleted.</summary>
    [Function("CounterDelete")]
    public async Task<Results<NoContent, Accepted<WriteAccepted>, ValidationProblem, ProblemHttpResult>> DeleteAsync(
        [HttpTrigger(AuthorizationLevel.Function, "delete", Route = "counters/{key}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (CounterKey.Validate(key) is { } error)
        {
            return HttpInput.Invalid(error);
        }

        var write = await WriteAsync(request, client, key, CounterOperations.Delete, 0, cancellationToken);
        if (write.Answer is { } answer)
        {
            return answer.Match<Results<NoContent, Accepted<WriteAccepted>, ValidationProblem, ProblemHttpResult>>(a => a, v => v, p => p);
        }

        // A duplicate of the delete that removed the counter answers as the first attempt did.
        return write.Outcome!.Status is OperationStatus.Applied or OperationStatus.Duplicate && !write.Outcome.Exists
            ? TypedResults.NoContent()
            : HttpInput.CounterNotFound(key);
    }

    /// <summary><c>GET /api/counters/{key}</c>: the owner's last persisted state, or 404.</summary>
    [Function("CounterGet")]
    public static async Task<Results<Ok<CounterResponse>, ValidationProblem, ProblemHttpResult>> GetAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "counters/{key}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string key,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (CounterKey.Validate(key) is { } error)
        {
            return HttpInput.Invalid(error);
        }

        var entity = await client.Entities.GetEntityAsync<CounterState>(Counter.IdOf(key), includeState: true, cancellationToken);
        return entity is { IncludesState: true, State.Exists: true }
            ? TypedResults.Ok(CounterResponse.From(key, entity.State))
            : HttpInput.CounterNotFound(key);
    }

    /// <summary>
    /// <c>GET /api/counters?prefix=&amp;pageSize=&amp;continuationToken=</c>: one page of counters in key
    /// order (the Azure Storage backend returns entities ordered by instance id). The continuation
    /// token is the backend's own, passed through unchanged.
    /// </summary>
    [Function("CounterList")]
    public static async Task<Results<Ok<CounterPage>, ValidationProblem>> ListAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "counters")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        var errors = new[] { HttpInput.PrefixOf(request, out var prefix), HttpInput.PageSizeOf(request, out var pageSize) }
            .OfType<ValidationError>()
            .ToArray();
        if (errors.Length > 0)
        {
            return HttpInput.Invalid(errors);
        }

        var token = request.Query["continuationToken"].ToString();
        var page = await CounterListing.ReadPageAsync(client.Entities, prefix, pageSize, token.Length == 0 ? null : token, cancellationToken);
        return TypedResults.Ok(page);
    }

    /// <summary><c>POST /api/counters/batch</c>: validate and aggregate with the core library, signal each key with the batch id.</summary>
    [Function("CounterBatch")]
    public async Task<Results<Accepted<BatchAccepted>, ValidationProblem, ProblemHttpResult>> BatchAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "counters/batch")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        var settings = options.Value;
        var body = await HttpInput.ReadBodyAsync(request, settings.MaxBatchBodyBytes, cancellationToken);
        if (body is null)
        {
            return HttpInput.TooLarge(settings.MaxBatchBodyBytes);
        }

        var parsed = IncrementBatchParser.Parse(body);
        if (!parsed.IsValid)
        {
            return HttpInput.Invalid(parsed.Errors);
        }

        var batch = parsed.Batch!;
        await BatchSignaler.SignalAsync(client.Entities, batch, settings.SignalConcurrency, cancellationToken);
        return TypedResults.Accepted((string?)null, new BatchAccepted(batch.BatchId, batch.ItemCount, batch.Deltas.Count));
    }

    private static CounterResponse ToResponse(string key, CounterOutcome outcome) =>
        new(key, outcome.Value, outcome.Version, outcome.UpdatedAt);

    private static ProblemHttpResult Overflow(string key, long delta) =>
        HttpInput.Problem(StatusCodes.Status409Conflict, "Counter overflow",
            $"Adding {delta} to counter \"{key}\" would overflow Int64; nothing changed.");

    /// <summary>
    /// Sends a write. Without <c>wait</c>: signals the owner and answers 202. With <c>wait</c>: runs the
    /// write orchestration and returns the owner's outcome, or 202 with the orchestration's status
    /// location when it takes longer than <see cref="FuncMapFunctionsOptions.WaitTimeout"/>.
    /// </summary>
    private async Task<WriteResult> WriteAsync(
        HttpRequest request, DurableTaskClient client, string key, string operation, long delta, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var errors = new[] { HttpInput.OperationIdOf(request, out var operationId), HttpInput.WaitOf(request, out var wait) }
            .OfType<ValidationError>()
            .ToArray();
        if (errors.Length > 0)
        {
            return new(new WriteAnswer(HttpInput.Invalid(errors)), null);
        }

        if (!wait)
        {
            await client.Entities.SignalEntityAsync(
                Counter.IdOf(key), operation, new CounterCommand(operationId, delta), options: null, cancellation: cancellationToken);
            return new(new WriteAnswer(TypedResults.Accepted((string?)null, new WriteAccepted(key, operationId))), null);
        }

        var write = new CounterWriteRequest(key, operation, operationId, delta);
        var timeout = options.Value.WaitTimeout;
        var instance = await CounterWriteOrchestration.StartOrJoinAsync(client, write, timeout, cancellationToken);
        if (instance is null)
        {
            var instanceId = CounterWriteOrchestration.InstanceIdFor(write);
            Log.WaitTimedOut(logger, operation, key, timeout, instanceId);
            var statusUri = client.CreateHttpManagementPayload(instanceId).StatusQueryGetUri;
            request.HttpContext.Response.Headers.RetryAfter = "1";
            return new(new WriteAnswer(TypedResults.Accepted(statusUri, new WriteAccepted(key, operationId, statusUri))), null);
        }

        if (instance.RuntimeStatus != OrchestrationRuntimeStatus.Completed || instance.ReadOutputAs<CounterOutcome>() is not { } outcome)
        {
            Log.WaitFailed(logger, instance.InstanceId, operation, key, instance.RuntimeStatus.ToString());
            return new(new WriteAnswer(HttpInput.Problem(StatusCodes.Status500InternalServerError, "Operation failed",
                $"The {operation} on counter \"{key}\" did not complete ({instance.RuntimeStatus}); retry with the same {HttpInput.IdempotencyKeyHeader}.")), null);
        }

        return new(null, outcome);
    }

    /// <summary>Either an answer that needs no outcome (<see cref="Answer"/>) or the owner's outcome to turn into one.</summary>
    private sealed record WriteResult(WriteAnswer? Answer, CounterOutcome? Outcome);

    /// <summary>The answers every write shares: 202, 400, or a problem.</summary>
    private sealed class WriteAnswer
    {
        private readonly Accepted<WriteAccepted>? _accepted;
        private readonly ValidationProblem? _invalid;
        private readonly ProblemHttpResult? _problem;

        public WriteAnswer(Accepted<WriteAccepted> accepted) => _accepted = accepted;

        public WriteAnswer(ValidationProblem invalid) => _invalid = invalid;

        public WriteAnswer(ProblemHttpResult problem) => _problem = problem;

        public T Match<T>(Func<Accepted<WriteAccepted>, T> accepted, Func<ValidationProblem, T> invalid, Func<ProblemHttpResult, T> problem) =>
            _accepted is not null ? accepted(_accepted) : _invalid is not null ? invalid(_invalid) : problem(_problem!);
    }
}
