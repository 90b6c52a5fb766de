using System.Globalization;
using FuncMap.Engine;
using FuncMap.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.AspNetCore.Mvc;

namespace FuncMap.Http;

/// <summary>
/// The ProblemDetails (RFC 9457) of every rejection the API makes. Each carries a stable
/// machine-readable <c>rule</c> extension; a 400 also lists every broken rule in <c>errors</c>
/// (<see cref="ProblemFieldError"/>: field, rule, message).
/// </summary>
public static class CounterProblems
{
    /// <summary>The seconds a client should wait before retrying a 503.</summary>
    public const int RetryAfterSeconds = 1;

    /// <summary>400: the request broke one or more input rules.</summary>
    public static ProblemHttpResult Validation(IReadOnlyList<ValidationError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var first = errors.Count > 0 ? errors[0] : new ValidationError("$", "request.invalid", "The request is invalid.");
        var problem = Create(StatusCodes.Status400BadRequest, "The request is invalid.", first.Message, first.Rule);
        var list = new ProblemFieldError[Math.Max(errors.Count, 1)];
        if (errors.Count == 0)
        {
            list[0] = new ProblemFieldError(first.Field, first.Rule, first.Message);
        }

        for (var i = 0; i < errors.Count; i++)
        {
            list[i] = new ProblemFieldError(errors[i].Field, errors[i].Rule, errors[i].Message);
        }

        problem.Extensions["errors"] = list;
        return TypedResults.Problem(problem);
    }

    /// <summary>400 for one broken rule.</summary>
    public static ProblemHttpResult Validation(ValidationError error) => Validation([error]);

    /// <summary>404: the counter does not exist.</summary>
    public static ProblemHttpResult CounterNotFound(string key) =>
        TypedResults.Problem(Create(StatusCodes.Status404NotFound, "Counter not found.", $"There is no counter \"{key}\".", "counter.notFound"));

    /// <summary>409: the add was refused because the value would overflow Int64.</summary>
    public static ProblemHttpResult Overflow(string key, long delta) =>
        TypedResults.Problem(Create(StatusCodes.Status409Conflict, "The value would overflow.",
            $"Adding {delta} to counter \"{key}\" would overflow Int64; nothing was changed.", "counter.overflow"));

    /// <summary>
    /// 422: the <c>Idempotency-Key</c> was used before on this counter for a different request (another operation
    /// or delta), so this one was not applied (draft-ietf-httpapi-idempotency-key-header).
    /// </summary>
    public static ProblemHttpResult IdempotencyMismatch(string key, string? operationId) =>
        TypedResults.Problem(Create(StatusCodes.Status422UnprocessableEntity, "Idempotency-Key reused for a different request.",
            $"Idempotency-Key \"{operationId}\" was used before on counter \"{key}\" for a different operation or delta; nothing was changed. Send a new key for a new request.",
            "idempotency.mismatch"));

    /// <summary>413: the body is larger than the limit.</summary>
    public static ProblemHttpResult PayloadTooLarge(long maxBytes) =>
        TypedResults.Problem(Create(StatusCodes.Status413PayloadTooLarge, "The request body is too large.",
            $"A request body is at most {maxBytes} bytes.", "body.size"));

    /// <summary>415: a body was sent with a content type other than JSON.</summary>
    public static ProblemHttpResult UnsupportedMediaType(string? contentType) =>
        TypedResults.Problem(Create(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type.",
            $"A request body must be UTF-8 JSON sent as application/json; got {(string.IsNullOrEmpty(contentType) ? "no Content-Type" : Truncate(contentType))}.",
            "body.contentType"));

    /// <summary>401: the access key is missing or wrong.</summary>
    public static ProblemHttpResult Unauthorized(bool keyPresent) =>
        TypedResults.Problem(Create(StatusCodes.Status401Unauthorized, "Access key required.",
            keyPresent
                ? "The access key is not valid."
                : "This API needs an access key in the x-functions-key header or the code query parameter.",
            keyPresent ? "accessKey.invalid" : "accessKey.missing"));

    /// <summary>503 + <c>Retry-After</c>: the service is starting and not ready yet.</summary>
    public static ServiceUnavailableResult Starting() =>
        new(Create(StatusCodes.Status503ServiceUnavailable, "The service is starting.",
            "Counters are still being loaded; retry shortly.", "service.starting"), RetryAfterSeconds);

