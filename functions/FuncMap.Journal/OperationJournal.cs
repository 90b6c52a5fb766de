using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using FuncMap.Engine;
using FuncMap.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FuncMap.Journal;

/// <summary>
/// The local append-only journal: an <see cref="IOperationLog"/> with group commit, the
/// <see cref="ICounterLoader"/> that replays it on start (order 200, after the snapshot restore at 100),
/// and the <see cref="IJournalCheckpoint"/> the snapshot service truncates it with.
/// </summary>
/// <remarks>
/// <para>
/// One writer thread owns the open segment. <see cref="Append(int, ReadOnlySpan{AppliedOperation}, long)"/> copies the records into the open group
/// under a short lock and returns that group's task; the writer takes the group, writes it as one frame
/// with one write and one fsync, then completes the task, while the next group accumulates. So the
/// number of fsyncs tracks the disk's speed, not the number of callers.
/// </para>
/// <para>
/// A failed write or fsync makes the journal <see cref="JournalHealthStatus.Unavailable"/>: the failure
/// generation changes, every pending group is refused, and so is every append until the journal has
/// recovered. The failed segment is never written again (after a failed fsync its contents are unknown). The
/// writer cuts it back to the end of its last synced frame and retries, every <c>RecoveryInterval</c>, to start a
/// fresh segment whose header records that end, so the failed frame can never be replayed; once that segment is
/// durable the journal accepts appends again. The failed group's callers are refused with
/// <c>MayBeApplied = false</c> as soon as the cut is durable (the truncation synced, or the recovery segment's
/// header), or with <c>MayBeApplied = true</c> if that did not happen within <c>SettleTimeout</c>.
/// </para>
/// </remarks>
public sealed class OperationJournal : IOperationLog, ICounterLoader, IJournalCheckpoint, IAsyncDisposable, IDisposable
{
    /// <summary>The journal replays after the snapshot restore (100).</summary>
    public const int LoaderOrder = 200;

    // What TakeNext returns when a sync failed: the writer makes the journal unavailable before anything else.
    private static readonly Group SyncFailedMarker = new(rotateTo: -1, forEpoch: false);

    private readonly JournalOptions _options;
    private readonly ILogger _logger;
    private readonly JournalMetrics _metrics;
    private readonly Meter? _ownedMeter;
    private readonly Func<string, long, ISegmentFile> _fileFactory;
    private readonly TimeProvider _time;
    private readonly FileStream _lockFile;
    private readonly SegmentInfo[] _segmentsToReplay;
    private readonly Thread _writer;
    private readonly TaskCompletionSource _writerExited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // The segment created at open, and what it continues (the newest segment with content, and its valid end).
    private readonly long _firstSequence;
    private readonly long _openedPrevious;
    private readonly long _openedEnd;

    // Set when the newest segment could not even be scanned at open: no segment is created, every append is
    // refused and replay throws it (the host refuses to start).
    private readonly JournalCorruptException? _openCorruption;

    // Guarded by _gate (a monitor: the writer waits on it).
    private readonly object _gate = new();
    private readonly Queue<Group> _ready = new();
    private Group? _open;
    private long _lastSequence;
    private int _pendingRotations;
    private long _queuedRotation; // the rotation queued last, while no group was opened after it; else 0
    private Exception? _failure;
    private string _failureCause = string.Empty;
    private string _failureMessage = string.Empty;
    private DateTimeOffset _failedSince;
    private long _generation;
    private bool _closing;
    private bool _replayed;
    private (long Sequence, Guid JournalId)? _requiredFrom;
    private long _oldestNeeded;

    // Published to readers without the lock.
    private volatile JournalHealth _health = JournalHealth.Healthy;
    private volatile bool _writing;
    private volatile bool _currentHasFrames;

    // Owned by the writer thread; _currentSequence is also read by Checkpoint and TruncateBefore. _fileLength is the
    // durable end (after the last acknowledged frame: written by whoever acknowledges), _writeEnd where the next frame goes.
    private ISegmentFile? _file;
    private long _fileLength;
    private long _writeEnd;
    private long _currentSequence;
    private long _commits;
    private long _recordsWritten;
    private List<Group>? _unsettled;

    // Commits in flight (written, fdatasync requested or running, not acknowledged), oldest first, and the sync threads'
    // work; guarded by _syncGate (a monitor: the writer waits on it for a free slot or a drain, the sync threads for work).
    // Lock order: never take _gate while holding _syncGate.
    private readonly object _syncGate = new();
    private readonly Queue<InFlightCommit> _inflight = new();
    private readonly Queue<InFlightCommit> _toSync = new();
    private readonly Thread[] _syncers;
    private Exception? _syncFailure;
    private bool _stopSyncers;
    private volatile bool _syncFailed; // _syncFailure is not null
    private long _settleDeadline;
    private long _nextAttempt;

    // The lease epoch written into each new segment's header (set by BeginEpoch).
    private long _epoch;

    /// <summary>
    /// Opens (creating if needed) the journal directory, takes its lock, creates the segment it will write (which
    /// continues the newest one present), and starts the writer.
    /// </summary>
    /// <exception cref="JournalStartException">The directory, lock file, id file or first segment cannot be created or opened (the errno is named; <c>EWOULDBLOCK</c>: another process owns the directory).</exception>
    public OperationJournal(JournalOptions options, ILogger<OperationJournal>? logger = null, IMeterFactory? meterFactory = null)
        : this(options, logger, meterFactory, FileSegment.Create)
    {
    }

