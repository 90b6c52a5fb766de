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

    [LoggerMessage(1203, LogLevel.Error, "Journal write failed; {Records} records are not durable and the journal refuses writes until restart.")]
    public static partial void WriteFailed(ILogger logger, Exception exception, int records);

    [LoggerMessage(1204, LogLevel.Information, "Journal started segment {Sequence} ({Reason}).")]
    public static partial void Rotated(ILogger logger, long sequence, string reason);

    [LoggerMessage(1205, LogLevel.Information, "Journal deleted segment {File}: a snapshot holds what it covered.")]
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
}
