using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using FuncMap.Engine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FuncMap.Journal;

/// <summary>
/// The local append-only journal: an <see cref="IOperationLog"/> with group commit, the
/// <see cref="ICounterLoader"/> that replays it on start (order 200, after the snapshot restore at 100),
/// and the <see cref="IJournalCheckpoint"/> the snapshot service truncates it with.
/// </summary>
/// <remarks>
/// One writer thread owns the open segment. <see cref="Append(int, ReadOnlySpan{AppliedOperation}, long)"/> copies the records into the open group
/// under a short lock and returns that group's task; the writer takes the group, writes it as one frame
/// with one write and one fsync, then completes the task, while the next group accumulates. So the
/// number of fsyncs tracks the disk's speed, not the number of callers. A failed write or fsync faults
/// that group and every pending one, and the journal refuses all later writes: after a failed fsync the
/// file's state is unknown, and only a restart (replay) establishes it again.
/// </remarks>
public sealed class OperationJournal : IOperationLog, ICounterLoader, IJournalCheckpoint, IAsyncDisposable, IDisposable
{
    /// <summary>The journal replays after the snapshot restore (100).</summary>
    public const int LoaderOrder = 200;

    private readonly JournalOptions _options;
    private readonly ILogger _logger;
    private readonly JournalMetrics _metrics;
    private readonly Meter? _ownedMeter;
    private readonly Func<string, long, ISegmentFile> _fileFactory;
    private readonly FileStream _lockFile;
    private readonly long[] _segmentsToReplay;
    private readonly Thread _writer;
    private readonly TaskCompletionSource _writerExited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Guarded by _gate (a monitor: the writer waits on it).
    private readonly object _gate = new();
    private readonly Queue<Group> _ready = new();
    private Group? _open;
    private long _lastSequence;
    private int _pendingRotations;
    private Exception? _failure;
    private long _generation;
    private bool _closing;
    private bool _replayed;

    // Owned by the writer thread; _currentSequence is also read by TruncateBefore.
    private ISegmentFile? _file;
    private long _fileLength;
    private long _currentSequence;
    private long _commits;
    private long _recordsWritten;

    // The lease epoch written into each new segment's header (set by BeginEpoch).
    private long _epoch;

    /// <summary>Opens (creating if needed) the journal directory, takes its lock, and starts the writer.</summary>
    public OperationJournal(JournalOptions options, ILogger<OperationJournal>? logger = null, IMeterFactory? meterFactory = null)
        : this(options, logger, meterFactory, FileSegment.Create)
    {
    }