    /// <summary>503 + <c>Retry-After</c>: the service is shutting down.</summary>
    public static ServiceUnavailableResult Stopping() =>
        new(Create(StatusCodes.Status503ServiceUnavailable, "The service is shutting down.",
            "The service accepts no more operations; retry against a running instance.", "service.stopping"), RetryAfterSeconds);

    /// <summary>
    /// 503 + <c>Retry-After</c>: the host's single-writer lease could have lapsed, so it acknowledges no write
    /// (<paramref name="reason"/> says why; <paramref name="mayBeApplied"/>: the write was applied before the check).
    /// </summary>
    public static ServiceUnavailableResult LeaseLapsed(string reason, bool mayBeApplied, int retryAfterSeconds) =>
        new(Create(StatusCodes.Status503ServiceUnavailable, "This host may not acknowledge writes.",
            reason + (mayBeApplied
                ? " The write may or may not take effect: retry it with the same Idempotency-Key, here later or against the storage's new owner."
                : " Nothing was applied; retry later or against the storage's new owner."),
            "lease.lapsed"), retryAfterSeconds);

    /// <summary>
    /// 503 + <c>Retry-After</c> for the engine's refusals (busy mailbox, owner timeout, shutdown),
    /// or null when <paramref name="exception"/> is not one of them.
    /// </summary>
    public static ServiceUnavailableResult? FromEngineException(Exception exception) => exception switch
    {
        EngineBusyException => new(Create(StatusCodes.Status503ServiceUnavailable, "The service is busy.",
            "The counter's owner is busy; retry shortly (with the same Idempotency-Key).", "engine.busy"), RetryAfterSeconds),
        EngineTimeoutException timeout => OwnerTimeout(timeout.Message),
        EngineStoppedException => new(Create(StatusCodes.Status503ServiceUnavailable, "The service is shutting down.",
            "The service accepts no more operations; retry against a running instance.", "engine.stopped"), RetryAfterSeconds),
        OperationLogUnavailableException log => JournalUnavailable(log.Cause, log.MayBeApplied),
        _ => null,
    };

    /// <summary>How long a client should wait before retrying a write the journal refused (a disk to free or repair).</summary>
    public const int JournalRetryAfterSeconds = 5;

    /// <summary>
    /// 503 + <c>Retry-After</c> (<see cref="JournalRetryAfterSeconds"/>): the journal cannot make writes durable now
    /// (<paramref name="cause"/>: the errno name, such as <c>ENOSPC</c>, <c>EDQUOT</c>, <c>EIO</c> or <c>EROFS</c>). The
    /// write was rolled back and is never served; with <paramref name="mayBeApplied"/> the journal could not yet make sure
    /// that the failed write will never be replayed, so its outcome is unknown.
    /// </summary>
    public static ServiceUnavailableResult JournalUnavailable(string cause, bool mayBeApplied) =>
        new(Create(StatusCodes.Status503ServiceUnavailable, "Writes are refused: the journal cannot make them durable.",
            $"The journal cannot write or sync its disk ({cause}). " + (mayBeApplied
                ? "The journal could not yet make sure the failed write is discarded, so it may still take effect after a restart: retry it with the same Idempotency-Key."
                : "The write is not applied and is never shown (of a batch, keys whose commit succeeded before the failure are applied: resend the same batchId and the rest is applied once). Reads still work; retry later."),
            "journal.unavailable"), JournalRetryAfterSeconds);

    /// <summary>503 + <c>Retry-After</c>: an owner did not answer in time (the operation may still be applied).</summary>
    public static ServiceUnavailableResult OwnerTimeout(string detail) =>
        new(Create(StatusCodes.Status503ServiceUnavailable, "The operation timed out.", detail, "engine.timeout"), RetryAfterSeconds);

    /// <summary>
    /// 503 + <c>Retry-After</c>: storage did not take the write, so nothing is promised (<paramref name="detail"/> says
    /// what may have happened to it).
    /// </summary>
    public static ServiceUnavailableResult StorageUnavailable(string detail) =>
        new(Create(StatusCodes.Status503ServiceUnavailable, "Storage is unavailable.", detail, "storage.unavailable"), RetryAfterSeconds);

    /// <summary>404 for a path that is no route of the API.</summary>
    public static ProblemHttpResult RouteNotFound(string path) =>
        TypedResults.Problem(Create(StatusCodes.Status404NotFound, "Not found.", $"There is no route {Truncate(path)}.", "route.notFound"));

