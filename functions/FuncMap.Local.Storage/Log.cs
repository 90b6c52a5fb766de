using Microsoft.Extensions.Logging;

namespace FuncMap.Local.Storage;

/// <summary>The local host's storage log messages (EventIds 1400–1499).</summary>
internal static partial class Log
{
    [LoggerMessage(1400, LogLevel.Information, "Lease claimed by {Owner} for {Seconds} s, epoch {Epoch}; this host is the single writer of the storage.")]
    public static partial void LeaseClaimed(ILogger logger, string owner, double seconds, long epoch);

    [LoggerMessage(1402, LogLevel.Warning, "Storage unreachable while claiming the lease ({Error}); retrying, the host stays unready until the lease is ours.")]
    public static partial void LeaseClaimRetrying(ILogger logger, string error);

    [LoggerMessage(1403, LogLevel.Warning, "Lease renewal failed ({Error}); retrying.")]
    public static partial void LeaseRenewalFailed(ILogger logger, string error);

    [LoggerMessage(1404, LogLevel.Critical, "Lease lost: it now belongs to {NewOwner}, not {Owner}. Stopping the host rather than keep writing.")]
    public static partial void LeaseLost(ILogger logger, string newOwner, string owner);

    [LoggerMessage(1405, LogLevel.Information, "Lease of {Owner} released.")]
    public static partial void LeaseReleased(ILogger logger, string owner);

    [LoggerMessage(1406, LogLevel.Warning, "Lease of {Owner} could not be released; it expires by itself.")]
    public static partial void LeaseReleaseFailed(ILogger logger, Exception exception, string owner);

    [LoggerMessage(1407, LogLevel.Warning, "Took over the expired lease of {PreviousOwner} (expired {ExpiredAt:O}); lease epoch {Epoch}.")]
    public static partial void LeaseTakenOver(ILogger logger, string previousOwner, DateTimeOffset expiredAt, long epoch);

    [LoggerMessage(1490, LogLevel.Information, "Took over the lease that {PreviousOwner} released after a clean stop (its last write to the row {ReleasedAt:O}); lease epoch {Epoch}.")]
    public static partial void LeaseHandedOver(ILogger logger, string previousOwner, DateTimeOffset releasedAt, long epoch);

    [LoggerMessage(1442, LogLevel.Critical, "Lease lapsed: by this host's clock it could have expired {Ago} ms ago ({Reason}). Writes are refused with 503 and queue ingestion stops until a renewal succeeds.")]
    public static partial void LeaseLapsed(ILogger logger, double ago, string reason);

    [LoggerMessage(1443, LogLevel.Warning, "Lease valid again after a lapse (renewed; nobody took it over): writes are acknowledged again.")]
    public static partial void LeaseValidAgain(ILogger logger);

    [LoggerMessage(1444, LogLevel.Critical, "UNCLEAN TAKEOVER (AllowUncleanTakeover): the previous owner {PreviousOwner}, last seen {LastSeen:O}, did not stop cleanly. " +
        "Writes it acknowledged after its last snapshot persisted are lost for this storage (they stay in its journal, which is not replayed here; " +
        "counters it changed since then go back to the table's version and their version numbers are reused). Lease epoch {Epoch}.")]
    public static partial void UncleanTakeover(ILogger logger, string previousOwner, DateTimeOffset lastSeen, long epoch);

    [LoggerMessage(1447, LogLevel.Warning, "Queue message {MessageId} not deleted: the lease could have lapsed; it reappears and its batch id deduplicates it.")]
    public static partial void DeleteSkippedLeaseLapsed(ILogger logger, string messageId);

    [LoggerMessage(1446, LogLevel.Critical, "Snapshot fenced: {Message} Stopping the host.")]
    public static partial void SnapshotFenced(ILogger logger, string message);

    [LoggerMessage(1410, LogLevel.Information, "Restored {Rows} counters from table {Table} in {ElapsedMilliseconds} ms.")]
    public static partial void Restored(ILogger logger, long rows, string table, double elapsedMilliseconds);

    [LoggerMessage(1411, LogLevel.Error, "Restore from table {Table} failed: storage unreachable ({Error}). Not serving until it succeeds; retrying in {DelayMilliseconds} ms.")]
    public static partial void RestoreRetrying(ILogger logger, string table, string error, double delayMilliseconds);

    [LoggerMessage(1412, LogLevel.Information, "Restoring from table {Table}: {Rows} counters loaded, {RangesDone}/{Ranges} partition ranges read, {ElapsedMilliseconds} ms so far.")]
    public static partial void RestoreProgress(ILogger logger, long rows, string table, int rangesDone, int ranges, double elapsedMilliseconds);

    [LoggerMessage(1413, LogLevel.Warning, "Table {Table} holds a row the service cannot serve ({PartitionKey}, {RowKey}): {Reason} ({Rule}). Skipped, not loaded, not deleted.")]
    public static partial void RowSkipped(ILogger logger, string partitionKey, string rowKey, string reason, string rule, string table);

