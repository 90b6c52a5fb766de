using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using FuncMap.Counters;
using FuncMap.Engine;

namespace FuncMap.Journal;

/// <summary>
/// The on-disk format, little-endian throughout.
/// <para>
/// Segment <c>journal-{sequence:D20}.log</c>: a header, then frames. Format versions 3 (written since #18) and 4
/// (written since #24: the same header, frames may carry <see cref="OverlappedFlag"/>) have a
/// 64-byte header — magic <c>FMJL</c> (u32), format version (u16), reserved (u16), sequence (i64), CRC-32C (u32)
/// of the other 60 bytes, lease epoch (u32), journal id (16 bytes, a GUID), the sequence of the segment this one
/// continues (i64, 0 for the first segment of a journal), that segment's valid end (i64: the offset after its
/// last frame that was made durable; the reader never replays anything after it), reserved (u64, zero).
/// Versions 1 and 2 (still read) have a 24-byte header: the first 16 bytes as above, the CRC, and in version 2
/// the epoch (covered by the CRC with the first 16 bytes); version 1 has no epoch (read as 0).
/// </para>
/// <para>
/// The epoch is the single-writer lease epoch every record of the segment was written under, so that replay
/// never lets a record override a row a newer owner wrote. The journal id and the link to the previous segment
/// let replay prove the journal's continuity: a missing, shortened, zero-filled or foreign segment is detected.
/// </para>
/// <para>
/// Frame (one per group commit, i.e. per write + fsync): payload length (u32), CRC-32C of the payload
/// (u32), payload = the frame's own offset in the file (i64), record count (u32; in version 4 its top bit is
/// <see cref="OverlappedFlag"/>), records. The offset inside the checksummed payload makes a frame valid only where
/// it was written, so a scan can tell a real frame after a bad one (corruption) from garbage at the tail (a torn
/// write); the overlap flag tells the one whole frame that may follow a torn one (see the journal's README).
/// </para>
/// <para>
/// Record: flags (u8: 1 = exists, 2 = has operation id), key length (u16) + key (UTF-8), value (i64),
/// version (i64), updatedAtTicks (i64), then when flagged operation id length (u16) + id (UTF-8).
/// A record holds the counter's resulting state, so replay is "keep the highest version": idempotent.
/// </para>
/// </summary>
internal static class JournalFormat
{
    public const uint Magic = 0x4C4A4D46; // "FMJL"
    public const ushort FormatVersion = 4;

    /// <summary>The first format version with the 64-byte linked header (version 4 has the same header).</summary>
    public const ushort FormatVersionLinked = 3;
    private const ushort FormatVersionWithEpoch = 2;
    private const ushort FormatVersionWithoutEpoch = 1;

    /// <summary>
    /// In a version 4 frame, the top bit of the record count: the frame was written while the frame before it was
    /// still being synced (two commits in flight), so that frame may be torn while this one is whole.
    /// </summary>
    public const uint OverlappedFlag = 0x8000_0000u;

    /// <summary>The header size of the segments this build writes (format versions 3 and 4).</summary>
    public const int HeaderSize = 64;

    /// <summary>The header size of format versions 1 and 2.</summary>
    public const int LegacyHeaderSize = 24;
    public const int FrameHeaderSize = 8;
    public const int FramePrefixSize = 12;
    public const string FilePrefix = "journal-";
    public const string FileSuffix = ".log";
    public const string LockFileName = "journal.lock";
    public const string IdFileName = "journal.id";

    private const byte ExistsFlag = 1;
    private const byte OperationIdFlag = 2;
    private const int FixedRecordSize = 1 + 2 + 8 + 8 + 8;

    public static string FileName(long sequence) =>
        FilePrefix + sequence.ToString("D20", CultureInfo.InvariantCulture) + FileSuffix;

    public static bool TryParseSequence(string fileName, out long sequence)
    {
        sequence = 0;
        return fileName.StartsWith(FilePrefix, StringComparison.Ordinal)
            && fileName.EndsWith(FileSuffix, StringComparison.Ordinal)
            && fileName.Length == FilePrefix.Length + 20 + FileSuffix.Length
            && long.TryParse(fileName.AsSpan(FilePrefix.Length, 20), NumberStyles.None, CultureInfo.InvariantCulture, out sequence);
    }

