using System.Diagnostics;
using FuncMap.Batches;
using FuncMap.Counters;
using FuncMap.Telemetry;
using Microsoft.Extensions.Logging;

namespace FuncMap.Engine;

/// <summary>
/// One owner: a mailbox and the loop that alone applies operations to this shard's counters.
/// Readers go straight to <see cref="TryRead"/>, which never waits for the loop.
/// </summary>
/// <remarks>
/// The loop drains the mailbox in batches. Consecutive operations on the same counter (a hot key) are
/// applied to a working copy and kept once when the run ends, so a hot key pays for one
/// publication per run instead of one per operation. An answer is given only after the state it reports
/// is published: a caller that got an answer always reads its own write.
/// <para>
/// With a log, nothing is published before it is durable. The owner's state runs ahead by the drains whose
/// records are in flight (<see cref="_inflight"/>); when a drain's append completes, its counters' states are
/// published and then its callers answered. When an append fails, the log has refused it and everything appended
/// after it (<see cref="IOperationLog"/>'s contract), so at its next drain the owner rolls back every counter
/// those drains touched to its published (durable) state, and their operation ids out of the deduplication
/// window: readers never saw the refused operations, no restart brings them back, and a retry is applied anew.
/// </para>
/// </remarks>
internal sealed class Shard
{
    private readonly int _id;
    private readonly Mailbox<Command> _mailbox;
    private readonly CellTable _cells = new();
    private readonly IOperationLog? _log;
    private readonly TimeProvider _time;
    private readonly EngineMetrics _metrics;
    private readonly ILogger _logger;
    private readonly int _maxDrain;
    private readonly TimeSpan _settleTimeout;

    // Owner-only scratch buffers, reused across drains.
    private readonly List<AppliedOperation> _applied = [];
    private readonly List<(ICompletion Completion, OperationResult Result)> _pending = [];

    // With a log, the drain's counters as its runs left them, the window entries it added (with the entry each one
    // pushed out), and the snapshot collections answered once it is durable.
    private readonly List<Publication> _touched = [];
    private readonly List<WindowUndo> _windowUndo = [];
    private readonly List<(TaskCompletionSource<List<CounterChange>> Reply, List<CounterChange> Changes)> _collects = [];

    // With a log: the drains whose append has not been seen complete by the owner, oldest first; the log generation
    // they were appended under; the lock durable publications take (one publisher per cell at a time).
    private readonly Queue<InFlight> _inflight = new();
    private readonly Lock _publication = new();
    private long _generation;

    // The current run: consecutive operations on one cell, applied to a working copy.
    private CounterCell? _run;
    private CounterData _runData;
    private bool _runDirty;

    // The durability of the last drain that applied something. A drain that applied nothing still
    // answers from state earlier drains produced (a duplicate, a not-found), so its answers wait for it.
    private Task _lastDurable = Task.CompletedTask;

    // While loading: the lease epoch each loaded counter was written under (absent: 0). Dropped at start.
    private Dictionary<string, long>? _loadEpochs;

    public Shard(int id, CounterEngineOptions options, IOperationLog? log, TimeProvider time, EngineMetrics metrics, ILogger logger)
    {
        _id = id;
        _mailbox = new Mailbox<Command>(options.MailboxCapacity);
        _log = log;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _maxDrain = options.MaxDrainBatch;
        _settleTimeout = options.OperationTimeout;
    }

    public int Id => _id;

    public int MailboxDepth => _mailbox.Count;

    public int CounterCount => _cells.Count;

    public Mailbox<Command> Mailbox => _mailbox;

    /// <summary>The cells, for enumeration by readers (a moment-in-time view per cell).</summary>
    public IEnumerable<CounterCell> Cells => _cells.Cells();

    public bool TryRead(string key, out CounterData data)
    {
        if (_cells.Find(key) is { } cell)
        {
            data = cell.Read();
            return data.Exists;
        }

        data = default;
        return false;
    }

