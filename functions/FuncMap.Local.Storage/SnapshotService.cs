using System.Diagnostics;
using FuncMap.Engine;
using FuncMap.Journal;
using FuncMap.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Local.Storage;

/// <summary>
/// Writes changed counters to table <c>Counters</c> every <see cref="StorageOptions.SnapshotInterval"/> and once
/// more on a graceful stop, after the engine drained. A run: journal checkpoint (when there is a journal),
/// collect the changes, write them per partition, and only when every partition succeeded mark them persisted
/// and truncate the journal. A failed run marks nothing: its changes are collected again by the next run.
/// Runs are numbered; <see cref="PersistedRun"/> lets ingestion know when an applied message is safe to delete.
/// </summary>
public sealed class SnapshotService : BackgroundService
{
    private readonly CounterEngine _engine;
    private readonly CounterStorage _storage;
    private readonly StorageOptions _options;
    private readonly IJournalCheckpoint? _journal;
    private readonly LeaseService _lease;
    private readonly StartGate _gate;
    private readonly StorageStatus _status;
    private readonly StorageMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CounterSnapshotWriter _writer;
    private readonly SemaphoreSlim _runLock = new(1, 1);
    private TaskCompletionSource _persisted = NewSignal();
    private IReadOnlyList<CounterChange>? _finalChanges;
    private Task? _stop;
    private long _runsStarted;
    private long _persistedRun;
    private bool _checkpointRefused; // under _runLock

    internal SnapshotService(CounterEngine engine, CounterStorage storage, IOptions<StorageOptions> options, IEnumerable<IJournalCheckpoint> journal,
        CounterSnapshotWriter writer, LeaseService lease, StartGate gate, StorageStatus status, StorageMetrics metrics, TimeProvider time, ILogger<SnapshotService> logger)
    {
        _engine = engine;
        _storage = storage;
        _options = options.Value;
        _journal = journal.LastOrDefault();
        _lease = lease;
        _gate = gate;
        _status = status;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _writer = writer;
    }

    /// <summary>The number of runs started so far (a run's number is its start count).</summary>
    public long RunsStarted => Volatile.Read(ref _runsStarted);

    /// <summary>The number of the latest run that persisted all its changes (0 before the first).</summary>
    public long PersistedRun => Volatile.Read(ref _persistedRun);

    /// <summary>Completes at the next successful run.</summary>
    public Task NextPersisted => Volatile.Read(ref _persisted).Task;