    [LoggerMessage(1414, LogLevel.Warning, "Restore skipped {Count} rows of table {Table} whose key the service cannot serve (the first ones are logged above, each with its reason). FuncMap never updates or deletes them.")]
    public static partial void RowsSkipped(ILogger logger, long count, string table);

    [LoggerMessage(1420, LogLevel.Information, "Snapshot {Run} wrote {Rows} rows in {ElapsedMilliseconds} ms (final: {Final}).")]
    public static partial void SnapshotWritten(ILogger logger, long run, int rows, double elapsedMilliseconds, bool final);

    [LoggerMessage(1421, LogLevel.Error, "Snapshot {Run} of {Rows} rows failed after {ElapsedMilliseconds} ms; nothing marked, it is retried with backoff.")]
    public static partial void SnapshotFailed(ILogger logger, Exception exception, long run, int rows, double elapsedMilliseconds);

    [LoggerMessage(1422, LogLevel.Warning, "Snapshot skipped: this host does not hold the lease.")]
    public static partial void SnapshotSkippedNoLease(ILogger logger);

    [LoggerMessage(1423, LogLevel.Error, "Final snapshot abandoned: {Consequence}.")]
    public static partial void FinalSnapshotAbandoned(ILogger logger, string consequence);

    [LoggerMessage(1424, LogLevel.Warning, "Final snapshot not written within {Seconds} s (Journal mode): nothing is lost; the journal holds every acknowledged write and the next start replays it.")]
    public static partial void FinalSnapshotGaveUpJournaled(ILogger logger, double seconds);

    [LoggerMessage(1425, LogLevel.Critical, "Final snapshot not written within {Seconds} s (Snapshot mode, no journal): the changes of {Counters} counter(s) since the last snapshot are LOST.")]
    public static partial void FinalSnapshotGaveUpLosing(ILogger logger, double seconds, int counters);

    [LoggerMessage(1430, LogLevel.Information, "Ingesting queue {Queue} with {Concurrency} receive loops; a message is deleted once {Safe}.")]
    public static partial void IngestionStarted(ILogger logger, string queue, int concurrency, string safe);

    [LoggerMessage(1431, LogLevel.Warning, "Queue {Queue} unreachable: {Error}. Retrying with backoff.")]
    public static partial void ReceiveFailed(ILogger logger, string queue, string error);

    [LoggerMessage(1432, LogLevel.Warning, "Queue message {MessageId} (dequeue {DequeueCount}) is invalid: {Errors}")]
    public static partial void MessageInvalid(ILogger logger, string messageId, long dequeueCount, string errors);

    [LoggerMessage(1433, LogLevel.Warning, "Queue message {MessageId} (dequeue {DequeueCount}) sent to the poison queue: {Reason}")]
    public static partial void MessagePoisoned(ILogger logger, string messageId, long dequeueCount, string reason);

    [LoggerMessage(1434, LogLevel.Debug, "Queue message {MessageId}: batch {BatchId} was already applied.")]
    public static partial void MessageDuplicate(ILogger logger, string messageId, string batchId);

    [LoggerMessage(1435, LogLevel.Warning, "Queue message {MessageId} (dequeue {DequeueCount}) failed for a passing reason and will reappear: {Error}")]
    public static partial void MessageRetry(ILogger logger, string messageId, long dequeueCount, string error);

    [LoggerMessage(1436, LogLevel.Error, "Queue message {MessageId} failed after {DequeueCount} deliveries; giving up: {Error}")]
    public static partial void MessageGaveUp(ILogger logger, string messageId, long dequeueCount, string error);

    [LoggerMessage(1437, LogLevel.Error, "Queue message {MessageId} failed unexpectedly; it will reappear.")]
    public static partial void MessageFailed(ILogger logger, Exception exception, string messageId);

    [LoggerMessage(1438, LogLevel.Warning, "Batch {BatchId}: {Count} counters would overflow and were not applied ({Keys}); the rest of the batch was applied.")]
    public static partial void KeysOverflowed(ILogger logger, string batchId, int count, string keys);

    [LoggerMessage(1448, LogLevel.Warning, "Batch {BatchId}: {Count} counter(s) not applied because the batch id was applied to them before with another total (idempotency.mismatch): {Keys}.")]
    public static partial void KeysMismatched(ILogger logger, string batchId, int count, string keys);

    [LoggerMessage(1439, LogLevel.Error, "Batch {BatchId}: the poison envelope naming the keys it could not change ({Reason}) could not be sent; the log line before names them.")]
    public static partial void RefusedKeysReportFailed(ILogger logger, Exception exception, string? batchId, string reason);

    [LoggerMessage(1440, LogLevel.Debug, "Queue message {MessageId} could not be deleted or renewed: {Error}")]
    public static partial void DeleteFailed(ILogger logger, string messageId, string error);

    [LoggerMessage(1441, LogLevel.Information, "Ingestion stopped; {Count} applied messages were left on the queue (they reappear and are deduplicated).")]
    public static partial void PendingLeft(ILogger logger, int count);

