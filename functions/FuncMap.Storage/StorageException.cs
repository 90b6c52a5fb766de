using System.Globalization;

namespace FuncMap.Storage;

/// <summary>A failed storage request: HTTP status, storage error code and, for a batch, the failed operation.</summary>
public sealed class StorageException : Exception
{
    public StorageException(string message)
        : base(message)
    {
    }

    public StorageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public StorageException()
    {
    }

    public StorageException(int status, string? errorCode, string message, int? failedOperationIndex = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Status = status;
        ErrorCode = errorCode;
        FailedOperationIndex = failedOperationIndex;
    }

    /// <summary>HTTP status; 0 when no response arrived (network failure).</summary>
    public int Status { get; }

    /// <summary>Storage error code (x-ms-error-code, odata.error code or XML Error/Code), when the service sent one.</summary>
    public string? ErrorCode { get; }

    /// <summary>Zero-based index of the failing operation of an entity group transaction.</summary>
    public int? FailedOperationIndex { get; }

    /// <summary>
    /// True when the same request may succeed later (timeout, throttling, server error, no response):
    /// callers retry these and treat everything else as permanent.
    /// </summary>
    public bool IsTransient => IsTransientStatus(Status);

    /// <summary>Whether an HTTP status (0 for "no response") is a passing failure.</summary>
    public static bool IsTransientStatus(int status) =>
        status is 0 or 408 or 429 or 500 or 502 or 503 or 504;

    internal static string Describe(int status, string? code, string? detail) =>
        string.Create(CultureInfo.InvariantCulture, $"Storage request failed: {status} {code ?? "(no code)"}{(string.IsNullOrEmpty(detail) ? string.Empty : ": " + detail)}");
}
