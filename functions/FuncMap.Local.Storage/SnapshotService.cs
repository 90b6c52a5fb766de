using System.Diagnostics;
using Azure;
using Azure.Data.Tables.Models;
using FuncMap.Counters;
using FuncMap.Engine;
using FuncMap.Journal;
using FuncMap.Storage;
using FuncMap.Telemetry;
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
/// <para>
/// A lost table: a run whose write finds table <c>Counters</c> missing (<see cref="TableErrorCode.TableNotFound"/>) or
/// its partition fence gone (<see cref="TableErrorCode.ResourceNotFound"/>: the table was deleted and created again)
/// re-creates the table and its fence rows, and the next run rewrites every live counter, each with its operation
/// window (<see cref="CounterEngine.CollectAllAsync"/>), not only the changed ones. Until such a rewrite has
/// persisted, the journal is not truncated (what it still holds is all that is left of the counters not rewritten
/// yet) and a final snapshot that gives up says what that means (<see cref="RewritePending"/>).
/// </para>
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
    private readonly ReplayRequirement _requirement;
    private readonly SemaphoreSlim _runLock = new(1, 1);
    /// <summary>Counters read per page of the engine's published view when every live counter is rewritten.</summary>
    private const int RewritePageSize = 1000;
    /// <summary>Fence rows read by every run to notice a lost table or an emptied partition (<see cref="VerifyFencesAsync"/>).</summary>
    internal const int FencesVerifiedPerRun = 8;

    private TaskCompletionSource _persisted = NewSignal();
    private volatile bool _rewritePending;
    private IReadOnlyList<CounterChange>? _finalChanges;
    private bool _finalChangesAll;
    private Task? _stop;
    private long _runsStarted;
    private long _persistedRun;
    private bool _checkpointRefused; // under _runLock

    internal SnapshotService(CounterEngine engine, CounterStorage storage, IOptions<StorageOptions> options, IEnumerable<IJournalCheckpoint> journal,
        CounterSnapshotWriter writer, ReplayRequirement requirement, LeaseService lease, StartGate gate, StorageStatus status, StorageMetrics metrics, TimeProvider time, ILogger<SnapshotService> logger)
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
        _requirement = requirement;
    }

    /// <summary>The number of runs started so far (a run's number is its start count).</summary>
    public long RunsStarted => Volatile.Read(ref _runsStarted);

    /// <summary>The number of the latest run that persisted all its changes (0 before the first).</summary>
    public long PersistedRun => Volatile.Read(ref _persistedRun);

    /// <summary>
    /// True from the moment a run found the table lost until a run that rewrote every live counter persisted: the
    /// table then lacks counters that did not change since, and the journal is not truncated meanwhile.
    /// </summary>
    public bool RewritePending => _rewritePending;

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
                if (_rewritePending)
                {
                    Log.FinalSnapshotGaveUpTableLost(_logger, seconds, _storage.Counters.Name, LiveCounters(), _engine.IsJournaled ? "the journal holds only the writes since its last truncation" : "there is no journal");
                }
                else if (_engine.IsJournaled)
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
            using var span = StorageTelemetry.Source.StartRoot(FuncMapTelemetry.SnapshotSpan);
            var started = Stopwatch.GetTimestamp();
            var changes = 0;
            var rewrite = _rewritePending;
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
                        var collect = rewrite ? _engine.CollectAllAsync(CancellationToken.None) : _engine.CollectChangesAsync(CancellationToken.None);
                        await _engine.StopAsync().ConfigureAwait(false);
                        _finalChanges = await collect.WaitAsync(cancellationToken).ConfigureAwait(false);
                        _finalChangesAll = rewrite;
                    }
                    else if (rewrite && !_finalChangesAll)
                    {
                        // The table was found lost by an earlier try of this final run: every counter, read directly
                        // from the drained owners' cells (nothing changes any more).
                        _finalChanges = await _engine.CollectAllAsync(cancellationToken).ConfigureAwait(false);
                        _finalChangesAll = true;
                    }

                    collected = _finalChanges;
                }
                else
                {
                    // After a loss of the table, every live counter with its operation window: the rows keep their ids.
                    collected = rewrite
                        ? await _engine.CollectAllAsync(cancellationToken).ConfigureAwait(false)
                        : await _engine.CollectChangesAsync(cancellationToken).ConfigureAwait(false);
                }

                changes = collected.Count;
                if (!rewrite)
                {
                    // A write notices a lost table only in the partitions it writes: every run also reads the fence rows
                    // of FencesVerifiedPerRun partitions in turn, so every partition is looked at within 8 runs.
                    await VerifyFencesAsync(run, cancellationToken).ConfigureAwait(false);
                }

                var written = await _writer.WriteAsync(collected.Select(CounterRow.From), cancellationToken).ConfigureAwait(false);
                if (!final)
                {
                    await _engine.MarkPersistedAsync(collected, cancellationToken).ConfigureAwait(false);
                }

                if (rewrite)
                {
                    _rewritePending = false;
                    changes = written.Upserted + written.Deleted;
                    Log.TableRewritten(_logger, _storage.Counters.Name, written.Upserted);
                }

                if (sequence is { } seq && await RecordReplayFromAsync(seq, cancellationToken).ConfigureAwait(false))
                {
                    // Only once the table holds every live counter (no rewrite pending): see the class summary. And only
                    // once the lease table says that segments from seq on are needed, so that a start missing one refuses.
                    _journal!.TruncateBefore(seq);
                }

                var elapsed = Stopwatch.GetElapsedTime(started);
                _metrics.Snapshot(success: true, elapsed, changes);
                span.Succeeded(FuncMapTelemetry.RowsTag, changes);
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
                span.Failed(ex);
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
                span.Failed(ex);
                _status.SnapshotFailed(ex);
                Log.SnapshotFailed(_logger, ex, run, changes, elapsed.TotalMilliseconds);
                if (IsTableLost(ex))
                {
                    await RecreateTableAsync(cancellationToken).ConfigureAwait(false);
                }

                return false;
            }
        }
        finally
        {
            _runLock.Release();
        }
    }

    /// <summary>
    /// Records in the lease table that the journal is needed from segment <paramref name="sequence"/> on
    /// (<see cref="ReplayRequirement"/>), before older segments are deleted. False when that could not be written:
    /// the snapshot itself persisted, only the truncation waits for a later run.
    /// </summary>
    private async Task<bool> RecordReplayFromAsync(long sequence, CancellationToken cancellationToken)
    {
        try
        {
            await _requirement.WriteAsync(_journal!.JournalId, sequence, _lease.Epoch, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex)
        {
            Log.ReplayRequirementNotWritten(_logger, sequence, ex.Message);
            return false;
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

    /// <summary>
    /// The table is gone (TableNotFound), or was deleted and created again: a fence this writer holds an ETag of is
    /// missing (ResourceNotFound; the writer itself drops that error for deletes of rows already gone).
    /// </summary>
    private static bool IsTableLost(Exception ex) =>
        StorageFailures.ErrorCode(ex) is { } code && (code == TableErrorCode.TableNotFound || code == TableErrorCode.ResourceNotFound);

    /// <summary>
    /// Throws what a write to a lost table would (ResourceNotFound) when a fence row is missing: the table is gone, was
    /// created again, or a partition was emptied behind the host's back (its rows are gone with the fence, the fence
    /// being the partition's marker). Run <paramref name="run"/> reads the fences of partitions
    /// <c>((run - 1) * FencesVerifiedPerRun + i) mod 64</c>, i &lt; <see cref="FencesVerifiedPerRun"/>, in parallel: all 64 within
    /// 64 / FencesVerifiedPerRun runs, so a loss is found within that many <see cref="StorageOptions.SnapshotInterval"/>s
    /// (40 s by default) at a cost of FencesVerifiedPerRun point reads per run. A single row deleted by hand, its fence
    /// kept, is not found this way. Unfenced writers (epoch 0) have no fence to look at.
    /// </summary>
    private async Task VerifyFencesAsync(long run, CancellationToken cancellationToken)
    {
        if (_writer.Epoch == 0)
        {
            return;
        }

        var first = (int)((run - 1) * FencesVerifiedPerRun % CounterPartition.Count);
        var partitions = Enumerable.Range(first, FencesVerifiedPerRun).Select(static p => CounterPartition.Name(p % CounterPartition.Count)).ToArray();
        var reads = partitions.Select(partition => _storage.Counters.GetEntityIfExistsAsync<Azure.Data.Tables.TableEntity>(
            partition, CounterFence.RowKey, select: ["PartitionKey"], cancellationToken: cancellationToken)).ToArray();
        await Task.WhenAll(reads).ConfigureAwait(false);
        for (var i = 0; i < reads.Length; i++)
        {
            if (!reads[i].Result.HasValue)
            {
                throw new Azure.RequestFailedException(404, $"Table {_storage.Counters.Name} has no fence row in partition {partitions[i]}: the table was deleted (or deleted and created again), or the partition emptied.", TableErrorCode.ResourceNotFound.ToString(), null);
            }
        }
    }

    /// <summary>Re-creates the table and its fences and asks the next run to rewrite every live counter; failures are retried by the next run.</summary>
    private async Task RecreateTableAsync(CancellationToken cancellationToken)
    {
        _rewritePending = true;
        Log.TableLost(_logger, _storage.Counters.Name, LiveCounters());
        try
        {
            await _storage.Counters.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
            await _writer.RaiseFencesAsync(_lease.Epoch, cancellationToken).ConfigureAwait(false);
        }
        catch (CounterFencedException ex)
        {
            // A newer owner raised its fences in the new table: nothing more may be written by this host.
            _lease.Fenced(ex);
        }
        catch (Exception ex) when (StorageFailures.IsStorage(ex) || ex is OperationCanceledException)
        {
            // The next run fails the same way and comes back here (or the stop's time ran out).
            Log.TableRecreateFailed(_logger, _storage.Counters.Name, ex.Message);
        }
    }

    /// <summary>How many counters exist now (a pass over the published view).</summary>
    private int LiveCounters()
    {
        var count = 0;
        string? after = null;
        do
        {
            var page = _engine.List(prefix: null, RewritePageSize, after);
            count += page.Items.Count;
            after = page.ContinuationKey;
        }
        while (after is not null);
        return count;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