    [LoggerMessage(1418, LogLevel.Warning, "Snapshot without a journal checkpoint: the journal cannot write ({Cause}). The table gets the durable state; no journal segment is truncated until the journal writes again.")]
    public static partial void SnapshotWithoutCheckpoint(ILogger logger, string cause);

    [LoggerMessage(1419, LogLevel.Information, "The journal writes again: snapshots checkpoint and truncate it again.")]
    public static partial void SnapshotCheckpointsResumed(ILogger logger);

    [LoggerMessage(1450, LogLevel.Warning, "Queue {Queue} was missing (deleted while the host ran) and has been re-created.")]
    public static partial void QueueRecreated(ILogger logger, string queue);

    [LoggerMessage(1451, LogLevel.Critical, "Queue {Queue} does not exist and this host's identity could not create it (status {Status}, error {ErrorCode}): create the queue, or give the identity the role {Role} on the storage account.")]
    public static partial void QueueCreateFailedIdentity(ILogger logger, string queue, string role, int status, string errorCode);

    [LoggerMessage(1452, LogLevel.Warning, "Queue message {MessageId} (dequeue {DequeueCount}) could not be sent to the poison queue {PoisonQueue} ({Error}); it reappears and poisoning is tried again.")]
    public static partial void PoisonFailedRetry(ILogger logger, string messageId, long dequeueCount, string poisonQueue, string error);

    [LoggerMessage(1453, LogLevel.Critical, "Queue message {MessageId} PARKED at delivery {DequeueCount} (MaxDeliveries {MaxDeliveries}): it could not be sent to the poison queue {PoisonQueue} ({Error}). " +
        "It stays on the queue, invisible for {Days} days, and is not processed meanwhile (its batch id deduplicates it when it comes back). Why it was to be poisoned: {Reason}")]
    public static partial void MessageParked(ILogger logger, string messageId, long dequeueCount, int maxDeliveries, string poisonQueue, string error, string reason, double days);
    [LoggerMessage(1460, LogLevel.Information, "The lease row belongs to {Owner} and was not released: watching it for {Seconds} s (by this host's monotonic clock) before judging it expired; a renewal meanwhile means its holder is alive.")]
    public static partial void LeaseWatching(ILogger logger, string owner, double seconds);

    [LoggerMessage(1461, LogLevel.Critical, "STORAGE RESET (AllowStorageReset): the data directory {Directory} held epoch {HeldEpoch} of this storage, the storage's lease is at {StorageEpoch}: the storage was wiped or replaced. " +
        "Serving it as it is, under lease epoch {Epoch}; what the table lacks of this directory's earlier writes is lost unless the journal still holds it.")]
    public static partial void StorageReset(ILogger logger, string directory, long heldEpoch, string storageEpoch, long epoch);

    [LoggerMessage(1462, LogLevel.Critical, "Lease lost to another process with the same owner id {Owner} (its nonce {OtherNonce}, this process's {Nonce}): a copy of the data directory {Directory} is the likely cause. Stopping the host rather than keep writing.")]
    public static partial void LeaseLostToCopy(ILogger logger, string owner, string otherNonce, string nonce, string directory);
    [LoggerMessage(1470, LogLevel.Critical, "Table {Table} was lost while the host ran (deleted, or deleted and created again): re-creating it and its fence rows; the next snapshot rewrites all {Counters} live counters, and the journal is not truncated until it has.")]
    public static partial void TableLost(ILogger logger, string table, int counters);

    [LoggerMessage(1471, LogLevel.Warning, "Table {Table} could not be re-created yet ({Error}); the next snapshot tries again.")]
    public static partial void TableRecreateFailed(ILogger logger, string table, string error);

    [LoggerMessage(1472, LogLevel.Warning, "Table {Table} rewritten after its loss: {Rows} live counters written; journal truncation resumes.")]
    public static partial void TableRewritten(ILogger logger, string table, int rows);

    [LoggerMessage(1473, LogLevel.Critical, "Final snapshot not written within {Seconds} s, and table {Table} was lost while the host ran and not rewritten since: of its {Counters} live counters, those not rewritten are NOT in the table, and {Journal}: they are LOST for the next start unless the table is restored.")]
    public static partial void FinalSnapshotGaveUpTableLost(ILogger logger, double seconds, string table, int counters, string journal);

    [LoggerMessage(1474, LogLevel.Warning, "Snapshot persisted, but the journal's replay requirement (segment {Sequence}) could not be written to the lease table ({Error}): the journal is not truncated until it is.")]
    public static partial void ReplayRequirementNotWritten(ILogger logger, long sequence, string error);

    [LoggerMessage(1475, LogLevel.Information, "The table covers journal {JournalId} before segment {Sequence}: replay must find every segment from it on.")]
    public static partial void ReplayRequired(ILogger logger, long sequence, Guid journalId);

    [LoggerMessage(1476, LogLevel.Critical, "Unclean takeover allowed despite the journal high-water mark: {Reason}")]
    public static partial void JournalBehindLeaseAccepted(ILogger logger, string reason);
}