    /// <summary>Writes a format version 4 header (<see cref="HeaderSize"/> bytes) into <paramref name="destination"/>.</summary>
    public static void WriteHeader(Span<byte> destination, long sequence, uint epoch, Guid journalId, long previousSequence, long previousEnd)
    {
        destination = destination[..HeaderSize];
        destination.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], FormatVersion);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], sequence);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], epoch);
        journalId.TryWriteBytes(destination.Slice(24, 16));
        BinaryPrimitives.WriteInt64LittleEndian(destination[40..], previousSequence);
        BinaryPrimitives.WriteInt64LittleEndian(destination[48..], previousEnd);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], HeaderChecksum(destination, FormatVersion));
    }

    /// <summary>
    /// Parses the header at the start of <paramref name="bytes"/> (the file's first bytes: at least
    /// <see cref="LegacyHeaderSize"/>, up to <see cref="HeaderSize"/>). Returns null when it is a valid header for
    /// <paramref name="expectedSequence"/>, otherwise what is wrong.
    /// </summary>
    public static string? ReadHeader(ReadOnlySpan<byte> bytes, long expectedSequence, out SegmentHeader header)
    {
        header = default;
        if (bytes.Length < LegacyHeaderSize)
        {
            return $"the segment is {bytes.Length} bytes, shorter than a header";
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
        {
            return "the segment header has no journal magic";
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(bytes[4..]);
        if (version is not (FormatVersion or FormatVersionLinked or FormatVersionWithEpoch or FormatVersionWithoutEpoch))
        {
            return $"the segment has format version {version}; this build reads versions {FormatVersionWithoutEpoch} to {FormatVersion}";
        }

        var size = version >= FormatVersionLinked ? HeaderSize : LegacyHeaderSize;
        if (bytes.Length < size)
        {
            return $"the segment is {bytes.Length} bytes, shorter than its {size}-byte header";
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes[16..]) != HeaderChecksum(bytes, version))
        {
            return "the segment header's checksum does not match";
        }

        var sequence = BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]);
        header = version >= FormatVersionLinked
            ? new SegmentHeader(version, sequence, BinaryPrimitives.ReadUInt32LittleEndian(bytes[20..]), new Guid(bytes.Slice(24, 16)),
                BinaryPrimitives.ReadInt64LittleEndian(bytes[40..]), BinaryPrimitives.ReadInt64LittleEndian(bytes[48..]))
            : new SegmentHeader(version, sequence, version == FormatVersionWithEpoch ? BinaryPrimitives.ReadUInt32LittleEndian(bytes[20..]) : 0, Guid.Empty, 0, 0);
        return sequence == expectedSequence ? null : $"the header says sequence {sequence} but the file name says {expectedSequence}";
    }

    private static uint HeaderChecksum(ReadOnlySpan<byte> header, ushort version)
    {
        if (version == FormatVersionWithoutEpoch)
        {
            return Crc32C.Compute(header[..16]);
        }

        var size = version >= FormatVersionLinked ? HeaderSize : LegacyHeaderSize;
        Span<byte> covered = stackalloc byte[HeaderSize - 4];
        header[..16].CopyTo(covered);
        header[20..size].CopyTo(covered[16..]);
        return Crc32C.Compute(covered[..(size - 4)]);
    }

    /// <summary>An upper bound of the bytes <see cref="WriteRecord"/> needs for <paramref name="operation"/>.</summary>
    public static int MaxRecordSize(in AppliedOperation operation) =>
        FixedRecordSize + Encoding.UTF8.GetMaxByteCount(operation.Key.Length)
        + (operation.OperationId is null ? 0 : 2 + Encoding.UTF8.GetMaxByteCount(operation.OperationId.Length));

    /// <summary>Writes one record; returns its length.</summary>
    public static int WriteRecord(Span<byte> destination, in AppliedOperation operation)
    {
        var data = operation.After;
        destination[0] = (byte)((data.Exists ? ExistsFlag : 0) | (operation.OperationId is null ? 0 : OperationIdFlag));
        var position = 1;
        position += WriteString(destination[position..], operation.Key);
        BinaryPrimitives.WriteInt64LittleEndian(destination[position..], data.Value);
        BinaryPrimitives.WriteInt64LittleEndian(destination[(position + 8)..], data.Version);
        BinaryPrimitives.WriteInt64LittleEndian(destination[(position + 16)..], data.UpdatedAtTicks);
        position += 24;
        if (operation.OperationId is not null)
        {
            position += WriteString(destination[position..], operation.OperationId);
        }

        return position;
    }

    /// <summary>Reads one record; returns its length, or -1 when it is malformed.</summary>
    public static int ReadRecord(ReadOnlySpan<byte> source, out string key, out CounterData data, out string? operationId)
    {
        key = string.Empty;
        data = default;
        operationId = null;
        if (source.Length < FixedRecordSize)
        {
            return -1;
        }

        var flags = source[0];
        if ((flags & ~(ExistsFlag | OperationIdFlag)) != 0)
        {
            return -1;
        }

        var position = 1;
        var read = ReadString(source[position..], out key);
        if (read < 0 || source.Length < position + read + 24)
        {
            return -1;
        }

        position += read;
        data = new CounterData
        {
            Value = BinaryPrimitives.ReadInt64LittleEndian(source[position..]),
            Version = BinaryPrimitives.ReadInt64LittleEndian(source[(position + 8)..]),
            UpdatedAtTicks = BinaryPrimitives.ReadInt64LittleEndian(source[(position + 16)..]),
            Exists = (flags & ExistsFlag) != 0,
        };
        position += 24;
        if ((flags & OperationIdFlag) != 0)
        {
            read = ReadString(source[position..], out var id);
            if (read < 0)
            {
                return -1;
            }

            operationId = id;
            position += read;
        }

        return position;
    }

    private static int WriteString(Span<byte> destination, string value)
    {
        var length = Encoding.UTF8.GetBytes(value, destination[2..]);
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException($"A journal string is at most {ushort.MaxValue} UTF-8 bytes; this one has {length}.", nameof(value));
        }

        BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)length);
        return 2 + length;
    }

    private static int ReadString(ReadOnlySpan<byte> source, out string value)
    {
        value = string.Empty;
        if (source.Length < 2)
        {
            return -1;
        }

        var length = BinaryPrimitives.ReadUInt16LittleEndian(source);
        if (length == 0 || source.Length < 2 + length)
        {
            return -1;
        }

        value = Encoding.UTF8.GetString(source.Slice(2, length));
        return 2 + length;
    }
}

