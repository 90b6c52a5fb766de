namespace FuncMap.Journal;

/// <summary>An open segment as the writer uses it: sequential writes and fsync. A seam for fault injection in tests.</summary>
internal interface ISegmentFile : IDisposable
{
    void Write(ReadOnlySpan<byte> data);

    void FlushToDisk();
}

/// <summary>A new segment file, unbuffered (the writer hands it whole groups).</summary>
internal sealed class FileSegment(string path) : ISegmentFile
{
    private readonly FileStream _stream = new(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, bufferSize: 0);

    public static ISegmentFile Create(string path) => new FileSegment(path);

    public void Write(ReadOnlySpan<byte> data) => _stream.Write(data);

    public void FlushToDisk() => _stream.Flush(flushToDisk: true);

    public void Dispose() => _stream.Dispose();
}
