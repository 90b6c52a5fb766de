using Azure.Core;
using Azure.Data.Tables;
using Azure.Storage.Queues;

namespace FuncMap.Storage;

/// <summary>
/// The client options both hosts give the Azure SDK: Azure.Core's exponential retry (3 retries, 0.4 s doubling to at
/// most 8 s, 30 s network timeout: a storage outage surfaces within about a minute, and the callers' own loops retry
/// with backoff beyond that), and queue bodies taken as they are (<see cref="QueueMessageEncoding.None"/>, see
/// <see cref="IncrementMessages"/>).
/// </summary>
public static class StorageClientDefaults
{
    /// <summary>Applies the retry settings to any SDK client's options.</summary>
    public static void ApplyRetry(ClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 3;
        options.Retry.Delay = TimeSpan.FromMilliseconds(400);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(8);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(30);
        options.Diagnostics.LoggedHeaderNames.Add("x-ms-error-code");
    }

    /// <summary>Table options with the shared settings.</summary>
    public static TableClientOptions Tables(TableClientOptions? options = null)
    {
        options ??= new TableClientOptions();
        ApplyRetry(options);
        return options;
    }

    /// <summary>Queue options with the shared settings (message bodies as they are).</summary>
    public static QueueClientOptions Queues(QueueClientOptions? options = null)
    {
        options ??= new QueueClientOptions();
        ApplyRetry(options);
        options.MessageEncoding = QueueMessageEncoding.None;
        return options;
    }
}
