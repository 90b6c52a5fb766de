using System.Buffers;
using System.Buffers.Binary;
using FuncMap.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace FuncMap.Journal;

/// <summary>
/// Reads segments frame by frame into an engine. Every frame before the last one of the last segment was
/// fsynced before the next was written, so only that tail may be torn; a bad frame elsewhere, or one
/// followed by a valid frame, is corruption. Segments are preallocated with zeros, so a segment whose
/// writer stopped before sealing it ends in zeros: a frame length of 0 followed by nothing but zeros to the
/// end of the file is the segment's end (in any segment), and is cut off. A zero length with anything
/// non-zero after it is a bad frame like any other.
/// <para>
/// Format version 4 (two commits in flight): a torn frame may be followed by exactly one whole frame, the one
/// written while it was being synced. That frame carries <see cref="JournalFormat.OverlappedFlag"/>; when it is the
/// only valid frame after the bad one, the bad frame, it and whatever follows are a torn tail: not replayed, cut off
/// (neither frame was acknowledged, and the whole one was built on the torn one). Any other valid frame after a bad
/// one is still corruption.
/// </para>
/// <para>
/// A segment whose successor records its valid end (format version 3 and later) is read up to exactly that end: every
/// frame before it must be valid (a bad or zeroed one is corruption, a file shorter than it was shortened), and
/// whatever follows it — a torn write, or a frame whose write or sync failed and which was never acknowledged —
/// is not replayed, and is cut off.
/// </para>
/// </summary>
internal sealed class SegmentReplayer(CounterEngine? engine, ILogger logger)
{
    private const int MaxTailScanBytes = int.MaxValue - 64;

    // The lease epoch of the segment being read (its header's), and whether its frames may carry the overlap flag.
    private uint _epoch;
    private bool _marksOverlap;

    public long Records { get; private set; }

    public long Frames { get; private set; }

    /// <summary>Records not loaded because the service cannot serve their key.</summary>
    public long SkippedRecords { get; private set; }

    private enum Tail
    {
        /// <summary>The last frame ends the file.</summary>
        None,

        /// <summary>A torn write at the end of the last segment.</summary>
        Torn,

        /// <summary>Preallocated zeros after the last frame.</summary>
        Zeros,

        /// <summary>The last segment has no valid header and nothing after it: created, but its header was never synced.</summary>
        Empty,

        /// <summary>Bytes after the valid end the segment's successor recorded.</summary>
        AfterEnd,
    }

