using Azure;
using FuncMap.Storage;

namespace FuncMap.Local.Storage;

/// <summary>
/// Classifies storage failures. Besides <see cref="StorageException"/>, Azure.Core's retry policy lets an
/// <see cref="AggregateException"/> of <see cref="RequestFailedException"/>s (status 0: no response) escape
/// the storage client once its retries are exhausted on network failures; that is a passing failure too.
/// </summary>
internal static class StorageFailures
{
    /// <summary>True for any failure of a storage request.</summary>
    public static bool IsStorage(Exception exception) => exception switch
    {
        StorageException or RequestFailedException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsStorage),
        _ => false,
    };

    /// <summary>True for a storage failure that may pass (no response, timeout, throttling, server error).</summary>
    public static bool IsTransient(Exception exception) => exception switch
    {
        StorageException storage => storage.IsTransient,
        RequestFailedException failed => StorageException.IsTransientStatus(failed.Status),
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsTransient),
        _ => false,
    };

    /// <summary>The HTTP status of a storage failure (0 when none arrived).</summary>
    public static int Status(Exception exception) => exception switch
    {
        StorageException storage => storage.Status,
        RequestFailedException failed => failed.Status,
        _ => 0,
    };
}
