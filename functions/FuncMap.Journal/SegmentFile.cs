using Microsoft.Win32.SafeHandles;

namespace FuncMap.Journal;

/// <summary>An open segment as the writer uses it: sequential writes and syncs. A seam for fault injection in tests.</summary>
internal interface ISegmentFile : IDisposable
{
    /// <summary>The bytes reserved for the segment when it was created (0: none; the file grows as it is written).</summary>
    long Preallocated { get; }

    /// <summary>Writes <paramref name="data"/> after what was written before. A failure may leave part of it in the file.</summary>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>Makes what was written durable (fdatasync on Linux): the commit of a group.</summary>
    void FlushToDisk();

    /// <summary>
    /// Cuts the preallocated zero tail off (the file ends at its last frame) and fsyncs the file, so a
    /// closed segment's size is its content. Called on rotation and on close, before the next segment exists.
    /// </summary>
    void Seal();

    /// <summary>
    /// Truncates the file to <paramref name="length"/> bytes and fsyncs it: after a failed write or sync, cuts off
    /// what may have reached the file of the failed frame. Once it returns, nothing after <paramref name="length"/>
    /// can be replayed.
    /// </summary>
    void Cut(long length);
}

/// <summary>
/// A new segment file, unbuffered (the writer hands it whole groups), preallocated up to <c>SegmentMaxBytes</c>:
/// on Linux its blocks are reserved with <c>fallocate</c> when it is created, so an append rarely grows the file.
/// When the full size does not fit (ENOSPC, EDQUOT), half of it is tried, and so on down to
/// <see cref="MinPreallocation"/>; below that, nothing is reserved and the file grows as it is written (a write
/// is then refused only when that write itself finds no space). The reserved blocks are "unwritten" extents
/// (ext4, XFS) whose first write is still a metadata change, so the writer also writes real zeros ahead of its
/// position inside the reserved part, <see cref="ZeroChunk"/> at a time (flushed by the next commit's sync), and
/// never past it. Durability does not depend on any of this: <c>fdatasync</c> flushes whatever metadata reading
/// the data back needs (a size change, an extent conversion); the preallocation only makes that rare.
/// </summary>
internal sealed class FileSegment : ISegmentFile
{
    /// <summary>How far ahead of the last frame the file holds written zeros (at most 1 MiB written at once), inside the preallocated part only.</summary>
    internal const int ZeroChunk = 1024 * 1024;

    /// <summary>Below this, a segment is not preallocated at all (64 KiB).</summary>
    internal const long MinPreallocation = 64 * 1024;

    private static readonly byte[] s_zeros = new byte[ZeroChunk];

    private readonly SafeFileHandle _handle;
    private long _position;
    private long _zeroedTo;

    private FileSegment(string path, long preallocate)
    {
        // CreateNew: a segment is never reopened for writing.
        _handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, FileOptions.None);
        try
        {
            Preallocated = Reserve(_handle, preallocate);

            // The new file's size and allocation, then its directory entry: both durable before any frame
            // is acknowledged, so a commit's fdatasync has only data (and the rare extent change) to flush.
            NativeSync.FullSync(_handle);
            NativeSync.SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
        catch
        {
            _handle.Dispose();
            throw;
        }
    }

    public long Preallocated { get; }

    /// <summary>Creates <paramref name="path"/> (it must not exist), preallocated to at most <paramref name="preallocate"/> bytes (0: none).</summary>
    public static ISegmentFile Create(string path, long preallocate) => new FileSegment(path, preallocate);

    public void Write(ReadOnlySpan<byte> data)
    {
        // Zeros after the frame, never over it, and only inside the reserved part: the region written is always past _position.
        var end = _position + data.Length;
        if (end > _zeroedTo && _zeroedTo < Preallocated)
        {
            var from = Math.Max(_zeroedTo, end);
            var to = Math.Min(Preallocated, from + ZeroChunk);
            if (to > from)
            {
                RandomAccess.Write(_handle, s_zeros.AsSpan(0, (int)(to - from)), from);
            }

            _zeroedTo = Math.Max(to, end);
        }

        RandomAccess.Write(_handle, data, _position);
        _position += data.Length;
    }

    public void FlushToDisk() => NativeSync.DataSync(_handle);

    public void Seal() => Cut(_position);

    public void Cut(long length)
    {
        if (RandomAccess.GetLength(_handle) != length)
        {
            RandomAccess.SetLength(_handle, length);
        }

        NativeSync.FullSync(_handle);
    }

    public void Dispose() => _handle.Dispose();

    /// <summary>Reserves as much of <paramref name="preallocate"/> as fits, halving on ENOSPC/EDQUOT; returns the size reserved (the file's size).</summary>
    private static long Reserve(SafeFileHandle handle, long preallocate)
    {
        for (var size = preallocate; size >= MinPreallocation; size /= 2)
        {
            if (!OperatingSystem.IsLinux())
            {
                // No reservation API that reports why it failed: a sized (sparse) file, as the zero-ahead needs.
                RandomAccess.SetLength(handle, size);
                return size;
            }

            var errno = NativeSync.Allocate(handle, size);
            if (errno == 0)
            {
                // A larger attempt that failed may have grown the file past this size.
                if (RandomAccess.GetLength(handle) != size)
                {
                    RandomAccess.SetLength(handle, size);
                }

                return size;
            }

            if (errno is JournalErrors.EOPNOTSUPP or JournalErrors.ENOSYS or JournalErrors.EINVAL)
            {
                // The file system cannot reserve (e.g. some network file systems): a sized, sparse file instead.
                RandomAccess.SetLength(handle, size);
                return size;
            }

            if (errno is not (JournalErrors.ENOSPC or JournalErrors.EDQUOT))
            {
                throw new IOException($"fallocate of {size} bytes failed (errno {errno}).", errno);
            }
        }

        // Nothing reserved: a failed fallocate may have left blocks or a size behind.
        if (RandomAccess.GetLength(handle) != 0)
        {
            RandomAccess.SetLength(handle, 0);
        }

        return 0;
    }
}