    internal OperationJournal(JournalOptions options, ILogger? logger, IMeterFactory? meterFactory, Func<string, long, ISegmentFile> fileFactory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _fileFactory = fileFactory;
        _time = time ?? TimeProvider.System;

        DirectoryPath = Path.GetFullPath(options.Directory);
        try
        {
            Directory.CreateDirectory(DirectoryPath);
        }
        catch (DirectoryNotFoundException ex) when (FileAncestor(DirectoryPath) is { } file)
        {
            // .NET rewrites mkdir's ENOTDIR to ENOENT (DirectoryNotFoundException): name it again.
            throw new JournalStartException(
                $"The journal cannot start: creating the journal directory '{DirectoryPath}' failed with ENOTDIR ({JournalErrors.Describe("ENOTDIR")}: '{file}' is a file).",
                "ENOTDIR", DirectoryPath, ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw JournalStartException.For("creating the journal directory", DirectoryPath, ex);
        }

        _lockFile = AcquireLock(DirectoryPath);
        try
        {
            _segmentsToReplay = InspectSegments(DirectoryPath);
            JournalId = LoadOrCreateId(DirectoryPath, _segmentsToReplay, _logger);

            // The writer never appends to a replayed segment: it starts one after them that continues the newest
            // one with content, at its valid end (a torn tail is not part of it). Headerless segments on top (their
            // creation failed) are not continued; replay deletes them.
            for (var i = _segmentsToReplay.Length - 1; i >= 0 && _openCorruption is null; i--)
            {
                var info = _segmentsToReplay[i];
                if (info.Headerless)
                {
                    continue;
                }

                try
                {
                    if (SegmentReplayer.FindEnd(info.Path, info.Sequence, _logger) is { } end)
                    {
                        (_openedPrevious, _openedEnd) = (info.Sequence, end);
                        break;
                    }
                }
                catch (JournalCorruptException ex)
                {
                    _openCorruption = ex;
                }
            }

            _firstSequence = _currentSequence = _lastSequence = (_segmentsToReplay.Length == 0 ? 0 : _segmentsToReplay[^1].Sequence) + 1;
            _oldestNeeded = _segmentsToReplay.Length == 0 ? _firstSequence : _segmentsToReplay[0].Sequence;
            if (_openCorruption is null)
            {
                try
                {
                    _file = CreateSegment(_firstSequence, _openedPrevious, _openedEnd);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw JournalStartException.For("creating the first segment", SegmentPath(_firstSequence), ex);
                }
            }
            else
            {
                _failure = _openCorruption;
                _failureCause = nameof(JournalCorruptException);
                _failureMessage = "The journal is corrupt and refuses writes: " + _openCorruption.Message;
                _failedSince = _time.GetUtcNow();
                _health = new JournalHealth(JournalHealthStatus.Unavailable, _failureCause, _failedSince, _failureMessage, OutcomeUnknown: false);
            }
        }
        catch
        {
            _lockFile.Dispose();
            throw;
        }

        var meter = meterFactory?.Create(JournalInstruments.MeterName) ?? (_ownedMeter = new Meter(JournalInstruments.MeterName));
        _metrics = new JournalMetrics(meter);

        // A dedicated thread, not a pool loop: it blocks in fdatasync, and must not wait behind request work
        // for a core when the sync returns (AboveNormal is honoured on Windows; Linux ignores it without privileges).
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "FuncMap journal writer", Priority = ThreadPriority.AboveNormal };
        // One commit in flight: the writer syncs inline (no hand-off); two: the syncs run on sync threads.
        _syncers = _options.FsyncMode == JournalFsyncMode.Always && _options.MaxCommitsInFlight > 1
            ? [.. Enumerable.Range(0, _options.MaxCommitsInFlight).Select(i => new Thread(SyncLoop) { IsBackground = true, Name = $"FuncMap journal sync {i}", Priority = ThreadPriority.AboveNormal })]
            : [];
        foreach (var syncer in _syncers)
        {
            syncer.Start();
        }

        _writer.Start();
        Log.Opened(_logger, DirectoryPath, _segmentsToReplay.Length, _currentSequence);
    }

    /// <summary>The absolute path of the segment directory.</summary>
    public string DirectoryPath { get; }

    /// <summary>
    /// The journal's id: created with the first segment of an empty directory, kept in every segment's header
    /// and in <c>journal.id</c>. A segment with another id is foreign. The snapshot side records it with the
    /// sequence it needs (<see cref="RequireReplayFrom"/>).
    /// </summary>
    public Guid JournalId { get; }

    /// <inheritdoc />
    public int Order => LoaderOrder;

    /// <summary>
    /// Whether the journal accepts writes, and while it does not, why (errno name), since when and in words. For
    /// readiness and the 503 <c>journal.unavailable</c> answer. Changes only at a transition; lock-free to read.
    /// </summary>
    public JournalHealth Health => _health;

    /// <summary>
    /// The write, sync or create error that makes the journal refuse writes, or null while it is healthy (it
    /// clears once the journal has recovered). Prefer <see cref="Health"/>.
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

    /// <summary>
    /// The lowest segment sequence the journal still needs to replay everything a snapshot does not hold: the
    /// oldest segment present at open, raised by <see cref="TruncateBefore"/> to the limit it deleted below.
    /// </summary>
    public long OldestNeededSequence
    {
        get
        {
            lock (_gate)
            {
                return _oldestNeeded;
            }
        }
    }

    /// <summary>Group commits done (writes + fsyncs of frames), for tests and benchmarks.</summary>
    internal long CommitCount => Interlocked.Read(ref _commits);

    /// <summary>
    /// The end of the last durable frame (or header) the writer holds: its segment and the offset after it. Lock-free;
    /// read while the writer rotates it may give the previous segment with the new one's offset, which is earlier
    /// than the truth, never later. For the lease's high-water mark.
    /// </summary>
    public JournalPosition DurablePosition
    {
        get
        {
            // Sequence first: the writer sets the new segment's length before its sequence (CreateSegment).
            var sequence = Volatile.Read(ref _currentSequence);
            return new JournalPosition(sequence, Volatile.Read(ref _fileLength));
        }
    }

    /// <summary>
    /// How far this directory's journal reached when it was opened: the newest segment with a valid header and the end
    /// of its valid content (what the first segment written since continues); <c>(0, 0)</c> for an empty directory;
    /// null when the open found it corrupt (the replay then refuses the start anyway).
    /// </summary>
    public JournalPosition? OpenedAt => _openCorruption is null ? new JournalPosition(_openedPrevious, _openedEnd) : null;