    /// <summary>
    /// Loads a counter before the loop starts (snapshot restore, journal replay). Of two loads of one key, the one
    /// written under the newer lease epoch wins whatever its version (history written by a newer owner is never
    /// overridden by an older owner's record, and the loser's operation ids are dropped with it, so a retry of a
    /// write lost that way is applied, not taken for a duplicate); under one epoch the higher version wins.
    /// </summary>
    public void Load(string key, in CounterData data, IEnumerable<string>? operationIds, bool persisted, long epoch)
    {
        var cell = _cells.Find(key);
        var replace = cell is null;
        if (cell is null)
        {
            cell = _cells.Add(key);
        }
        else
        {
            var loaded = _loadEpochs?.GetValueOrDefault(key) ?? 0;
            if (epoch < loaded)
            {
                return;
            }

            if (epoch > loaded)
            {
                replace = true;
                cell.Window = null;
            }
        }

        if (epoch != 0)
        {
            (_loadEpochs ??= new Dictionary<string, long>(StringComparer.Ordinal))[key] = epoch;
        }

        if (replace || data.Version >= cell.Data.Version)
        {
            cell.Publish(data);
            // A journal record that replaced a row of an older epoch is dirty whatever its version: the row's
            // version number may be equal and hold another value, so the next snapshot must write it.
            cell.PersistedVersion = persisted ? data.Version : replace && cell.PersistedVersion == data.Version ? -1 : cell.PersistedVersion;
        }

        if (operationIds is not null)
        {
            foreach (var entry in operationIds)
            {
                // The snapshot row and the journal may both hold an operation: keep the first entry of an id.
                cell.Window ??= new OperationWindow();
                if (!cell.Window.Contains(OperationWindow.IdOf(entry)))
                {
                    cell.Window.Add(entry);
                }
            }
        }
    }

    /// <summary>Forgets the epochs of the loaded counters: they only matter while loading.</summary>
    public void EndLoading() => _loadEpochs = null;

    /// <summary>The owner loop: drain the mailbox in batches until it is completed and empty.</summary>
    public async Task RunAsync()
    {
        var reader = _mailbox.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            Reap();
            // The apply span of this drain: current while the drain appends, so the journal's group links to it.
            var span = EngineTelemetry.Source.StartRoot(FuncMapTelemetry.ApplySpan);
            var links = span is { IsAllDataRequested: true } ? 0 : FuncMapTelemetry.MaxLinks;
            var now = _time.GetUtcNow().UtcTicks;
            var tally = default(OutcomeTally);
            var drained = 0;
            while (drained < _maxDrain && reader.TryRead(out var command))
            {
                drained++;
                if (links < FuncMapTelemetry.MaxLinks && command.Caller is { } caller)
                {
                    span!.AddLink(new ActivityLink(caller.Context));
                    links++;
                }

                try
                {
                    Process(command, now, ref tally);
                }
                catch (Exception ex)
                {
                    // A failing command fails its caller, never the loop.
                    Log.CommandFailed(_logger, ex, _id);
                    command.Completion?.Fail(ex);
                    command.FailControl(ex);
                }
            }

            EndRun();
            _mailbox.Release(drained);
            Acknowledge();
            _metrics.RecordDrain(drained, tally);
            if (span is not null)
            {
                span.SetTag(FuncMapTelemetry.ShardTag, _id);
                span.SetTag(FuncMapTelemetry.ItemsTag, drained);
                span.Dispose();
            }
        }