    /// <summary>Runs a snapshot now (after any run in progress); true when it persisted everything it collected.</summary>
    public async Task<bool> SnapshotNowAsync(CancellationToken cancellationToken)
    {
        await _gate.WhenLoaded.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await RunAsync(final: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops the periodic runs, then stops the engine (it drains its mailboxes) and writes the final snapshot.
    /// Idempotent: a host may call StopAsync twice (WebApplicationFactory does), and both wait for the one stop.
    /// </summary>
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_runLock)
        {
            return _stop ??= StopCoreAsync(cancellationToken);
        }
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (!_gate.WhenLoaded.IsCompletedSuccessfully)
        {
            return; // Nothing was loaded and nothing served: nothing to write.
        }

        // Bounded, so that a stop with storage away ends (and the lease release still gets its turn): what giving up
        // means depends on the mode, and is said in one line.
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(_options.FinalSnapshotTimeout);
        var done = false;
        for (var failures = 0; !done; failures++)
        {
            try
            {
                done = await RunAsync(final: true, bound.Token).ConfigureAwait(false);
                if (!done)
                {
                    await Task.Delay(Backoff.Delay(failures, _options.SnapshotMaxBackoff), _time, bound.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                var seconds = _options.FinalSnapshotTimeout.TotalSeconds;
                if (_engine.IsJournaled)
                {
                    Log.FinalSnapshotGaveUpJournaled(_logger, seconds);
                }
                else
                {
                    Log.FinalSnapshotGaveUpLosing(_logger, seconds, _finalChanges?.Count ?? 0);
                }

                return;
            }
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _runLock.Dispose();
        base.Dispose();
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _gate.WhenLoaded.WaitAsync(stoppingToken).ConfigureAwait(false);
            var failures = 0;
            while (true)
            {
                var delay = failures == 0 ? _options.SnapshotInterval : Backoff.Delay(failures - 1, _options.SnapshotMaxBackoff);
                await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
                failures = await RunAsync(final: false, stoppingToken).ConfigureAwait(false) ? 0 : failures + 1;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<bool> RunAsync(bool final, CancellationToken cancellationToken)
    {
        await _runLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_lease.IsHeld)
            {
                Log.SnapshotSkippedNoLease(_logger);
                if (final)
                {
                    await _engine.StopAsync().ConfigureAwait(false);
                }

                return final;
            }

            var run = Interlocked.Increment(ref _runsStarted);
            var started = Stopwatch.GetTimestamp();
            var changes = 0;
            try
            {
                var sequence = Checkpoint();
                IReadOnlyList<CounterChange> collected;
                if (final)
                {
                    // The changes of the final run are collected once, as the engine drains: the collect commands are
                    // posted before the mailboxes close, so they are answered before the loops end.
                    if (_finalChanges is null)
                    {
                        var collect = _engine.CollectChangesAsync(CancellationToken.None);
                        await _engine.StopAsync().ConfigureAwait(false);
                        _finalChanges = await collect.WaitAsync(cancellationToken).ConfigureAwait(false);
                    }

                    collected = _finalChanges;
                }
                else
                {
                    collected = await _engine.CollectChangesAsync(cancellationToken).ConfigureAwait(false);
                }

                changes = collected.Count;
                await _writer.WriteAsync(collected.Select(CounterRow.From), cancellationToken).ConfigureAwait(false);
                if (!final)
                {
                    await _engine.MarkPersistedAsync(collected, cancellationToken).ConfigureAwait(false);
                }

                if (sequence is { } seq)
                {
                    _journal!.TruncateBefore(seq);
                }

                var elapsed = Stopwatch.GetElapsedTime(started);
                _metrics.Snapshot(success: true, elapsed, changes);
                _status.SnapshotSucceeded();
                Volatile.Write(ref _persistedRun, run);
                if (final)
                {
                    _lease.MarkStoppedCleanly();
                }

                Interlocked.Exchange(ref _persisted, NewSignal()).TrySetResult();
                if (changes > 0 || final)
                {
                    Log.SnapshotWritten(_logger, run, changes, elapsed.TotalMilliseconds, final);
                }

                return true;
            }
            catch (CounterFencedException ex)
            {
                // A newer owner raised the fence: nothing of this run was written, and nothing more will be.
                _lease.Fenced(ex);
                _metrics.Snapshot(success: false, Stopwatch.GetElapsedTime(started), changes);
                _status.SnapshotFailed(ex);
                return final;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                if (final && ex is EngineStoppedException)
                {
                    Log.FinalSnapshotAbandoned(_logger, "the engine had stopped before the final collect (" + ex.Message + ")");
                    return true;
                }

                var elapsed = Stopwatch.GetElapsedTime(started);
                _metrics.Snapshot(success: false, elapsed, changes);
                _status.SnapshotFailed(ex);
                Log.SnapshotFailed(_logger, ex, run, changes, elapsed.TotalMilliseconds);
                return false;
            }
        }
        finally
        {
            _runLock.Release();
        }
    }

    /// <summary>
    /// The journal's checkpoint, or null without a journal or while the journal cannot write (a full disk, an I/O
    /// error): the snapshot still writes the durable state (the engine publishes and collects nothing the journal
    /// refused), it just truncates nothing, so the table catches up while the disk is away.
    /// </summary>
    private long? Checkpoint()
    {
        if (_journal is null)
        {
            return null;
        }

        try
        {
            var sequence = _journal.Checkpoint();
            if (_checkpointRefused)
            {
                _checkpointRefused = false;
                Log.SnapshotCheckpointsResumed(_logger);
            }

            return sequence;
        }
        catch (OperationLogUnavailableException ex)
        {
            if (!_checkpointRefused)
            {
                // Once per outage, not once per run.
                _checkpointRefused = true;
                Log.SnapshotWithoutCheckpoint(_logger, ex.Cause);
            }

            return null;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