/// <summary>A segment's parsed header.</summary>
/// <param name="Version">The format version (1 to 4).</param>
/// <param name="Sequence">The segment's sequence number.</param>
/// <param name="Epoch">The lease epoch its records were written under (0 for version 1).</param>
/// <param name="JournalId">The journal the segment belongs to (versions 3 and 4; <see cref="Guid.Empty"/> before).</param>
/// <param name="PreviousSequence">The segment it continues (versions 3 and 4; 0: the first segment of the journal, or unknown before version 3).</param>
/// <param name="PreviousEnd">The valid end, in bytes, of <paramref name="PreviousSequence"/>: nothing after it is replayed.</param>
internal readonly record struct SegmentHeader(ushort Version, long Sequence, uint Epoch, Guid JournalId, long PreviousSequence, long PreviousEnd)
{
    /// <summary>The header's size in the file: where the first frame starts.</summary>
    public int Size => Version >= JournalFormat.FormatVersionLinked ? JournalFormat.HeaderSize : JournalFormat.LegacyHeaderSize;

    /// <summary>Whether the header records the segment it continues (versions 3 and 4).</summary>
    public bool HasLink => Version >= JournalFormat.FormatVersionLinked;

    /// <summary>Whether its frames carry <see cref="JournalFormat.OverlappedFlag"/> (version 4): a torn frame may be followed by one whole one.</summary>
    public bool MarksOverlap => Version >= JournalFormat.FormatVersion;
}