        // Stopped: once every append in flight has completed, the owner's state is what is durable (refused drains
        // rolled back), so a snapshot taken after the loop ended (CollectChanges from any thread) writes nothing refused.
        // Bounded by the operation timeout (a log that never answers; the journal answers every append, if only by
        // failing it when it closes), after which the drains still in flight stay in the owner's state.
        var settled = Task.Delay(_settleTimeout, _time);
        while (_inflight.TryPeek(out var oldest))
        {
            if (await Task.WhenAny(oldest.Durable, settled).ConfigureAwait(false) == settled)
            {
                Log.StoppedUnsettled(_logger, _id, _inflight.Count, _settleTimeout.TotalMilliseconds);
                break;
            }

            Reap();
        }
    }

    private void Process(in Command command, long now, ref OutcomeTally tally)
    {
        switch (command.Kind)
        {
            case CommandKind.Operation:
                Apply(command.Key, command.Operation, command.Completion, now, ref tally);
                break;
            case CommandKind.Batch:
                var operationId = command.Operation.OperationId;
                foreach (var (key, delta) in (KeyDelta[])command.Payload!)
                {
                    Apply(key, CounterOperation.Add(delta, operationId), command.Completion, now, ref tally);
                }

                break;
            case CommandKind.CollectChanges or CommandKind.CollectAll:
                EndRun();
                var reply = (TaskCompletionSource<List<CounterChange>>)command.Payload!;
                var collected = CollectChanges(all: command.Kind == CommandKind.CollectAll);
                if (_log is null)
                {
                    reply.TrySetResult(collected);
                }
                else
                {
                    // The owner's states include this drain's and those in flight: answered once they are durable.
                    _collects.Add((reply, collected));
                }

                break;
            case CommandKind.MarkPersisted:
                EndRun();
                var (persisted, marked) = ((List<CounterChange>, TaskCompletionSource))command.Payload!;
                MarkPersisted(persisted);
                marked.TrySetResult();
                break;
        }
    }

    private void Apply(string key, in CounterOperation operation, ICompletion? completion, long now, ref OutcomeTally tally)
    {
        var cell = _run;
        if (cell is null || !string.Equals(cell.Key, key, StringComparison.Ordinal))
        {
            EndRun();
            cell = _cells.Find(key);
            if (cell is null)
            {
                if (operation.Kind != CounterOperationKind.Add)
                {
                    tally.NotFound++;
                    Answer(completion, new OperationResult(OperationStatus.NotFound, new CounterSnapshot(key, 0, 0, default)));
                    return;
                }

                cell = _cells.Add(key);
            }

            _run = cell;
            _runData = cell.Data;
        }

        string? forgotten = null;
        if (operation.OperationId is not null)
        {
            cell.Window ??= new OperationWindow();
            forgotten = cell.Window.Count == OperationWindow.Capacity ? cell.Window.Oldest : null;
        }

        var status = CounterRules.Apply(ref _runData, cell.Window, operation, now);
        switch (status)
        {
            case OperationStatus.Applied:
                tally.Applied++;
                _runDirty = true;
                if (_log is not null)
                {
                    _applied.Add(new AppliedOperation(cell.Key, _runData, operation.OperationId is null ? null : OperationWindow.Entry(operation)));
                    if (operation.OperationId is not null)
                    {
                        _windowUndo.Add(new WindowUndo(cell, forgotten));
                    }
                }

                break;
            case OperationStatus.Duplicate:
                tally.Duplicates++;
                break;
            case OperationStatus.NotFound:
                tally.NotFound++;
                break;
            case OperationStatus.Overflow:
                tally.Overflows++;
                Log.OverflowRejected(_logger, cell.Key, operation.Delta, operation.OperationId);
                break;
            case OperationStatus.Mismatch:
                tally.Mismatches++;
                Log.MismatchRefused(_logger, cell.Key, operation.Kind, operation.OperationId);
                break;
        }

        Answer(completion, new OperationResult(status, new CounterSnapshot(cell.Key, _runData.Value, _runData.Version, _runData.UpdatedAt)));
    }

    /// <summary>
    /// Ends the current run: its working copy becomes the counter's state, published at once without a log, and with
    /// one kept for publication once the drain is durable.
    /// </summary>
    private void EndRun()
    {
        if (_run is { } cell && _runDirty)
        {
            if (_log is null)
            {
                cell.Publish(_runData);
            }
            else
            {
                cell.SetOwnerState(_runData);
                _touched.Add(new Publication(cell, _runData));
            }
        }

        _run = null;
        _runDirty = false;
    }

    private void Answer(ICompletion? completion, in OperationResult result)
    {
        if (completion is null)
        {
            return;
        }

        if (_log is null)
        {
            // Publish first, so that the caller reads its own write; then answer at once.
            if (_runDirty)
            {
                _run!.Publish(_runData);
                _runDirty = false;
            }

            completion.Complete(result);
        }
        else
        {
            _pending.Add((completion, result));
        }
    }

    /// <summary>
    /// With a log: appends the drain's records and, once they are durable, publishes the drain's counters and then
    /// answers its callers (or, when they cannot be made durable, fails them; the owner rolls back at its next drain).
    /// </summary>
    private void Acknowledge()
    {
        if (_log is null || (_applied.Count == 0 && _pending.Count == 0 && _collects.Count == 0))
        {
            return;
        }

        Task durable;
        InFlight? flight = null;
        if (_applied.Count == 0)
        {
            // Nothing new to append: the answers still rest on earlier records, which may not be durable yet.
            durable = _lastDurable.IsCompletedSuccessfully ? Task.CompletedTask : _lastDurable;
        }
        else
        {
            if (_inflight.Count == 0)
            {
                // Nothing of ours in flight: the owner's state is durable, and this generation is what it builds on.
                _generation = _log.Generation;
            }

            try
            {
                durable = _log.Append(_id, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_applied), _generation);
            }
            catch (Exception ex)
            {
                durable = Task.FromException(ex);
            }
            finally
            {
                _applied.Clear();
            }

            flight = new InFlight(durable, [.. _touched], [.. _windowUndo]);
            _inflight.Enqueue(flight);
            _touched.Clear();
            _windowUndo.Clear();
            _lastDurable = durable;
        }

        var pending = _pending.Count == 0 ? [] : _pending.ToArray();
        _pending.Clear();
        var collects = _collects.Count == 0 ? null : _collects.ToArray();
        _collects.Clear();
        if (collects is not null && _inflight.Count > 1)
        {
            // The collected states rest on every drain still in flight, not only on this one: answer the collects once
            // all of them are durable (a log completes appends in order, but the engine does not lean on it here).
            var all = Task.WhenAll(_inflight.Select(static f => f.Durable));
            all.ContinueWith(static (task, state) => AnswerCollects(((TaskCompletionSource<List<CounterChange>>, List<CounterChange>)[])state!, task),
                collects, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            collects = null;
        }
        if (durable.IsCompletedSuccessfully)
        {
            Publish(flight);
            AnswerCollects(collects, durable);
            // On the owner loop: the callers continue on the thread pool, never here.
            CompleteAll(pending, inline: false);
            return;
        }

        // Not ExecuteSynchronously: should the task complete before the continuation is registered, the
        // continuation still runs on the pool, never on the owner loop. There the callers continue inline, a
        // chunk per core (one hop per chunk instead of one per caller; see CompleteAcrossCores).
        durable.ContinueWith(
            static (task, state) =>
            {
                var (shard, flight, items, collects) = ((Shard, InFlight?, (ICompletion, OperationResult)[], (TaskCompletionSource<List<CounterChange>>, List<CounterChange>)[]?))state!;
                if (task.IsCompletedSuccessfully)
                {
                    shard.Publish(flight);
                    AnswerCollects(collects, task);
                    CompleteAcrossCores(items);
                }
                else
                {
                    var error = task.Exception?.GetBaseException() ?? new OperationCanceledException("The durable write was cancelled.");
                    AnswerCollects(collects, task);
                    if (items.Length > 0)
                    {
                        Log.DurabilityFailed(shard._logger, error, shard._id, items.Length);
                    }

                    foreach (var (completion, _) in items)
                    {
                        completion.Fail(error);
                    }
                }
            },
            (this, flight, pending, collects),
            CancellationToken.None,
            TaskContinuationOptions.None,
            TaskScheduler.Default);
    }

    /// <summary>Publishes a durable drain's states once (newest wins: continuations of successive drains may run in any order).</summary>
    private void Publish(InFlight? flight)
    {
        if (flight is null || flight.Published)
        {
            return;
        }

        lock (_publication)
        {
            foreach (var (cell, data) in flight.Publish)
            {
                cell.PublishIfNewer(data);
            }

            flight.Published = true;
        }
    }

    private static void AnswerCollects((TaskCompletionSource<List<CounterChange>> Reply, List<CounterChange> Changes)[]? collects, Task durable)
    {
        if (collects is null)
        {
            return;
        }

        foreach (var (reply, changes) in collects)
        {
            if (durable.IsCompletedSuccessfully)
            {
                reply.TrySetResult(changes);
            }
            else
            {
                reply.TrySetException(durable.Exception?.GetBaseException() ?? new OperationCanceledException("The durable write was cancelled."));
            }
        }
    }

    /// <summary>
    /// Owner-only, between drains: forgets the drains in flight whose append succeeded (publishing them, should their
    /// continuation not have run yet) and, at the first one that failed, rolls back it and every later one.
    /// </summary>
    private void Reap()
    {
        while (_inflight.TryPeek(out var flight) && flight.Durable.IsCompleted)
        {
            if (!flight.Durable.IsCompletedSuccessfully)
            {
                RollBack();
                return;
            }

            Publish(flight);
            _inflight.Dequeue();
        }
    }

    /// <summary>
    /// The oldest drain in flight was refused, and with it (the log's contract) every later one: sets every counter
    /// they touched back to its published state, which is the durable one, and takes their operation ids back out of
    /// the deduplication windows, newest first, restoring the entries they had pushed out.
    /// </summary>
    private void RollBack()
    {
        var flights = _inflight.ToArray();
        _inflight.Clear();
        for (var f = flights.Length - 1; f >= 0; f--)
        {
            var undo = flights[f].Undo;
            for (var i = undo.Length - 1; i >= 0; i--)
            {
                undo[i].Cell.Window!.UndoAdd(undo[i].Forgotten);
            }
        }

        var cells = 0;
        foreach (var flight in flights)
        {
            foreach (var (cell, _) in flight.Publish)
            {
                var durable = cell.Read();
                if (cell.Data.Version == durable.Version)
                {
                    continue; // Already set back (a counter touched by more than one drain).
                }

                cells++;
                cell.SetOwnerState(durable);
                if (durable.Version == 0 && ReferenceEquals(_cells.Find(cell.Key), cell) && cell.Window is not { Count: > 0 })
                {
                    // Created by a refused add: it never existed for anyone.
                    _cells.Remove(cell);
                }
            }
        }

        // The owner's state is durable again: answers that rest on it wait for nothing.
        _lastDurable = Task.CompletedTask;
        Log.RolledBack(_logger, _id, flights.Length, cells);
    }

    private static void CompleteAll((ICompletion Completion, OperationResult Result)[] items, bool inline)
    {
        foreach (var (completion, result) in items)
        {
            completion.Complete(result, inline);
        }
    }

    /// <summary>
    /// Answers a durable group's callers with their continuations (each writes its HTTP answer) inline, split
    /// into one chunk per core: the other chunks are queued to the pool first, then this thread runs the first.
    /// A hot key's group (every caller on one shard) thus still uses every core, at one hop per chunk.
    /// </summary>
    internal static void CompleteAcrossCores((ICompletion Completion, OperationResult Result)[] items)
    {
        var chunks = Math.Min(Environment.ProcessorCount, items.Length);
        if (chunks <= 1)
        {
            CompleteRange(new ArraySegment<(ICompletion, OperationResult)>(items));
            return;
        }

        var size = (items.Length + chunks - 1) / chunks;
        for (var start = size; start < items.Length; start += size)
        {
            ThreadPool.UnsafeQueueUserWorkItem(
                static chunk => CompleteRange(chunk),
                new ArraySegment<(ICompletion, OperationResult)>(items, start, Math.Min(size, items.Length - start)),
                preferLocal: false);
        }

        CompleteRange(new ArraySegment<(ICompletion, OperationResult)>(items, 0, size));
    }

    private static void CompleteRange(ArraySegment<(ICompletion Completion, OperationResult Result)> chunk)
    {
        foreach (var (completion, result) in chunk)
        {
            completion.Complete(result, inline: true);
        }
    }

    /// <summary>
    /// The cells changed since they were last persisted, and with <paramref name="all"/> every live cell too, each with its
    /// operation window. Owner loop, or any thread while the loop does not run.
    /// </summary>
    internal List<CounterChange> CollectChanges(bool all = false)
    {
        var changes = new List<CounterChange>();
        foreach (var cell in _cells.Cells())
        {
            if (cell.IsDirty || (all && cell.Data.Exists))
            {
                changes.Add(new CounterChange(cell.Key, cell.Data, cell.Window?.ToArray()));
            }
        }

        return changes;
    }

    /// <summary>A counter's state as a drain left it, published once the drain is durable.</summary>
    private readonly record struct Publication(CounterCell Cell, CounterData Data);

    /// <summary>An operation id a drain added to <see cref="Cell"/>'s window, and the entry it pushed out (or null).</summary>
    private readonly record struct WindowUndo(CounterCell Cell, string? Forgotten);

    /// <summary>A drain whose records were appended: its durability, its counters' states, its window entries.</summary>
    private sealed class InFlight(Task durable, Publication[] publish, WindowUndo[] undo)
    {
        public Task Durable { get; } = durable;

        public Publication[] Publish { get; } = publish;

        public WindowUndo[] Undo { get; } = undo;

        /// <summary>Set under the shard's publication lock once <see cref="Publish"/> was published.</summary>
        public bool Published { get; set; }
    }

    /// <summary>Marks cells persisted. Owner loop, or any thread while the loop does not run.</summary>
    internal void MarkPersisted(List<CounterChange> persisted)
    {
        foreach (var change in persisted)
        {
            if (_cells.Find(change.Key) is not { } cell || cell.PersistedVersion >= change.Data.Version)
            {
                continue;
            }

            cell.PersistedVersion = change.Data.Version;
            if (!change.Data.Exists && cell.Data.Version == change.Data.Version)
            {
                // The table no longer has the row and nothing happened since: forget the tombstone.
                _cells.Remove(cell);
            }
        }
    }
}
