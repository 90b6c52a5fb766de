using Microsoft.Extensions.Logging;

namespace FuncMap.Journal;

/// <summary>The journal's log messages (EventIds 1200–1299).</summary>
internal static partial class Log
{
    [LoggerMessage(1200, LogLevel.Information, "Journal opened in {Directory}: {Segments} segments to replay, writing segment {Sequence}.")]
    public static partial void Opened(ILogger logger, string directory, int segments, long sequence);

    [LoggerMessage(1201, LogLevel.Information, "Journal replayed {Records} records in {Frames} frames from {Segments} segments in {ElapsedMilliseconds} ms.")]
    public static partial void Replayed(ILogger logger, long records, long frames, int segments, long elapsedMilliseconds);

    [LoggerMessage(1202, LogLevel.Warning, "Journal segment {File} ends in a torn write at offset {Offset} ({Reason}); truncated {Bytes} bytes that were never acknowledged.")]
    public static partial void TornTail(ILogger logger, string file, long offset, string reason, long bytes);


    /// <summary>A rotation that is not routine: <paramref name="reason"/> is <c>size</c> or <c>epoch</c> (checkpoints: 1224).</summary>
    [LoggerMessage(1204, LogLevel.Information, "Journal started segment {Sequence} ({Reason}).")]
    public static partial void Rotated(ILogger logger, long sequence, string reason);

    /// <summary>Routine: after a snapshot (at most once per snapshot interval).</summary>
    [LoggerMessage(1205, LogLevel.Debug, "Journal deleted segment {File}: a snapshot holds what it covered.")]
    public static partial void SegmentDeleted(ILogger logger, string file);

    [LoggerMessage(1206, LogLevel.Information, "Journal closed after writing its pending groups.")]
    public static partial void Closed(ILogger logger);

    [LoggerMessage(1207, LogLevel.Error, "Journal writer stopped unexpectedly.")]
    public static partial void WriterCrashed(ILogger logger, Exception exception);

    [LoggerMessage(1208, LogLevel.Warning, "Journal could not cut the preallocated tail off its last segment on close; it keeps its zero tail, which replay reads as the segment's end.")]
    public static partial void SealFailed(ILogger logger, Exception exception);

    [LoggerMessage(1209, LogLevel.Information, "Journal segment {File} ends in {Bytes} preallocated zero bytes after offset {Offset}; cut off.")]
    public static partial void ZeroTail(ILogger logger, string file, long offset, long bytes);

    [LoggerMessage(1210, LogLevel.Warning, "Journal segment {File} holds only zeros: it was created but its header was never synced, so nothing in it was acknowledged; deleted.")]
    public static partial void EmptySegmentDeleted(ILogger logger, string file);

    [LoggerMessage(1211, LogLevel.Warning, "Journal segment {File}, frame at {Offset}: a record of key {Key} is not loaded: {Reason} ({Rule}).")]
    public static partial void RecordSkipped(ILogger logger, string file, long offset, string key, string reason, string rule);

    [LoggerMessage(1212, LogLevel.Warning, "Journal segment {File}: {Bytes} bytes after offset {Offset} are not replayed: segment {Successor} records that its valid content ends there (a torn write, or a frame whose write or sync failed and that was never acknowledged); cut off.")]
    public static partial void AfterRecordedEnd(ILogger logger, string file, long bytes, long offset, long successor);

    [LoggerMessage(1213, LogLevel.Error, "Journal unavailable: {Cause} ({Description}) writing segment {Sequence}; {Records} records refused. It refuses writes and retries recovery on a fresh segment every {RetryMilliseconds} ms.")]
    public static partial void Unavailable(ILogger logger, Exception exception, string cause, string description, long sequence, long records, long retryMilliseconds);

    [LoggerMessage(1214, LogLevel.Warning, "Journal recovered after {Seconds} s unavailable ({Cause}): writing segment {Sequence}, which continues segment {Previous} at offset {Offset}.")]
    public static partial void Recovered(ILogger logger, double seconds, string cause, long sequence, long previous, long offset);

    [LoggerMessage(1215, LogLevel.Information, "Journal cut segment {File} back to {Offset} bytes after the failed write or sync: the failed frame can never be replayed.")]
    public static partial void CutDurable(ILogger logger, string file, long offset);

    [LoggerMessage(1216, LogLevel.Warning, "Journal could not make its cut durable within {Milliseconds} ms: {Records} refused records may still be replayed after a restart (outcome unknown).")]
    public static partial void OutcomeUnknown(ILogger logger, long milliseconds, long records);

    [LoggerMessage(1217, LogLevel.Critical, "Journal continuity broken: {Reason}. FuncMap:Journal:AcceptDataLoss is set, so the start continues; the writes the missing part held are lost.")]
    public static partial void DataLossAccepted(ILogger logger, string reason);

    [LoggerMessage(1218, LogLevel.Warning, "Journal segment {File} has no header and is not in the journal's chain (segment {Successor} continues segment {Previous}): its creation failed, it holds nothing acknowledged; deleted.")]
    public static partial void StraySegmentDeleted(ILogger logger, string file, long successor, long previous);

    [LoggerMessage(1219, LogLevel.Warning, "Journal segment {Sequence} preallocated {Bytes} of {Wanted} bytes: the disk is nearly full (the segment grows as it is written).")]
    public static partial void PartialPreallocation(ILogger logger, long sequence, long bytes, long wanted);

    [LoggerMessage(1220, LogLevel.Debug, "Journal recovery attempt on segment {Sequence} failed ({Cause}); retrying in {RetryMilliseconds} ms.")]
    public static partial void RecoveryAttemptFailed(ILogger logger, Exception exception, long sequence, string cause, long retryMilliseconds);

    [LoggerMessage(1221, LogLevel.Warning, "Journal could not cut segment {File} back to {Offset} bytes after the failed write or sync ({Cause}); the recovery segment's header will record the cut instead.")]
    public static partial void CutFailed(ILogger logger, Exception exception, string file, long offset, string cause);

    [LoggerMessage(1222, LogLevel.Information, "Journal replay requirement from segment {Sequence} is for journal {RequiredId}, not this journal ({JournalId}): not checked.")]
    public static partial void ReplayRequirementIgnored(ILogger logger, long sequence, Guid requiredId, Guid journalId);

    [LoggerMessage(1223, LogLevel.Information, "Journal id {JournalId} created in {File}.")]
    public static partial void IdCreated(ILogger logger, Guid journalId, string file);

    /// <summary>Routine: a snapshot's checkpoint (at most once per snapshot interval); other rotations are 1204.</summary>
    [LoggerMessage(1224, LogLevel.Debug, "Journal started segment {Sequence} (checkpoint).")]
    public static partial void RotatedForCheckpoint(ILogger logger, long sequence);
}