    /// <summary>
    /// Reads <paramref name="path"/>'s header (without its frames): the parsed header or what is wrong with it, and
    /// whether the file is headerless — no valid header and nothing after the header's place, so it never held a
    /// frame (a segment whose creation failed before its header was synced).
    /// </summary>
    public static SegmentInfo Inspect(string path, long sequence)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var length = RandomAccess.GetLength(handle);
        Span<byte> bytes = stackalloc byte[JournalFormat.HeaderSize];
        bytes = bytes[..(int)Math.Min(length, JournalFormat.HeaderSize)];
        ReadExactly(handle, bytes, 0);
        var problem = JournalFormat.ReadHeader(bytes, sequence, out var header);
        var headerless = problem is not null && (length <= JournalFormat.HeaderSize || IsZeroToEnd(handle, JournalFormat.HeaderSize, length));
        return new SegmentInfo(sequence, path, length, problem is null ? header : null, problem, headerless);
    }

    /// <summary>
    /// Reads the newest segment without loading it: where its valid content ends (what a successor records), or
    /// null when it has no valid header and nothing after it (created, header never synced). Throws
    /// <see cref="JournalCorruptException"/> as <see cref="Replay"/> would.
    /// </summary>
    public static long? FindEnd(string path, long sequence, ILogger logger)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var length = RandomAccess.GetLength(handle);
        var (truncateAt, _, tail) = new SegmentReplayer(null, logger).ReadSegment(handle, path, sequence, length, bound: null, successor: 0, isLast: true);
        return tail switch
        {
            Tail.None => length,
            Tail.Empty => null,
            _ => truncateAt,
        };
    }

    /// <summary>
    /// Loads the segment at <paramref name="path"/>. With <paramref name="bound"/> (the valid end its successor
    /// <paramref name="successor"/> recorded), reads exactly up to it; without, <paramref name="isLast"/> allows a torn tail.
    /// </summary>
    public void Replay(string path, long sequence, long? bound, long successor, bool isLast)
    {
        long truncateAt;
        Tail tail;
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            var length = RandomAccess.GetLength(handle);
            string reason;
            (truncateAt, reason, tail) = ReadSegment(handle, path, sequence, length, bound, successor, isLast);
            switch (tail)
            {
                case Tail.None:
                    return;
                case Tail.Torn:
                    Log.TornTail(logger, path, truncateAt, reason, length - truncateAt);
                    break;
                case Tail.Zeros:
                    Log.ZeroTail(logger, path, truncateAt, length - truncateAt);
                    break;
                case Tail.AfterEnd:
                    Log.AfterRecordedEnd(logger, path, length - truncateAt, truncateAt, successor);
                    break;
                default:
                    Log.EmptySegmentDeleted(logger, path);
                    break;
            }
        }

        if (tail is Tail.Empty)
        {
            // The header itself never made it: a segment's header is fsynced before any record is
            // written to it, so the file holds nothing that was acknowledged.
            File.Delete(path);
            return;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.None);
        stream.SetLength(truncateAt);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Loads the segment's frames; returns where to truncate its tail and why, or <see cref="Tail.None"/>.</summary>
    private (long TruncateAt, string Reason, Tail Tail) ReadSegment(SafeFileHandle handle, string path, long sequence, long length, long? bound, long successor, bool isLast)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            var headerBytes = buffer.AsSpan(0, (int)Math.Min(length, JournalFormat.HeaderSize));
            ReadExactly(handle, headerBytes, 0);
            if (JournalFormat.ReadHeader(headerBytes, sequence, out var header) is { } headerProblem)
            {
                // Only the newest segment can have been created without its header being synced; then nothing
                // follows the header's place and nothing in it was acknowledged.
                return bound is null && isLast && (length <= JournalFormat.HeaderSize || IsZeroToEnd(handle, JournalFormat.HeaderSize, length))
                    ? (0, "the segment has no header and holds nothing", Tail.Empty)
                    : throw new JournalCorruptException(path, 0, bound is null ? headerProblem : $"{headerProblem} (segment {successor} continues it at offset {bound})");
            }

            _epoch = header.Epoch;
            _marksOverlap = header.MarksOverlap;
            if (bound is { } end)
            {
                if (length < end)
                {
                    throw new JournalCorruptException(path, length,
                        $"the segment is {length} bytes, but segment {successor} continues it at offset {end}: it was shortened, and the frames it held are lost");
                }

                if (end < header.Size)
                {
                    throw new JournalCorruptException(path, 0, $"segment {successor} records its end at offset {end}, inside its {header.Size}-byte header");
                }
            }

            var limit = bound ?? length;
            long position = header.Size;
            while (position < limit)
            {
                var remaining = limit - position;
                if (remaining < JournalFormat.FrameHeaderSize + JournalFormat.FramePrefixSize)
                {
                    return bound is null && IsZeroToEnd(handle, position, length)
                        ? (position, "preallocated zeros", Tail.Zeros)
                        : BadFrame(handle, path, position, length, bound, successor, isLast, _marksOverlap, "the frame header is cut short");
                }

                ReadExactly(handle, buffer.AsSpan(0, JournalFormat.FrameHeaderSize), position);
                var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(buffer);
                var checksum = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(4));
                if (bound is null && payloadLength == 0 && checksum == 0 && IsZeroToEnd(handle, position, length))
                {
                    return (position, "preallocated zeros", Tail.Zeros);
                }

                if (payloadLength < JournalFormat.FramePrefixSize || payloadLength > remaining - JournalFormat.FrameHeaderSize)
                {
                    return BadFrame(handle, path, position, length, bound, successor, isLast, _marksOverlap, $"the frame length {payloadLength} does not fit in the {remaining} bytes left");
                }

                if (buffer.Length < payloadLength)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent((int)payloadLength);
                }

                var payload = buffer.AsSpan(0, (int)payloadLength);
                ReadExactly(handle, payload, position + JournalFormat.FrameHeaderSize);
                if (Crc32C.Compute(payload) != checksum)
                {
                    return BadFrame(handle, path, position, length, bound, successor, isLast, _marksOverlap, "the frame checksum does not match");
                }

                if (BinaryPrimitives.ReadInt64LittleEndian(payload) != position)
                {
                    return BadFrame(handle, path, position, length, bound, successor, isLast, _marksOverlap, "the frame was written for another offset");
                }

                if (engine is not null)
                {
                    LoadFrame(engine, payload, path, position);
                }

                position += JournalFormat.FrameHeaderSize + payloadLength;
            }

            if (length > limit)
            {
                return IsZeroToEnd(handle, limit, length) ? (limit, "preallocated zeros", Tail.Zeros) : (limit, "after the recorded end", Tail.AfterEnd);
            }

            return (-1, string.Empty, Tail.None);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void LoadFrame(CounterEngine target, ReadOnlySpan<byte> payload, string path, long position)
    {
        var count = BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]);
        if (_marksOverlap)
        {
            count &= ~JournalFormat.OverlappedFlag;
        }

        var records = payload[JournalFormat.FramePrefixSize..];
        for (var i = 0u; i < count; i++)
        {
            var read = JournalFormat.ReadRecord(records, out var key, out var data, out var operationId);
            if (read < 0)
            {
                // The checksum matched, so this is no torn write: the writer and reader disagree.
                throw new JournalCorruptException(path, position, $"record {i} of the frame cannot be decoded");
            }

            records = records[read..];
            if (FuncMap.Validation.CounterKey.Validate(key) is { } unservable)
            {
                // Written under an older key rule (e.g. "." before dot segments were refused): no route could read,
                // write or delete it, so it is not loaded; the record stays in the segment until truncation.
                SkippedRecords++;
                Log.RecordSkipped(logger, path, position, key, unservable.Message, unservable.Rule);
                continue;
            }

            target.Load(key, data, operationId is null ? null : [operationId], persisted: false, _epoch);
        }

        if (!records.IsEmpty)
        {
            throw new JournalCorruptException(path, position, $"the frame has {records.Length} bytes after its {count} records");
        }

        Records += count;
        Frames++;
    }

    private static (long TruncateAt, string Reason, Tail Tail) BadFrame(SafeFileHandle handle, string path, long position, long length, long? bound, long successor, bool isLast, bool marksOverlap, string reason)
    {
        if (bound is not null)
        {
            throw new JournalCorruptException(path, position, reason + $" (before offset {bound}, where segment {successor} records that the segment's valid content ends, so not a torn write)");
        }

        if (!isLast)
        {
            throw new JournalCorruptException(path, position, reason + " (in a segment that was closed, so not a torn write)");
        }

        if (NextValidFrame(handle, position + 1, length) is not { } next)
        {
            return (position, reason, Tail.Torn);
        }

        // Two commits in flight: the frame written while the bad one was being synced may be whole. Neither was
        // acknowledged (the second is acknowledged only once the first's sync returned too), so both are cut off.
        if (marksOverlap && next.Overlapped && NextValidFrame(handle, next.Offset + 1, length) is null)
        {
            return (position, reason + $", and the one whole frame after it (offset {next.Offset}) was written while it was in flight", Tail.Torn);
        }

        throw new JournalCorruptException(path, position, reason + (marksOverlap && next.Overlapped
            ? $" (a valid frame follows it at offset {next.Offset}, and another valid frame follows that one, so it is not a torn write)"
            : $" (a valid frame follows it at offset {next.Offset}, so it is not a torn write)"));
    }

    /// <summary>True when every byte in [<paramref name="from"/>, <paramref name="length"/>) is zero.</summary>
    private static bool IsZeroToEnd(SafeFileHandle handle, long from, long length)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1024 * 1024);
        try
        {
            while (from < length)
            {
                var chunk = buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - from));
                ReadExactly(handle, chunk, from);
                if (chunk.ContainsAnyExcept((byte)0))
                {
                    return false;
                }

                from += chunk.Length;
            }

            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The first frame that is valid at its own offset starting anywhere in [<paramref name="from"/>, <paramref name="length"/>),
    /// and whether it carries <see cref="JournalFormat.OverlappedFlag"/>; null when there is none. A tail too large to
    /// scan answers as if a frame followed (offset -1, not overlapped): refusing beats truncating what may be acknowledged.
    /// </summary>
    private static (long Offset, bool Overlapped)? NextValidFrame(SafeFileHandle handle, long from, long length)
    {
        var size = length - from;
        if (size < JournalFormat.FrameHeaderSize + JournalFormat.FramePrefixSize)
        {
            return null;
        }

        if (size > MaxTailScanBytes)
        {
            return (-1, false);
        }

        var tail = new byte[size];
        ReadExactly(handle, tail, from);
        var span = tail.AsSpan();
        for (var i = 0; i + JournalFormat.FrameHeaderSize + JournalFormat.FramePrefixSize <= span.Length; i++)
        {
            if (BinaryPrimitives.ReadInt64LittleEndian(span[(i + JournalFormat.FrameHeaderSize)..]) != from + i)
            {
                continue;
            }

            var payloadLength = BinaryPrimitives.ReadUInt32LittleEndian(span[i..]);
            if (payloadLength < JournalFormat.FramePrefixSize || payloadLength > span.Length - i - JournalFormat.FrameHeaderSize)
            {
                continue;
            }

            var payload = span.Slice(i + JournalFormat.FrameHeaderSize, (int)payloadLength);
            if (Crc32C.Compute(payload) == BinaryPrimitives.ReadUInt32LittleEndian(span[(i + 4)..]))
            {
                return (from + i, (BinaryPrimitives.ReadUInt32LittleEndian(payload[8..]) & JournalFormat.OverlappedFlag) != 0);
            }
        }

        return null;
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        while (!destination.IsEmpty)
        {
            var read = RandomAccess.Read(handle, destination, offset);
            if (read == 0)
            {
                throw new EndOfStreamException("The journal segment ended while it was being read.");
            }

            destination = destination[read..];
            offset += read;
        }
    }
}

/// <summary>A segment file as found at open: its header (null when invalid), and whether it never held a frame.</summary>
internal sealed record SegmentInfo(long Sequence, string Path, long Length, SegmentHeader? Header, string? Problem, bool Headerless);
