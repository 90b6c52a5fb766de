using System.Net;
using Azure;

namespace FuncMap.Storage;

/// <summary>
/// The one place that decides whether a storage failure may pass. The Azure SDK reports every failed request as a
/// <see cref="RequestFailedException"/> (status 0 when no response arrived); once Azure.Core's retries are exhausted
/// on network failures it throws an <see cref="AggregateException"/> of the attempts' failures, where a request that
/// ran into <c>Retry.NetworkTimeout</c> is a <see cref="TaskCanceledException"/> (seen against a saturated Azurite).
/// Snapshots, restore, ingestion and the lease of the local host and the Functions app's snapshot and queue trigger
/// all ask here.
/// </summary>
public static class StorageFailures
{
    /// <summary>True for any failure of a storage request.</summary>
    public static bool IsStorage(Exception exception) => exception switch
    {
        RequestFailedException => true,
        AggregateException aggregate => IsRetryOutcome(aggregate),
        _ => false,
    };

    /// <summary>
    /// True for a storage failure that may pass: no response (network), 408 timeout, 429 throttling, or a 5xx server
    /// error. Anything else (400 bad request, 403 auth, 404, 409, 412) fails the same way when repeated.
    /// </summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        RequestFailedException failed => IsTransientStatus(failed.Status),
        AggregateException aggregate => IsRetryOutcome(aggregate)
            && aggregate.InnerExceptions.All(static e => e is OperationCanceledException || IsTransient(e)),
        _ => false,
    };

    /// <summary>
    /// True for what Azure.Core's retry policy throws when every attempt failed: failed requests, and attempts cut by
    /// the network timeout.
    /// </summary>
    private static bool IsRetryOutcome(AggregateException aggregate) =>
        aggregate.InnerExceptions.Count > 0
        && aggregate.InnerExceptions.All(static e => e is RequestFailedException or OperationCanceledException);

    /// <summary>True for an HTTP status that may pass (0 = no response).</summary>
    public static bool IsTransientStatus(int status) =>
        status is 0 or (int)HttpStatusCode.RequestTimeout or (int)HttpStatusCode.TooManyRequests or >= 500;

    /// <summary>The HTTP status of a storage failure (0 when none arrived or it is not one).</summary>
    public static int Status(Exception exception) => exception switch
    {
        RequestFailedException failed => failed.Status,
        AggregateException { InnerExceptions.Count: > 0 } aggregate => Status(aggregate.InnerExceptions[0]),
        _ => 0,
    };

    /// <summary>The service's error code (x-ms-error-code, e.g. <c>ResourceNotFound</c>), when it sent one.</summary>
    public static string? ErrorCode(Exception exception) => exception switch
    {
        RequestFailedException failed => failed.ErrorCode,
        AggregateException { InnerExceptions.Count: > 0 } aggregate => ErrorCode(aggregate.InnerExceptions[0]),
        _ => null,
    };
}
