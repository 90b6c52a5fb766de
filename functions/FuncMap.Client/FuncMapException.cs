using System.Net;

namespace FuncMap.Client;

/// <summary>
/// The one exception of <see cref="FuncMapClient"/>: the server refused a request (an RFC 9457 ProblemDetails answer
/// with its stable <see cref="Rule"/>), or no answer came after every retry the resilience pipeline made
/// (<see cref="StatusCode"/> null, the transport failure, attempt timeout or open circuit as
/// <see cref="Exception.InnerException"/>). A write that ends in this exception may or may not have been applied when
/// <see cref="IsTransient"/> is true; calling the client again starts a new logical call with a new
/// <c>Idempotency-Key</c>.
/// </summary>
public sealed class FuncMapException : Exception
{
    public FuncMapException()
    {
    }

    public FuncMapException(string message)
        : base(message)
    {
    }

    public FuncMapException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal FuncMapException(string message, HttpStatusCode? statusCode, string? rule, IReadOnlyList<FuncMapFieldError>? errors,
        TimeSpan? retryAfter, string? operationId, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        Rule = rule;
        Errors = errors ?? [];
        RetryAfter = retryAfter;
        OperationId = operationId;
    }

    /// <summary>The HTTP status of the answer; null when no answer came (transport failure, timeout, open circuit).</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The ProblemDetails <c>rule</c> (<c>counter.overflow</c>, <c>idempotency.mismatch</c>, <c>key.charset</c>, <c>engine.busy</c>, …), when the answer had one.</summary>
    public string? Rule { get; }

    /// <summary>Every broken input rule of a 400 (the ProblemDetails <c>errors</c>); empty otherwise.</summary>
    public IReadOnlyList<FuncMapFieldError> Errors { get; } = [];

    /// <summary>The answer's <c>Retry-After</c> (a 503 or 429 has one), as a delay from when it was read.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>The <c>Idempotency-Key</c> or batch id the call sent; send it again (<see cref="FuncMapClient.SendBatchAsync"/>) to retry the same operation.</summary>
    public string? OperationId { get; }

    /// <summary>
    /// True when the failure may pass (no answer, 408, 429 or 5xx): the same operation may succeed later, and a write may
    /// have been applied. False for a refusal the same request always gets (4xx).
    /// </summary>
    public bool IsTransient => StatusCode is null or HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int?)StatusCode >= 500;
}