    /// <summary>405 for a route of the API asked with a method it does not serve.</summary>
    public static ProblemHttpResult MethodNotAllowed(string method, string path) =>
        TypedResults.Problem(Create(StatusCodes.Status405MethodNotAllowed, "Method not allowed.",
            $"{Truncate(method)} is not served on {Truncate(path)}.", "route.method"));

    /// <summary>
    /// 408 for a request body that arrived slower than the server's minimum data rate (Kestrel's
    /// <c>MinRequestBodyDataRate</c>, 240 bytes/s after a 5 s grace period by default): a transient failure the client may
    /// retry. The connection is closed after the answer (the rest of the body is never read), so the caller also sets
    /// <c>Connection: close</c>.
    /// </summary>
    public static ProblemHttpResult RequestBodyTimeout() =>
        TypedResults.Problem(Create(StatusCodes.Status408RequestTimeout, "The request body arrived too slowly.",
            "The server stopped waiting for the request body: it arrived slower than the minimum data rate. Retry the request on a new connection.",
            "body.timeout"));

    /// <summary>414 for a request line (method, target, version) longer than <paramref name="maxBytes"/> bytes (RFC 9110 §15.5.15).</summary>
    public static ProblemHttpResult UriTooLong(int maxBytes) =>
        TypedResults.Problem(Create(StatusCodes.Status414UriTooLong, "The URI is too long.",
            $"A request line (method, path and query, version) is at most {maxBytes} bytes.", "request.uriLength"));

    /// <summary>431 for request headers over the limits (RFC 6585 §5): more than <paramref name="maxCount"/> fields or <paramref name="maxBytes"/> bytes in all.</summary>
    public static ProblemHttpResult HeadersTooLarge(int maxCount, int maxBytes) =>
        TypedResults.Problem(Create(StatusCodes.Status431RequestHeaderFieldsTooLarge, "The request headers are too large.",
            $"A request has at most {maxCount} header fields of at most {maxBytes} bytes in all.", "request.headersSize"));

    /// <summary>
    /// The ProblemDetails of an error status a server answered without a body: 404 and 405 as
    /// <see cref="RouteNotFound"/> and <see cref="MethodNotAllowed"/>, 408, 413, 414 and 431 with their rules, any other
    /// 4xx or 5xx as <c>http.{status}</c> with the status's reason phrase.
    /// </summary>
    public static ProblemHttpResult ForStatus(int status, string method, string path, long maxBodyBytes) => status switch
    {
        StatusCodes.Status404NotFound => RouteNotFound(path),
        StatusCodes.Status405MethodNotAllowed => MethodNotAllowed(method, path),
        StatusCodes.Status408RequestTimeout => RequestBodyTimeout(),
        StatusCodes.Status413PayloadTooLarge => PayloadTooLarge(maxBodyBytes),
        StatusCodes.Status414UriTooLong => UriTooLong(RequestLimits.MaxRequestLineBytes),
        StatusCodes.Status431RequestHeaderFieldsTooLarge => HeadersTooLarge(RequestLimits.MaxHeaderCount, RequestLimits.MaxHeaderBytes),
        _ => TypedResults.Problem(Create(status, ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : "Error.",
            $"{Truncate(method)} {Truncate(path)} answered {status}.", $"http.{status}")),
    };

    /// <summary>Creates a ProblemDetails with the <c>rule</c> extension.</summary>
    public static ProblemDetails Create(int status, string title, string detail, string rule)
    {
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        problem.Extensions["rule"] = rule;
        return problem;
    }

    private static string Truncate(string value) => value.Length <= 80 ? value : value[..80] + "…";
}

/// <summary>A 503 ProblemDetails with a <c>Retry-After</c> header (seconds).</summary>
public sealed class ServiceUnavailableResult : IResult, IStatusCodeHttpResult, IValueHttpResult<ProblemDetails>
{
    private readonly ProblemHttpResult _problem;

    /// <summary>Creates the result.</summary>
    public ServiceUnavailableResult(ProblemDetails problem, int retryAfterSeconds)
    {
        _problem = TypedResults.Problem(problem);
        RetryAfterSeconds = retryAfterSeconds;
    }

    /// <summary>The value of the <c>Retry-After</c> header.</summary>
    public int RetryAfterSeconds { get; }

    /// <inheritdoc />
    public int? StatusCode => StatusCodes.Status503ServiceUnavailable;

    /// <inheritdoc />
    public ProblemDetails Value => _problem.ProblemDetails;

    /// <inheritdoc />
    public Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        httpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return _problem.ExecuteAsync(httpContext);
    }
}