    /// <summary>Records made durable, for tests and benchmarks.</summary>
    internal long RecordsWritten => Interlocked.Read(ref _recordsWritten);

    /// <summary>The used length of the open segment (header and frames; the file itself is preallocated), for tests.</summary>
    internal long SegmentLength => Volatile.Read(ref _fileLength);

    /// <summary>The sequence number of the segment the writer writes to (or, while unavailable, the failed one).</summary>
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
                return Task.FromException(new JournalUnavailableException(
                    $"The operations were applied on top of operations the journal refused ({_failureCause}); they are refused too.",
                    _failureCause, mayBeApplied: false, _failedSince, _failure));
            }

            if (_open is null)
            {
                _open = new Group(Math.Min(_options.MaxGroupBytes, 64 * 1024));
                _queuedRotation = 0;
            }

            var group = _open;
            try
            {
                group.Add(operations);
            }
            catch (Exception ex)
            {
                return Task.FromException(ex);
            }

            if (JournalTelemetry.Source.HasListeners() && Activity.Current is { IsAllDataRequested: true } apply)
            {
                // The appending owner's apply span (and the requests it links to): the commit span links to them.
                group.Link(apply);
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
    /// <remarks>
    /// When nothing was written since the current segment was started (no frame in it, no group pending or being
    /// written), it is not rotated: its own sequence is returned, which satisfies the contract (no record lies in
    /// it), and an idle host needs no new (preallocated) segment every snapshot interval.
    /// </remarks>
    /// <exception cref="JournalUnavailableException">The journal is unavailable.</exception>
    public long Checkpoint() => CheckpointCore(force: false);

    /// <inheritdoc />
    public void BeginEpoch(long epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(epoch, uint.MaxValue);
        lock (_gate)
        {
            Interlocked.Exchange(ref _epoch, epoch);
        }

        // The epoch is in the header: a new segment even when the current one is empty.
        CheckpointCore(force: true);
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

        lock (_gate)
        {
            _oldestNeeded = Math.Max(_oldestNeeded, limit);
        }
    }

    /// <summary>
    /// Tells the journal, before <see cref="LoadAsync"/>, that the snapshot holds everything of journal
    /// <paramref name="journalId"/> before segment <paramref name="sequence"/> (the number <see cref="Checkpoint()"/>
    /// returned for the snapshot the table holds): replay then refuses to start with
    /// <see cref="JournalCorruptException"/> when a segment from <paramref name="sequence"/> on is missing — the
    /// oldest segment present is newer and its chain does not show that the missing numbers were never written.
    /// A requirement for another journal id (the table was written by another host's journal) is not checked.
    /// </summary>
    /// <exception cref="InvalidOperationException">The journal was already replayed.</exception>
    public void RequireReplayFrom(long sequence, Guid journalId)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sequence);
        lock (_gate)
        {
            if (_replayed)
            {
                throw new InvalidOperationException("The journal was already replayed: RequireReplayFrom must be called before LoadAsync.");
            }

            _requiredFrom = (sequence, journalId);
        }
    }

    /// <summary>
    /// Replays the segments that existed when the journal was opened, oldest first, into
    /// <paramref name="engine"/> with <c>persisted: false</c> (the higher version wins, so a record older
    /// than the snapshot's row changes nothing) and restores each record's operation id into the
    /// counter's deduplication window. First checks the chain of segments (each version 3 header records the
    /// segment it continues and where that one's valid content ends): a missing, shortened, zero-filled or
    /// foreign segment, or a missing segment that <see cref="RequireReplayFrom"/> asked for, throws
    /// <see cref="JournalCorruptException"/> (unless <see cref="JournalOptions.AcceptDataLoss"/>). A torn write
    /// at the end of the newest segment, and anything after a segment's recorded end, is cut off with a
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

    private string SegmentPath(long sequence) => Path.Combine(DirectoryPath, JournalFormat.FileName(sequence));

    private long CheckpointCore(bool force)
    {
        lock (_gate)
        {
            if (Unusable() is { } refusal)
            {
                throw refusal;
            }

            // Read _writing before _currentHasFrames, and that before _currentSequence (the writer sets them in the
            // opposite order): an empty current segment with nothing on the way to it is returned as it is.
            if (!force && _open is null && _ready.Count == 0 && _pendingRotations == 0 && !_writing && !_currentHasFrames)
            {
                return Volatile.Read(ref _currentSequence);
            }

            // A rotation queued last, with nothing appended since: its segment will hold no earlier record either.
            if (!force && _open is null && _queuedRotation != 0)
            {
                return _queuedRotation;
            }

            if (_open is not null)
            {
                _ready.Enqueue(_open);
                _open = null;
            }

            var sequence = ++_lastSequence;
            _ready.Enqueue(new Group(rotateTo: sequence, forEpoch: force));
            _queuedRotation = sequence;
            _pendingRotations++;
            Monitor.Pulse(_gate);
            return sequence;
        }
    }

    /// <summary>The refusal while unavailable or closing (called under <see cref="_gate"/>), or null.</summary>
    private Exception? Unusable()
    {
        if (_failure is not null)
        {
            return Refusal(mayBeApplied: false);
        }

        return _closing ? new ObjectDisposedException(nameof(OperationJournal), "The journal is closed.") : null;
    }

    private JournalUnavailableException Refusal(bool mayBeApplied)
    {
        lock (_gate)
        {
            var message = mayBeApplied
                ? _failureMessage + " Whether the refused operations are durable is unknown: the journal could not yet make sure that the failed write will never be replayed."
                : _failureMessage;
            return new JournalUnavailableException(message, _failureCause, mayBeApplied, _failedSince, _failure);
        }
    }

    private void WriterLoop()
    {
        try
        {
            while (true)
            {
                // A free slot first, then the group: the open group keeps accumulating while both commits are in flight.
                WaitForSlot();
                if (TakeNext() is not { } group)
                {
                    break;
                }

                if (ReferenceEquals(group, SyncFailedMarker))
                {
                    Drain(null);
                }
                else if (group.RotateTo != 0)
                {
                    Rotate(group);
                }
                else
                {
                    Commit(group);
                }
            }

            // Closing: every commit in flight is acknowledged (or fails) before the segment is sealed.
            Drain(null);
            Log.Closed(_logger);
        }
        catch (Exception ex)
        {
            // Commit, Rotate and Recover catch their own I/O errors; anything else is a bug, but callers still hear of it.
            Log.WriterCrashed(_logger, ex);
            if (Failure is null)
            {
                Fail(ex, null);
            }
        }
        finally
        {
            if (_unsettled is { } unsettled)
            {
                // Closing before the cut was made durable: the outcome stays unknown.
                _unsettled = null;
                var unknown = Refusal(mayBeApplied: true);
                foreach (var group in unsettled)
                {
                    group.Done.TrySetException(unknown);
                }
            }

            StopSyncers();

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
        while (true)
        {
            lock (_gate)
            {
                if (_failure is null)
                {
                    if (_syncFailed)
                    {
                        // A sync failed: the journal fails before it takes anything else.
                        return SyncFailedMarker;
                    }

                    if (_ready.TryDequeue(out var ready))
                    {
                        _writing = ready.RotateTo == 0;
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
                        _writing = true;
                        return group;
                    }

                    if (_closing)
                    {
                        return null;
                    }

                    Monitor.Wait(_gate);
                    continue;
                }

                // Unavailable: nothing is queued (appends and checkpoints are refused); wait for the next
                // recovery attempt or the failed group's settle deadline.
                if (_closing)
                {
                    return null;
                }

                if (_openCorruption is not null)
                {
                    Monitor.Wait(_gate);
                    continue;
                }

                var due = _unsettled is null ? _nextAttempt : Math.Min(_nextAttempt, _settleDeadline);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    Monitor.Wait(_gate, TimeSpan.FromMilliseconds(Math.Ceiling(wait.TotalMilliseconds)));
                    continue;
                }
            }

            Recover();
        }
    }

    private void Commit(Group group)
    {
        if (_syncers.Length == 0)
        {
            CommitInline(group, sync: _options.FsyncMode == JournalFsyncMode.Always);
            return;
        }

        // Only the writer adds commits in flight, so the slot WaitForSlot found is still free.
        bool overlapped;
        bool syncFailed;
        lock (_syncGate)
        {
            overlapped = _inflight.Count > 0;
            syncFailed = _syncFailure is not null;
        }

        if (syncFailed)
        {
            _writing = false;
            Fail(SyncError(), group);
            return;
        }

        var file = _file!;
        var span = JournalTelemetry.Source.StartRoot(FuncMapTelemetry.CommitSpan, links: group.Links);
        var started = Stopwatch.GetTimestamp();
        int length;
        try
        {
            // Overlapped: the frame before it may still be torn by a crash while this one is whole (replay's rule).
            var frame = group.Seal(_writeEnd, overlapped);
            length = frame.Length;
            file.Write(frame);
        }
        catch (Exception ex)
        {
            span?.SetStatus(ActivityStatusCode.Error, JournalErrors.Cause(ex));
            span?.Dispose();
            group.Release();
            _writing = false;
            Fail(ex, group);
            return;
        }

        group.Release();
        _writeEnd += length;
        _currentHasFrames = true;
        _writing = false;
        if (span is not null)
        {
            // The span ends on the sync thread that acknowledges it; the writer's next span is a root again.
            Activity.Current = null;
        }

        lock (_syncGate)
        {
            var commit = new InFlightCommit(group, file, _writeEnd, length, started, span);
            _inflight.Enqueue(commit);
            _toSync.Enqueue(commit);
            Monitor.PulseAll(_syncGate);
        }

        if (_writeEnd >= _options.SegmentMaxBytes)
        {
            RotateForSize();
        }
    }

    /// <summary>One commit in flight, or <see cref="JournalFsyncMode.Never"/>: written, synced when <paramref name="sync"/>, and acknowledged on the writer thread.</summary>
    private void CommitInline(Group group, bool sync)
    {
        var file = _file!;
        using var span = JournalTelemetry.Source.StartRoot(FuncMapTelemetry.CommitSpan, links: group.Links);
        try
        {
            var frame = group.Seal(_writeEnd, overlapped: false);
            var started = Stopwatch.GetTimestamp();
            file.Write(frame);
            if (sync)
            {
                file.FlushToDisk();
            }

            _writeEnd += frame.Length;
            Volatile.Write(ref _fileLength, _writeEnd);
            _currentHasFrames = true;
            _metrics.Committed(group.Count, frame.Length, Stopwatch.GetElapsedTime(started));
            Interlocked.Increment(ref _commits);
            Interlocked.Add(ref _recordsWritten, group.Count);
            span?.SetTag(FuncMapTelemetry.ItemsTag, group.Count);
        }
        catch (Exception ex)
        {
            span?.SetStatus(ActivityStatusCode.Error, JournalErrors.Cause(ex));
            Fail(ex, group);
            return;
        }
        finally
        {
            group.Release();
            _writing = false;
        }

        group.Done.TrySetResult();
        if (_writeEnd >= _options.SegmentMaxBytes)
        {
            RotateForSize();
        }
    }

    /// <summary>
    /// A sync thread: fdatasyncs the commits the writer hands it, concurrently with the other one. Each fdatasync
    /// covers everything written to the file before it was called, so a commit's own sync covers its frame.
    /// </summary>
    private void SyncLoop()
    {
        while (true)
        {
            InFlightCommit commit;
            lock (_syncGate)
            {
                while (_toSync.Count == 0 && !_stopSyncers)
                {
                    Monitor.Wait(_syncGate);
                }

                if (!_toSync.TryDequeue(out commit!))
                {
                    return;
                }
            }

            Exception? error = null;
            try
            {
                commit.File.FlushToDisk();
            }
            catch (Exception ex)
            {
                error = ex;
            }

            Synced(commit, error);
        }
    }

    /// <summary>
    /// A commit's sync returned (or failed). Acknowledges, in order, every commit at the head whose sync returned
    /// without error: a commit is acknowledged only when its own sync and every earlier commit's sync returned. A
    /// failed sync stops acknowledgements (the commits after it are never acknowledged, whatever their own sync
    /// said: after a failed fdatasync a later one may succeed without the data on the disk) and wakes the writer.
    /// </summary>
    private void Synced(InFlightCommit commit, Exception? error)
    {
        var failed = false;
        lock (_syncGate)
        {
            commit.Finished = true;
            commit.Error = error;
            if (error is not null && _syncFailure is null)
            {
                // Set and cleared together with _syncFailure (under _syncGate), read by TakeNext under _gate.
                _syncFailure = error;
                _syncFailed = true;
            }

            while (_inflight.TryPeek(out var head) && head.Finished && head.Error is null)
            {
                _inflight.Dequeue();
                Volatile.Write(ref _fileLength, head.End);
                _metrics.Committed(head.Group.Count, head.Length, Stopwatch.GetElapsedTime(head.Started));
                Interlocked.Increment(ref _commits);
                Interlocked.Add(ref _recordsWritten, head.Group.Count);
                if (head.Span is { } span)
                {
                    span.SetTag(FuncMapTelemetry.ItemsTag, head.Group.Count);
                    span.Dispose();
                }

                // Under the lock, so acknowledgements happen in commit order (continuations run on the pool).
                head.Group.Done.TrySetResult();
            }

            if (error is not null && commit.Span is { } failedSpan)
            {
                failedSpan.SetStatus(ActivityStatusCode.Error, JournalErrors.Cause(error));
                failedSpan.Dispose();
            }

            failed = _syncFailure is not null;
            Monitor.PulseAll(_syncGate);
        }

        if (failed)
        {
            // Wakes the writer if it waits for work: it checks _syncFailed under _gate before it waits, so this cannot be missed.
            lock (_gate)
            {
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Waits (writer thread) until fewer than <see cref="JournalOptions.MaxCommitsInFlight"/> commits are in flight, or a sync failed.</summary>
    private void WaitForSlot()
    {
        if (_syncers.Length == 0)
        {
            return;
        }

        lock (_syncGate)
        {
            while (_inflight.Count >= _options.MaxCommitsInFlight && _syncFailure is null)
            {
                Monitor.Wait(_syncGate);
            }
        }
    }

    /// <summary>
    /// Waits until every commit in flight is acknowledged (writer thread): true; or, when a sync failed, makes the
    /// journal unavailable (<paramref name="current"/>, a group or checkpoint marker the writer holds, fails with the
    /// commits in flight) and returns false.
    /// </summary>
    private bool Drain(Group? current)
    {
        lock (_syncGate)
        {
            while (_inflight.Count > 0 && _syncFailure is null)
            {
                Monitor.Wait(_syncGate);
            }

            if (_syncFailure is null)
            {
                return true;
            }
        }

        Fail(SyncError(), current);
        return false;
    }

    private Exception SyncError()
    {
        lock (_syncGate)
        {
            return _syncFailure ?? new InvalidOperationException("No sync failed.");
        }
    }

    private void StopSyncers()
    {
        lock (_syncGate)
        {
            _stopSyncers = true;
            Monitor.PulseAll(_syncGate);
        }
    }

    private void Rotate(Group marker)
    {
        try
        {
            if (!Drain(marker))
            {
                return;
            }

            SwitchTo(marker.RotateTo);
            if (marker.ForEpoch)
            {
                Log.Rotated(_logger, marker.RotateTo, "epoch");
            }
            else
            {
                Log.RotatedForCheckpoint(_logger, marker.RotateTo);
            }

            marker.Done.TrySetResult();
        }
        catch (Exception ex)
        {
            Fail(ex, marker);
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
        if (!Drain(null))
        {
            return;
        }

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
            SwitchTo(sequence);
            Log.Rotated(_logger, sequence, "size");
        }
        catch (Exception ex)
        {
            Fail(ex, null);
        }
    }

    private void SwitchTo(long sequence)
    {
        // The old segment is sealed (its zero tail cut off, fsynced) before the new one exists; the new one's
        // header records where the old one ends.
        var (previous, end) = (_currentSequence, _fileLength);
        CloseSegment(seal: true);
        _file = CreateSegment(sequence, previous, end);
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

    /// <summary>
    /// Creates segment <paramref name="sequence"/> (preallocated as far as the disk allows, file and directory
    /// entry fsynced by the factory), then writes and syncs its header, which records that it continues segment
    /// <paramref name="previous"/> whose valid content ends at <paramref name="previousEnd"/>. On failure nothing
    /// of it is left where possible (a headerless leftover is deleted by replay), and the state is unchanged.
    /// </summary>
    private ISegmentFile CreateSegment(long sequence, long previous, long previousEnd)
    {
        var path = SegmentPath(sequence);
        if (File.Exists(path))
        {
            throw new IOException($"The journal segment '{path}' already exists.", JournalErrors.EEXIST);
        }

        ISegmentFile file;
        try
        {
            file = _fileFactory(path, _options.SegmentMaxBytes);
        }
        catch
        {
            TryDelete(path);
            throw;
        }

        try
        {
            Span<byte> header = stackalloc byte[JournalFormat.HeaderSize];
            JournalFormat.WriteHeader(header, sequence, (uint)Interlocked.Read(ref _epoch), JournalId, previous, previousEnd);
            file.Write(header);
            file.FlushToDisk();
        }
        catch
        {
            file.Dispose();
            TryDelete(path);
            throw;
        }

        if (file.Preallocated < _options.SegmentMaxBytes)
        {
            Log.PartialPreallocation(_logger, sequence, file.Preallocated, _options.SegmentMaxBytes);
        }

        Volatile.Write(ref _fileLength, JournalFormat.HeaderSize);
        _writeEnd = JournalFormat.HeaderSize;
        Volatile.Write(ref _currentSequence, sequence);
        _currentHasFrames = false;
        return file;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A leftover without a synced header holds nothing acknowledged; replay deletes it.
        }
    }

    /// <summary>
    /// The journal becomes unavailable (writer thread, while healthy): the generation changes before any group is
    /// refused, pending groups are refused (never written: not applied), and the failed segment is cut back to its
    /// valid end and closed for good. <paramref name="failed"/> (a group whose write or sync failed, so part of it
    /// may be in the file) is refused with <c>MayBeApplied = false</c> once the cut is durable.
    /// </summary>
    private void Fail(Exception exception, Group? failed)
    {
        // First every commit in flight settles: a sync still running must not race the cut, and the commits that
        // were not acknowledged (a sync that failed, or any after it) fail with this one: part of them may be in the file.
        var failedGroups = new List<Group>();
        lock (_syncGate)
        {
            while (_inflight.Any(static c => !c.Finished))
            {
                Monitor.Wait(_syncGate);
            }

            failedGroups.AddRange(_inflight.Select(static c => c.Group));
            _inflight.Clear();
            _toSync.Clear();
            _syncFailure = null;
            _syncFailed = false;
        }

        if (failed is { RotateTo: 0 })
        {
            failedGroups.Add(failed);
        }

        var cause = JournalErrors.Cause(exception);
        var failedSequence = CurrentSequence;
        List<Group> abandoned;
        lock (_gate)
        {
            _failure = exception;
            _failureCause = cause;
            _failedSince = _time.GetUtcNow();
            _failureMessage = $"The journal cannot make writes durable: {cause} ({JournalErrors.Describe(cause)}) on segment {failedSequence} in '{DirectoryPath}'. " +
                $"It refuses writes until it has recovered on a fresh segment (retried every {_options.RecoveryInterval.TotalMilliseconds:0} ms).";
            // Before any group is failed: an owner that appends on top of what is refused here is refused too.
            Interlocked.Increment(ref _generation);
            abandoned = [.. _ready];
            _ready.Clear();
            _queuedRotation = 0;
            if (_open is not null)
            {
                abandoned.Add(_open);
                _open = null;
            }

            _health = new JournalHealth(JournalHealthStatus.Unavailable, cause, _failedSince, _failureMessage, OutcomeUnknown: false);
        }

        var records = failedGroups.Sum(static g => g.Count) + abandoned.Sum(static g => g.Count);
        Log.Unavailable(_logger, exception, cause, JournalErrors.Describe(cause), failedSequence, records, (long)_options.RecoveryInterval.TotalMilliseconds);
        _metrics.Failed();
        var refused = Refusal(mayBeApplied: false);
        foreach (var pending in abandoned)
        {
            pending.Release();
            pending.Done.TrySetException(refused);
            if (pending.RotateTo != 0)
            {
                // Nobody awaits a checkpoint marker: observe its fault so it is not reported as unobserved.
                _ = pending.Done.Task.Exception;
            }
        }

        // The failed segment is never written again: after a failed fsync its unsynced contents are unknown.
        var cutDurable = true;
        if (_file is { } file)
        {
            _file = null;
            try
            {
                file.Cut(_fileLength);
                Log.CutDurable(_logger, SegmentPath(failedSequence), _fileLength);
            }
            catch (Exception ex)
            {
                cutDurable = false;
                Log.CutFailed(_logger, ex, SegmentPath(failedSequence), _fileLength, JournalErrors.Cause(ex));
            }
            finally
            {
                file.Dispose();
            }
        }

        if (failed is { RotateTo: not 0 })
        {
            failed.Done.TrySetException(refused);
            _ = failed.Done.Task.Exception;
        }

        if (failedGroups.Count > 0)
        {
            if (cutDurable)
            {
                foreach (var group in failedGroups)
                {
                    group.Done.TrySetException(refused);
                }
            }
            else
            {
                _unsettled = failedGroups;
                _settleDeadline = Stopwatch.GetTimestamp() + (long)(_options.SettleTimeout.TotalSeconds * Stopwatch.Frequency);
            }
        }

        // The first recovery attempt at once: a transient error may already be gone.
        _nextAttempt = Stopwatch.GetTimestamp();
    }

    /// <summary>
    /// While unavailable (writer thread): past the settle deadline, refuses the failed group as "outcome unknown";
    /// when a recovery attempt is due, tries a fresh segment continuing the failed one at its valid end.
    /// </summary>
    private void Recover()
    {
        var now = Stopwatch.GetTimestamp();
        if (_unsettled is { } late && now >= _settleDeadline)
        {
            _unsettled = null;
            lock (_gate)
            {
                _health = _health with { OutcomeUnknown = true };
            }

            Log.OutcomeUnknown(_logger, (long)_options.SettleTimeout.TotalMilliseconds, late.Sum(static g => g.Count));
            var unknown = Refusal(mayBeApplied: true);
            foreach (var group in late)
            {
                group.Done.TrySetException(unknown);
            }
        }

        if (now < _nextAttempt)
        {
            return;
        }

        _nextAttempt = now + (long)(_options.RecoveryInterval.TotalSeconds * Stopwatch.Frequency);
        long sequence;
        lock (_gate)
        {
            sequence = ++_lastSequence;
        }

        var (previous, end) = (_currentSequence, _fileLength);
        try
        {
            _file = CreateSegment(sequence, previous, end);
        }
        catch (Exception ex)
        {
            Log.RecoveryAttemptFailed(_logger, ex, sequence, JournalErrors.Cause(ex), (long)_options.RecoveryInterval.TotalMilliseconds);
            return;
        }

        // The recovery segment's header (synced) records where the failed segment's valid content ends: the
        // failed frame can never be replayed, so its callers learn it was not applied.
        if (_unsettled is { } settled)
        {
            _unsettled = null;
            var refused = Refusal(mayBeApplied: false);
            foreach (var group in settled)
            {
                group.Done.TrySetException(refused);
            }
        }

        // Logged before Health turns healthy, so whoever sees it healthy also finds the line (only the writer changes the failure fields).
        Log.Recovered(_logger, Math.Round((_time.GetUtcNow() - _failedSince).TotalSeconds, 3), _failureCause, sequence, previous, end);
        lock (_gate)
        {
            _failure = null;
            _health = JournalHealth.Healthy;
        }
    }

    private void Replay(CounterEngine engine, CancellationToken cancellationToken)
    {
        (long Sequence, Guid JournalId)? required;
        lock (_gate)
        {
            if (_replayed)
            {
                throw new InvalidOperationException("The journal was already replayed.");
            }

            required = _requiredFrom;
        }

        var started = Stopwatch.GetTimestamp();
        var plan = PlanReplay(required);
        var reader = new SegmentReplayer(engine, _logger);
        foreach (var step in plan)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (step.Stray)
            {
                File.Delete(step.Info.Path);
                Log.StraySegmentDeleted(_logger, step.Info.Path, step.Successor, step.Bound ?? 0);
                continue;
            }

            if (!step.Skip)
            {
                reader.Replay(step.Info.Path, step.Info.Sequence, step.Bound, step.Successor, step.IsLast);
            }
        }

        lock (_gate)
        {
            _replayed = true;
        }

        Log.Replayed(_logger, reader.Records, reader.Frames, _segmentsToReplay.Length, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>
    /// Checks the chain, newest first: each version 3 header names the segment it continues and that one's valid
    /// end. Starting from the segment created at open (which continues the newest one with content), every link
    /// must find its segment present, at least as long as the recorded end, with a valid header of this journal.
    /// A headerless file the chain skips (its creation failed) is a stray, deleted. The oldest segment's own link
    /// is checked against <paramref name="required"/>. Throws <see cref="JournalCorruptException"/> for a gap
    /// unless <see cref="JournalOptions.AcceptDataLoss"/>, before anything is loaded.
    /// </summary>
    private List<ReplayStep> PlanReplay((long Sequence, Guid JournalId)? required)
    {
        var plan = new List<ReplayStep>(_segmentsToReplay.Length);
        (long Previous, long End, long Successor)? link = _openCorruption is null ? (_openedPrevious, _openedEnd, _firstSequence) : null;
        long? oldest = null;
        for (var i = _segmentsToReplay.Length - 1; i >= 0; i--)
        {
            var info = _segmentsToReplay[i];
            var newest = i == _segmentsToReplay.Length - 1;
            long? bound = null;
            long successor = 0;
            if (link is { } l)
            {
                if (l.Previous == info.Sequence)
                {
                    (bound, successor) = (l.End, l.Successor);
                }
                else if (l.Previous < info.Sequence)
                {
                    // Not in the chain: the successor continues an older segment (or starts the journal).
                    if (info.Headerless && (l.Previous != 0 || newest))
                    {
                        plan.Add(new ReplayStep(info, l.Previous, l.Successor, IsLast: false, Stray: true, Skip: false));
                        continue;
                    }

                    Gap(info.Path, 0, l.Previous == 0
                        ? $"segment {info.Sequence} is not in the journal's chain: segment {l.Successor} starts the journal after it"
                        : $"segment {info.Sequence} is not in the journal's chain: segment {l.Successor} continues segment {l.Previous}, older than it");
                }
                else
                {
                    Gap(SegmentPath(l.Previous), l.End, $"segment {l.Previous} is missing: segment {l.Successor} continues segment {l.Previous} at offset {l.End}");
                }
            }

            if (info.Header is { HasLink: true } foreign && foreign.JournalId != JournalId)
            {
                Gap(info.Path, 0, $"segment {info.Sequence} belongs to another journal (id {foreign.JournalId:D}; this journal is {JournalId:D})");
                plan.Add(new ReplayStep(info, null, 0, IsLast: false, Stray: false, Skip: true));
                link = null;
                continue;
            }

            if (bound is { } end && info.Header is null)
            {
                // Zero-filled or overwritten: what its successor continues is gone.
                Gap(info.Path, 0, $"{info.Problem} (segment {successor} continues segment {info.Sequence} at offset {end})");
                plan.Add(new ReplayStep(info, null, 0, IsLast: false, Stray: false, Skip: true));
                link = null;
                continue;
            }

            var isLast = newest && bound is null;
            if (bound is { } recorded && info.Length < recorded)
            {
                Gap(info.Path, info.Length, $"segment {info.Sequence} is {info.Length} bytes, but segment {successor} continues it at offset {recorded}: it was shortened, and the frames it held are lost");

                // Accepted: read what is left as a torn tail.
                (bound, isLast) = (null, true);
            }

            plan.Add(new ReplayStep(info, bound, successor, isLast, Stray: false, Skip: false));
            oldest = info.Sequence;
            link = info.Header is { HasLink: true } header ? (header.PreviousSequence, header.PreviousEnd, info.Sequence) : null;
        }

        if (required is { } need)
        {
            CheckRequired(need, oldest, link);
        }

        plan.Reverse();
        return plan;
    }

    private void CheckRequired((long Sequence, Guid JournalId) need, long? oldest, (long Previous, long End, long Successor)? link)
    {
        if (need.JournalId != JournalId)
        {
            Log.ReplayRequirementIgnored(_logger, need.Sequence, need.JournalId, JournalId);
            return;
        }

        if (oldest <= need.Sequence)
        {
            return;
        }

        // Nothing from need.Sequence on is present before `oldest` (or at all): fine only when the chain shows
        // that those numbers never held content (the oldest present continues a segment below the requirement).
        switch (link)
        {
            case { Previous: > 0 } l when l.Previous < need.Sequence:
                return;
            case { Previous: > 0 } l:
                Gap(SegmentPath(l.Previous), l.End, $"segment {l.Previous} is missing: segment {l.Successor} continues segment {l.Previous} at offset {l.End}, and the snapshot needs the journal from segment {need.Sequence} on");
                return;
            default:
                Gap(SegmentPath(need.Sequence), 0, oldest is { } o
                    ? $"the snapshot needs the journal from segment {need.Sequence} on, but the oldest segment present is {o}"
                    : $"the snapshot needs the journal from segment {need.Sequence} on, but no segment of it is present");
                return;
        }
    }

    /// <summary>A break in the chain: refuses the start, or with <see cref="JournalOptions.AcceptDataLoss"/> logs it as critical.</summary>
    private void Gap(string path, long offset, string reason)
    {
        if (!_options.AcceptDataLoss)
        {
            throw new JournalCorruptException(path, offset, reason);
        }

        Log.DataLossAccepted(_logger, reason);
    }

    /// <summary>The nearest existing ancestor of <paramref name="path"/> when it is a file (not a directory), else null.</summary>
    private static string? FileAncestor(string path)
    {
        for (var current = Path.GetDirectoryName(path); !string.IsNullOrEmpty(current); current = Path.GetDirectoryName(current))
        {
            if (File.Exists(current))
            {
                return current;
            }

            if (Directory.Exists(current))
            {
                return null;
            }
        }

        return null;
    }

    private static FileStream AcquireLock(string directory)
    {
        var path = Path.Combine(directory, JournalFormat.LockFileName);
        try
        {
            // FileShare.None is an exclusive lock on every platform (flock on Unix): one writer per directory.
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (JournalErrors.IsLockConflict(ex))
        {
            throw new JournalStartException(
                $"The journal directory '{directory}' is in use by another process or journal; only one writer may own it. Stop the other host first.",
                "EWOULDBLOCK", path, ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw JournalStartException.For("opening the lock file", path, ex);
        }
    }

    private static SegmentInfo[] InspectSegments(string directory)
    {
        var sequences = new List<long>();
        try
        {
            foreach (var path in Directory.EnumerateFiles(directory, JournalFormat.FilePrefix + "*" + JournalFormat.FileSuffix))
            {
                if (JournalFormat.TryParseSequence(Path.GetFileName(path), out var sequence))
                {
                    sequences.Add(sequence);
                }
            }

            sequences.Sort();
            return [.. sequences.Select(sequence => SegmentReplayer.Inspect(Path.Combine(directory, JournalFormat.FileName(sequence)), sequence))];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw JournalStartException.For("reading the journal segments in", directory, ex);
        }
    }

    /// <summary>
    /// The journal's id: from <c>journal.id</c>; when that is missing, from the newest version 3 segment (and the
    /// file is written again), or new for a journal without one (written, fsynced, renamed into place).
    /// </summary>
    private static Guid LoadOrCreateId(string directory, SegmentInfo[] segments, ILogger logger)
    {
        var path = Path.Combine(directory, JournalFormat.IdFileName);
        try
        {
            if (File.Exists(path))
            {
                var text = File.ReadAllText(path).Trim();
                return Guid.TryParseExact(text, "D", out var stored)
                    ? stored
                    : throw new JournalCorruptException(path, 0, "the journal id file does not hold a journal id (a GUID)");
            }

            var id = segments.Reverse().Select(static s => s.Header).FirstOrDefault(static h => h is { HasLink: true })?.JournalId ?? Guid.NewGuid();
            var temporary = path + ".tmp";
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(System.Text.Encoding.ASCII.GetBytes(id.ToString("D") + "\n"));
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            NativeSync.SyncDirectory(directory);
            Log.IdCreated(logger, id, path);
            return id;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw JournalStartException.For("writing the journal id file", path, ex);
        }
    }

    /// <summary>One segment in replay order: read up to <paramref name="Bound"/> (its successor's record), deleted as a stray, or skipped.</summary>
    private readonly record struct ReplayStep(SegmentInfo Info, long? Bound, long Successor, bool IsLast, bool Stray, bool Skip);

    /// <summary>A group written to the file whose sync was requested and that is not acknowledged yet. Fields guarded by <see cref="_syncGate"/>.</summary>
    private sealed class InFlightCommit(Group group, ISegmentFile file, long end, int length, long started, Activity? span)
    {
        public Group Group { get; } = group;

        public ISegmentFile File { get; } = file;

        /// <summary>The offset after its frame: the durable end once it is acknowledged.</summary>
        public long End { get; } = end;

        public int Length { get; } = length;

        /// <summary>When its write started (Stopwatch ticks): the commit duration is write + sync.</summary>
        public long Started { get; } = started;

        public Activity? Span { get; } = span;

        public bool Finished { get; set; }

        public Exception? Error { get; set; }
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

        public Group(long rotateTo, bool forEpoch)
        {
            _buffer = [];
            RotateTo = rotateTo;
            ForEpoch = forEpoch;
        }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>When not zero, this is no group but a checkpoint: start segment <see cref="RotateTo"/>.</summary>
        public long RotateTo { get; }

        /// <summary>For a checkpoint marker: true when <see cref="BeginEpoch"/> forced it (logged at Information), not a snapshot.</summary>
        public bool ForEpoch { get; }

        public long Started { get; }

        public int Length { get; private set; }

        public int Count { get; private set; }

        /// <summary>The apply spans that appended to this group and the requests they link to, at most <see cref="FuncMapTelemetry.MaxLinks"/>; null while nobody listens.</summary>
        public List<ActivityLink>? Links { get; private set; }

        /// <summary>Links the commit to <paramref name="apply"/> and to what it links to. Under the journal's gate.</summary>
        public void Link(Activity apply)
        {
            var links = Links ??= [];
            if (links.Count < FuncMapTelemetry.MaxLinks)
            {
                links.Add(new ActivityLink(apply.Context));
            }

            foreach (var link in apply.Links)
            {
                if (links.Count >= FuncMapTelemetry.MaxLinks)
                {
                    return;
                }

                links.Add(link);
            }
        }

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

        /// <summary>
        /// Completes the frame for its position in the segment; <paramref name="overlapped"/> when the frame before it
        /// is still in flight (<see cref="JournalFormat.OverlappedFlag"/>).
        /// </summary>
        public ReadOnlySpan<byte> Seal(long offset, bool overlapped)
        {
            var frame = _buffer.AsSpan(0, Length);
            var payload = frame[JournalFormat.FrameHeaderSize..];
            BinaryPrimitives.WriteInt64LittleEndian(payload, offset);
            BinaryPrimitives.WriteUInt32LittleEndian(payload[8..], (uint)Count | (overlapped ? JournalFormat.OverlappedFlag : 0));
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
