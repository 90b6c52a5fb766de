using Microsoft.Win32.SafeHandles;

namespace FuncMap.Journal;

/// <summary>An open segment as the writer uses it: sequential writes and syncs. A seam for fault injection in tests.</summary>
internal interface ISegmentFile : IDisposable
{
    /// <summary>Writes <paramref name="data"/> after what was written before.</summary>
    void Write(ReadOnlySpan<byte> data);

    /// <summary>Makes what was written durable (fdatasync on Linux): the commit of a group.</summary>
    void FlushToDisk();

    /// <summary>
    /// Cuts the preallocated zero tail off (the file ends at its last frame) and fsyncs the file, so a
    /// closed segment's size is its content. Called on rotation and on close, before the next segment exists.
    /// </summary>
    void Seal();
}

/// <summary>
/// A new segment file, unbuffered (the writer hands it whole groups), preallocated to
/// <c>SegmentMaxBytes</c>: its size is set when it is created, so an append never grows the file. The
/// blocks fallocate reserves are "unwritten" extents (ext4, XFS) whose first write is still a metadata
/// change, so the writer also writes real zeros ahead of its position, <see cref="ZeroChunk"/> at a time
/// (flushed by the next commit's sync): a commit then overwrites written zeros and its <c>fdatasync</c>
/// flushes data only. Durability does not depend on any of this: <c>fdatasync</c> flushes whatever metadata
/// reading the data back needs (a size change, an extent conversion); the preallocation only makes that rare.
/// </summary>
internal sealed class FileSegment : ISegmentFile
{
    /// <summary>How far ahead of the last frame the file holds written zeros (at most 1 MiB written at once).</summary>
    internal const int ZeroChunk = 1024 * 1024;

    private static readonly byte[] s_zeros = new byte[ZeroChunk];

    private readonly SafeFileHandle _handle;
    private readonly long _preallocated;
    private long _position;
    private long _zeroedTo;

    private FileSegment(string path, long preallocate)
    {
        // CreateNew: a segment is never reopened for writing. The preallocation reserves the blocks
        // (fallocate on Linux, ignored where the file system cannot); SetLength makes them the file's size.
        _handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, FileOptions.None, preallocationSize: preallocate);
        try
        {
            if (preallocate > 0)
            {
                RandomAccess.SetLength(_handle, preallocate);
                _preallocated = preallocate;
            }

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

    /// <summary>Creates <paramref name="path"/> (it must not exist), preallocated to <paramref name="preallocate"/> bytes (0: none).</summary>
    public static ISegmentFile Create(string path, long preallocate) => new FileSegment(path, preallocate);

    public void Write(ReadOnlySpan<byte> data)
    {
        // Zeros before the frame, never over it: the region written is always at or past _position.
        var end = _position + data.Length;
        if (end > _zeroedTo && _zeroedTo < _preallocated)
        {
            var from = Math.Max(_zeroedTo, end);
            var to = Math.Min(_preallocated, from + ZeroChunk);
            if (to > from)
            {
                RandomAccess.Write(_handle, s_zeros.AsSpan(0, (int)(to - from)), from);
            }

            _zeroedTo = to;
        }

        RandomAccess.Write(_handle, data, _position);
        _position += data.Length;
    }

    public void FlushToDisk() => NativeSync.DataSync(_handle);

    public void Seal()
    {
        if (RandomAccess.GetLength(_handle) != _position)
        {
            RandomAccess.SetLength(_handle, _position);
        }

        NativeSync.FullSync(_handle);
    }

    public void Dispose() => _handle.Dispose();
}
