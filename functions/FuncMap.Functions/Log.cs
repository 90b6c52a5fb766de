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

    [LoggerMessage(EventId = 6050, Level = LogLevel.Warning,
        Message = "Accept source {Source}: flush {Flush} of {Adds} adds was not confirmed by storage (status {Status}, {ErrorCode}); each add was answered 503")]
    public static partial void FlushFailed(ILogger logger, Exception exception, string source, long flush, int adds, int status, string? errorCode);

    [LoggerMessage(EventId = 6170, Level = LogLevel.Critical,
        Message = "Accept source {Source}: storage lost the row of flush {Flush} after it confirmed the insert {Age} ago: {Adds} add(s) answered 202 are lost, on keys {Keys}")]
    public static partial void AcceptedRowLost(ILogger logger, string source, long flush, int adds, TimeSpan age, string keys);

    [LoggerMessage(EventId = 6171, Level = LogLevel.Critical,
        Message = "Accept source {Source}: the row of flush {Flush} (confirmed {Age} ago) is gone without this process folding it: storage lost it, or another instance's sweep folded it (it takes rows older than FoldStaleAfter {StaleAfter}); {Adds} add(s) on keys {Keys} may be lost")]
    public static partial void AcceptedRowMissing(ILogger logger, string source, long flush, int adds, TimeSpan age, TimeSpan staleAfter, string keys);

    [LoggerMessage(EventId = 6051, Level = LogLevel.Warning,
        Message = "Fold of accepted adds of source {Source} failed (status {Status}, {ErrorCode}); the rows stay and the next fold takes them")]
    public static partial void FoldFailed(ILogger logger, Exception exception, string source, int status, string? errorCode);

    [LoggerMessage(EventId = 6052, Level = LogLevel.Information,
        Message = "Fold transaction of {Rows} accepted rows in partition {Partition} not written; numbering continues under a new source")]
    public static partial void FoldTransactionFailed(ILogger logger, Exception exception, string partition, int rows);

    [LoggerMessage(EventId = 6053, Level = LogLevel.Information,
        Message = "Folding the accepted adds of source {Partition}: it has rows older than {StaleAfter}")]
    public static partial void SweepingSource(ILogger logger, string partition, TimeSpan staleAfter);

    [LoggerMessage(EventId = 6054, Level = LogLevel.Error,
        Message = "Row {PartitionKey}/{RowKey} of the accepted adds cannot be read and is left in place: {Reason}")]
    public static partial void AcceptedRowUnreadable(ILogger logger, string partitionKey, string rowKey, string reason);

    [LoggerMessage(EventId = 6055, Level = LogLevel.Warning,
        Message = "A write of counter {Key} waited longer than {Timeout} for the key's earlier accepted adds to be folded; answered 503, nothing sent")]
    public static partial void BarrierTimedOut(ILogger logger, string key, TimeSpan timeout);

    [LoggerMessage(EventId = 6150, Level = LogLevel.Critical,
        Message = "Counter {Key}: {Count} folded sum(s) of source {Source} (numbers {First}-{Last}) never arrived within {Waited} and are counted as lost (storage lost a fold record or rolled back the counter's state); {Applied} parked add(s) applied, a lost number that still arrives is applied then")]
    public static partial void FoldGapReleased(ILogger logger, string key, string source, long count, long first, long last, TimeSpan waited, int applied);

    [LoggerMessage(EventId = 6151, Level = LogLevel.Warning,
        Message = "Counter {Key}: folded sum {Sequence} of source {Source} arrived after it was counted as lost, and was applied")]
    public static partial void LateFoldApplied(ILogger logger, string key, string source, long sequence);

    [LoggerMessage(EventId = 6152, Level = LogLevel.Information,
        Message = "Stopping: every add accepted by source {Source} (through flush {Flush}) was folded and signalled ({Rounds} fold round(s)); nothing is left for a sweep")]
    public static partial void StopFolded(ILogger logger, string source, long flush, int rounds);

    [LoggerMessage(EventId = 6153, Level = LogLevel.Warning,
        Message = "Stopping: source {Source} leaves {Rows} accepted row(s) and {Records} fold record(s) (-1: storage did not answer) that the shutdown time did not cover; another instance's sweep, or the next start's, folds them within {SweptWithin}")]
    public static partial void StopLeft(ILogger logger, string source, int rows, int records, TimeSpan sweptWithin);
}