    internal OperationJournal(JournalOptions options, ILogger? logger, IMeterFactory? meterFactory, Func<string, long, ISegmentFile> fileFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _fileFactory = fileFactory;
        var meter = meterFactory?.Create(JournalInstruments.MeterName) ?? (_ownedMeter = new Meter(JournalInstruments.MeterName));
        _metrics = new JournalMetrics(meter);

        DirectoryPath = Path.GetFullPath(options.Directory);
        Directory.CreateDirectory(DirectoryPath);
        _lockFile = AcquireLock(DirectoryPath);
        _segmentsToReplay = ListSegments(DirectoryPath);
        // The writer starts a new segment after the existing ones; it never appends to a replayed one.
        _currentSequence = _lastSequence = (_segmentsToReplay.Length == 0 ? 0 : _segmentsToReplay[^1]) + 1;

        // A dedicated thread, not a pool loop: it blocks in fdatasync, and must not wait behind request work
        // for a core when the sync returns (AboveNormal is honoured on Windows; Linux ignores it without privileges).
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "FuncMap journal writer", Priority = ThreadPriority.AboveNormal };
        _writer.Start();
        Log.Opened(_logger, DirectoryPath, _segmentsToReplay.Length, _currentSequence);
    }

    /// <summary>The absolute path of the segment directory.</summary>
    public string DirectoryPath { get; }

    /// <inheritdoc />
    public int Order => LoaderOrder;

    /// <summary>
    /// The write or fsync error that made the journal refuse writes, or null while it is healthy. For a
    /// health check: once set, every write fails until the host restarts.
    /// </summary>
    public Exception? Failure
    {
        get
        {
            lock (_gate)
            {
                return _failure;
            }
        }
    }

    /// <summary>Group commits done (writes + fsyncs of frames), for tests and benchmarks.</summary>
    internal long CommitCount => Interlocked.Read(ref _commits);

    /// <summary>Records made durable, for tests and benchmarks.</summary>
    internal long RecordsWritten => Interlocked.Read(ref _recordsWritten);

    /// <summary>The used length of the open segment (header and frames; the file itself is preallocated), for tests.</summary>
    internal long SegmentLength => Volatile.Read(ref _fileLength);

    /// <summary>The sequence number of the segment the writer writes to.</summary>
    internal long CurrentSequence => Volatile.Read(ref _currentSequence);

    /// <inheritdoc />
    public long Generation => Interlocked.Read(ref _generation);

    /// <inheritdoc />
    public Task Append(int shard, ReadOnlySpan<AppliedOperation> operations, long generation)
    {
        if (operations.IsEmpty)
        {
            return Task.CompletedTask;
        }

        lock (_gate)
        {
            if (Unusable() is { } refusal)
            {
                return Task.FromException(refusal);
            }

            if (generation != _generation)
            {
                // Built on operations that a failure refused: it must never become durable.
                return Task.FromException(new JournalFailedException(new InvalidOperationException("The operations were applied on top of operations the journal refused.")));
            }

            var group = _open ??= new Group(Math.Min(_options.MaxGroupBytes, 64 * 1024));
            try
            {
                group.Add(operations);
            }
            catch (Exception ex)
            {
                return Task.FromException(ex);
            }

            if (group.Length >= _options.MaxGroupBytes)
            {
                _ready.Enqueue(group);
                _open = null;
            }

            Monitor.Pulse(_gate);
            return group.Done.Task;
        }
    }

    /// <summary>Appends under the current generation: for callers that build nothing on earlier appends (tests, tools).</summary>
    internal Task Append(int shard, ReadOnlySpan<AppliedOperation> operations) => Append(shard, operations, Generation);

    /// <inheritdoc />
    public long Checkpoint()
    {
        lock (_gate)
        {
            if (Unusable() is { } refusal)
            {
                throw refusal;
            }

            if (_open is not null)
            {
                _ready.Enqueue(_open);
                _open = null;
            }

            var sequence = ++_lastSequence;
            _ready.Enqueue(new Group(rotateTo: sequence));
            _pendingRotations++;
            Monitor.Pulse(_gate);
            return sequence;
        }
    }

    /// <inheritdoc />
    public void BeginEpoch(long epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(epoch, uint.MaxValue);
        lock (_gate)
        {
            Interlocked.Exchange(ref _epoch, epoch);
        }

        Checkpoint();
    }

    /// <inheritdoc />
    public void TruncateBefore(long sequence)
    {
        lock (_gate)
        {
            if (!_replayed && _segmentsToReplay.Length > 0)
            {
                throw new InvalidOperationException("The journal holds segments that were not replayed yet: run LoadAsync before truncating it.");
            }
        }

        var limit = Math.Min(sequence, CurrentSequence);
        foreach (var path in Directory.EnumerateFiles(DirectoryPath, JournalFormat.FilePrefix + "*" + JournalFormat.FileSuffix))
        {
            if (JournalFormat.TryParseSequence(Path.GetFileName(path), out var found) && found < limit)
            {
                File.Delete(path);
                Log.SegmentDeleted(_logger, path);
            }
        }
    }

    /// <summary>
    /// Replays the segments that existed when the journal was opened, oldest first, into
    /// <paramref name="engine"/> with <c>persisted: false</c> (the higher version wins, so a record older
    /// than the snapshot's row changes nothing) and restores each record's operation id into the
    /// counter's deduplication window. A torn write at the end of the last segment is truncated with a
    /// warning; a bad record anywhere else throws <see cref="JournalCorruptException"/>.
    /// </summary>
    public Task LoadAsync(CounterEngine engine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return Task.Run(() => Replay(engine, cancellationToken), cancellationToken);
    }

    /// <summary>Writes the pending groups, closes the segment and releases the directory lock.</summary>
    public async ValueTask DisposeAsync()
    {
        BeginClose();
        await _writerExited.Task.ConfigureAwait(false);
        EndClose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Writes the pending groups, closes the segment and releases the directory lock.</summary>
    public void Dispose()
    {
        BeginClose();
        if (Thread.CurrentThread != _writer)
        {
            _writer.Join();
        }

        EndClose();
        GC.SuppressFinalize(this);
    }

    private void BeginClose()
    {
        lock (_gate)
        {
            _closing = true;
            Monitor.PulseAll(_gate);
        }
    }

    private void EndClose()
    {
        _lockFile.Dispose();
        _ownedMeter?.Dispose();
    }

    private Exception? Unusable()
    {
        if (_failure is not null)
        {
            return new JournalFailedException(_failure);
        }

        return _closing ? new ObjectDisposedException(nameof(OperationJournal), "The journal is closed.") : null;
    }

    private void WriterLoop()
    {
        try
        {
            while (TakeNext() is { } group)
            {
                if (group.RotateTo != 0)
                {
                    Rotate(group);
                }
                else
                {
                    Commit(group);
                }
            }

            Log.Closed(_logger);
        }
        catch (Exception ex)
        {
            // Commit and Rotate catch their own I/O errors; anything else is a bug, but callers still hear of it.
            Log.WriterCrashed(_logger, ex);
            Fail(ex, null);
        }
        finally
        {
            try
            {
                CloseSegment(seal: Failure is null);
            }
            catch (Exception ex)
            {
                // Every group was synced already; the segment just keeps its zero tail, which replay reads as its end.
                Log.SealFailed(_logger, ex);
            }

            _writerExited.TrySetResult();
        }
    }

    private Group? TakeNext()
    {
        lock (_gate)
        {
            while (true)
            {
                if (_ready.TryDequeue(out var ready))
                {
                    return ready;
                }

                if (_open is not null)
                {
                    var linger = _options.MaxGroupDelay - Stopwatch.GetElapsedTime(_open.Started);
                    if (!_closing && linger > TimeSpan.Zero)
                    {
                        Monitor.Wait(_gate, linger);
                        continue;
                    }

                    var group = _open;
                    _open = null;
                    return group;
                }

                if (_closing)
                {
                    return null;
                }

                Monitor.Wait(_gate);
            }
        }
    }

    private void Commit(Group group)
    {
        try
        {
            _file ??= OpenSegment(_currentSequence);
            var frame = group.Seal(_fileLength);
            var started = Stopwatch.GetTimestamp();
            _file.Write(frame);
            if (_options.FsyncMode == JournalFsyncMode.Always)
            {
                _file.FlushToDisk();
            }

            _fileLength += frame.Length;
            _metrics.Committed(group.Count, frame.Length, Stopwatch.GetElapsedTime(started));
            Interlocked.Increment(ref _commits);
            Interlocked.Add(ref _recordsWritten, group.Count);
        }
        catch (Exception ex)
        {
            Fail(ex, group);
            return;
        }
        finally
        {
            group.Release();
        }

        group.Done.TrySetResult();
        if (_fileLength >= _options.SegmentMaxBytes)
        {
            RotateForSize();
        }
    }

    private void Rotate(Group marker)
    {
        try
        {
            SwitchTo(marker.RotateTo, "checkpoint");
            marker.Done.TrySetResult();
        }
        catch (Exception ex)
        {
            Fail(ex, marker);
            _ = marker.Done.Task.Exception;
        }
        finally
        {
            lock (_gate)
            {
                _pendingRotations--;
            }
        }
    }

    private void RotateForSize()
    {
        long sequence;
        lock (_gate)
        {
            // A queued checkpoint rotates soon; rotating now to a higher number would put records
            // appended before that checkpoint into a segment it does not cover.
            if (_pendingRotations > 0 || _failure is not null)
            {
                return;
            }

            sequence = ++_lastSequence;
        }

        try
        {
            SwitchTo(sequence, "size");
        }
        catch (Exception ex)
        {
            Fail(ex, null);
        }
    }

    private void SwitchTo(long sequence, string reason)
    {
        // The old segment is sealed (its zero tail cut off, fsynced) before the new one exists.
        CloseSegment(seal: true);
        _file = OpenSegment(sequence);
        Log.Rotated(_logger, sequence, reason);
    }

    /// <summary>Closes the open segment; with <paramref name="seal"/> cuts its zero tail off first (an error then propagates).</summary>
    private void CloseSegment(bool seal)
    {
        if (_file is not { } file)
        {
            return;
        }

        _file = null;
        try
        {
            if (seal)
            {
                file.Seal();
            }
        }
        finally
        {
            file.Dispose();
        }
    }

    private ISegmentFile OpenSegment(long sequence)
    {
        // Created preallocated to SegmentMaxBytes (zero-filled), the file and its directory entry fsynced;
        // then the header is written and synced like a frame.
        var file = _fileFactory(Path.Combine(DirectoryPath, JournalFormat.FileName(sequence)), _options.SegmentMaxBytes);
        try
        {
            Span<byte> header = stackalloc byte[JournalFormat.HeaderSize];
            JournalFormat.WriteHeader(header, sequence, (uint)Interlocked.Read(ref _epoch));
            file.Write(header);
            file.FlushToDisk();
        }
        catch
        {
            file.Dispose();
            throw;
        }

        _fileLength = JournalFormat.HeaderSize;
        Volatile.Write(ref _currentSequence, sequence);
        return file;
    }

    private void Fail(Exception exception, Group? group)
    {
        List<Group> abandoned;
        lock (_gate)
        {
            _failure ??= exception;
            // Before any group is failed: an owner that appends on top of what is refused here is refused too.
            Interlocked.Increment(ref _generation);
            abandoned = [.. _ready];
            _ready.Clear();
            if (_open is not null)
            {
                abandoned.Add(_open);
                _open = null;
            }
        }

        var records = (group?.Count ?? 0) + abandoned.Sum(static g => g.Count);
        Log.WriteFailed(_logger, exception, records);
        _metrics.Failed();
        var error = new JournalFailedException(exception);
        group?.Done.TrySetException(error);
        foreach (var pending in abandoned)
        {
            pending.Release();
            pending.Done.TrySetException(error);
            if (pending.RotateTo != 0)
            {
                // Nobody awaits a checkpoint marker: observe its fault so it is not reported as unobserved.
                _ = pending.Done.Task.Exception;
            }
        }
    }

    private void Replay(CounterEngine engine, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_replayed)
            {
                throw new InvalidOperationException("The journal was already replayed.");
            }
        }

        var started = Stopwatch.GetTimestamp();
        var reader = new SegmentReplayer(engine, _logger);
        for (var i = 0; i < _segmentsToReplay.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var sequence = _segmentsToReplay[i];
            reader.Replay(Path.Combine(DirectoryPath, JournalFormat.FileName(sequence)), sequence, isLast: i == _segmentsToReplay.Length - 1);
        }

        lock (_gate)
        {
            _replayed = true;
        }

        Log.Replayed(_logger, reader.Records, reader.Frames, _segmentsToReplay.Length, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private static FileStream AcquireLock(string directory)
    {
        try
        {
            // FileShare.None is an exclusive lock on every platform (flock on Unix): one writer per directory.
            return new FileStream(Path.Combine(directory, JournalFormat.LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"The journal directory '{directory}' is in use by another process or journal; only one writer may own it. Stop the other host first.", ex);
        }
    }

    private static long[] ListSegments(string directory)
    {
        var sequences = new List<long>();
        foreach (var path in Directory.EnumerateFiles(directory, JournalFormat.FilePrefix + "*" + JournalFormat.FileSuffix))
        {
            if (JournalFormat.TryParseSequence(Path.GetFileName(path), out var sequence))
            {
                sequences.Add(sequence);
            }
        }

        sequences.Sort();
        return [.. sequences];
    }

    /// <summary>One commit's records, accumulated as a frame in a pooled buffer; or a rotation marker.</summary>
    private sealed class Group
    {
        private byte[] _buffer;

        public Group(int capacity)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(capacity);
            Length = JournalFormat.FrameHeaderSize + JournalFormat.FramePrefixSize;
            Started = Stopwatch.GetTimestamp();
        }

        public Group(long rotateTo)
        {
            _buffer = [];
            RotateTo = rotateTo;
        }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>When not zero, this is no group but a checkpoint: start segment <see cref="RotateTo"/>.</summary>
        public long RotateTo { get; }

        public long Started { get; }

        public int Length { get; private set; }

        public int Count { get; private set; }

        /// <summary>Adds all of <paramref name="operations"/> or, if one cannot be encoded, none.</summary>
        public void Add(ReadOnlySpan<AppliedOperation> operations)
        {
            var (length, count) = (Length, Count);
            try
            {
                foreach (ref readonly var operation in operations)
                {
                    Ensure(Length + JournalFormat.MaxRecordSize(operation));
                    Length += JournalFormat.WriteRecord(_buffer.AsSpan(Length), operation);
                    Count++;
                }
            }
            catch
            {
                (Length, Count) = (length, count);
                throw;
            }
        }

        /// <summary>Completes the frame for its position in the segment.</summary>
        public ReadOnlySpan<byte> Seal(long offset)
        {
            var frame = _buffer.AsSpan(0, Length);
            var payload = frame[JournalFormat.FrameHeaderSize..];
            BinaryPrimitives.WriteInt64LittleEndian(payload, offset);
            BinaryPrimitives.WriteUInt32LittleEndian(payload[8..], (uint)Count);
            BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)payload.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], Crc32C.Compute(payload));
            return frame;
        }

        public void Release()
        {
            if (_buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = [];
            }
        }

        private void Ensure(int needed)
        {
            if (needed <= _buffer.Length)
            {
                return;
            }

            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
            _buffer.AsSpan(0, Length).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
    }
}
