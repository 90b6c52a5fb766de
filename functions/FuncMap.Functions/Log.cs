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
        Message = "Operation {Operation} on counter {Key} still running after {Timeout}; answered 202 with status of instance {InstanceId}")]
    public static partial void WaitTimedOut(ILogger logger, string operation, string key, TimeSpan timeout, string instanceId);

    [LoggerMessage(EventId = 6031, Level = LogLevel.Error,
        Message = "Orchestration {InstanceId} for {Operation} on counter {Key} ended {Status}")]
    public static partial void WaitFailed(ILogger logger, string instanceId, string operation, string key, string status);
}
