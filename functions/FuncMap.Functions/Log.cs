using Microsoft.Extensions.Logging;

namespace FuncMap.Functions;

/// <summary>The Functions host's log messages: stable event ids, static templates.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning,
        Message = "Add of {Delta} to counter {Key} rejected: the value {Value} would overflow Int64")]
    public static partial void OperationOverflowed(ILogger logger, string key, long delta, long value);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information,
        Message = "Tombstone of counter {Key} at version {Version} purged")]
    public static partial void TombstonePurged(ILogger logger, string key, long version);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning,
        Message = "Operation {Operation} on counter {Key} refused: operation id {OperationId} was used before for a different request (idempotency.mismatch)")]
    public static partial void OperationMismatched(ILogger logger, string key, string operation, string? operationId);

    [LoggerMessage(EventId = 6010, Level = LogLevel.Warning,
        Message = "Queue message {MessageId} (dequeue {DequeueCount}) can never succeed and was sent to the poison queue: {Reason}")]
    public static partial void MessagePoisoned(ILogger logger, string messageId, long dequeueCount, string reason);

    [LoggerMessage(EventId = 6011, Level = LogLevel.Information,
        Message = "Batch {BatchId} from queue message {MessageId}: {Items} items signalled as {Keys} key operations")]
    public static partial void BatchSignalled(ILogger logger, string batchId, string messageId, int items, int keys);

    [LoggerMessage(EventId = 6012, Level = LogLevel.Warning,
        Message = "Batch {BatchId} of queue message {MessageId} (dequeue {DequeueCount}) failed ({Kind}): {Error}; the runtime delivers it again")]
    public static partial void BatchRetry(ILogger logger, string messageId, string batchId, long dequeueCount, string kind, string error);

    [LoggerMessage(EventId = 6020, Level = LogLevel.Information,
        Message = "Snapshot since {Since}: {Upserted} rows written, {Deleted} rows deleted, {Purges} tombstone purges scheduled")]
    public static partial void SnapshotCompleted(ILogger logger, DateTimeOffset? since, int upserted, int deleted, int purges);

    [LoggerMessage(EventId = 6030, Level = LogLevel.Information,
        Message = "Operation {Operation} on counter {Key} not answered by its owner within {Timeout}; answered 503 with operation id {OperationId} to retry with")]
    public static partial void WaitTimedOut(ILogger logger, string operation, string key, TimeSpan timeout, string operationId);

    [LoggerMessage(EventId = 6032, Level = LogLevel.Warning,
        Message = "Batch {BatchId}: not all of its {Keys} owners answered within {Timeout}; answered 503, the signals stand")]
    public static partial void BatchWaitTimedOut(ILogger logger, string batchId, int keys, TimeSpan timeout);

    [LoggerMessage(EventId = 6014, Level = LogLevel.Warning,
        Message = "Batch {BatchId} from queue message {MessageId}: {Count} key(s) would overflow and were not applied ({Keys}); the rest of the batch was applied")]
    public static partial void KeysOverflowed(ILogger logger, string batchId, string messageId, int count, string keys);

    [LoggerMessage(EventId = 6015, Level = LogLevel.Warning,
        Message = "Batch {BatchId} from queue message {MessageId}: {Count} key(s) had this batch id applied before with another delta and were not applied ({Keys}); the rest of the batch was applied")]
    public static partial void KeysMismatched(ILogger logger, string batchId, string messageId, int count, string keys);

    [LoggerMessage(EventId = 6040, Level = LogLevel.Information,
        Message = "Queue {QueueName} created")]
    public static partial void QueueCreated(ILogger logger, string queueName);

    [LoggerMessage(EventId = 6041, Level = LogLevel.Warning,
        Message = "Queue {QueueName} could not be created at start ({ErrorCode}); the queue trigger waits until it exists")]
    public static partial void QueueCreateFailed(ILogger logger, Exception exception, string queueName, string? errorCode);
}
