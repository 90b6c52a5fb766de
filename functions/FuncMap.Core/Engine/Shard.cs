using FuncMap.Batches;
using FuncMap.Counters;
using Microsoft.Extensions.Logging;

namespace FuncMap.Engine;

/// <summary>
/// One owner: a mailbox and the loop that alone applies operations to this shard's counters.
/// Readers go straight to <see cref="TryRead"/>, which never waits for the loop.
/// </summary>
/// <remarks>
/// The loop drains the mailbox in batches. Consecutive operations on the same counter (a hot key) are
/// applied to a working copy and published once when the run ends, so a hot key pays for one
/// publication per run instead of one per operation. An answer is given only after the state it reports
/// is published (and, with a log, once the drain's records are durable, at the end of the drain): a
/// caller that got an answer always reads its own write.
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

    // Owner-only scratch buffers, reused across drains.
    private readonly List<AppliedOperation> _applied = [];
    private readonly List<(ICompletion Completion, OperationResult Result)> _pending = [];

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
            var now = _time.GetUtcNow().UtcTicks;
            var tally = default(OutcomeTally);
            var drained = 0;
            while (drained < _maxDrain && reader.TryRead(out var command))
            {
                drained++;
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
            case CommandKind.CollectChanges:
                EndRun();
                ((TaskCompletionSource<List<CounterChange>>)command.Payload!).TrySetResult(CollectChanges());
                break;
            case CommandKind.MarkPersisted:
                EndRun();
                var (persisted, reply) = ((List<CounterChange>, TaskCompletionSource))command.Payload!;
                MarkPersisted(persisted);
                reply.TrySetResult();
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

        if (operation.OperationId is not null)
        {
            cell.Window ??= new OperationWindow();
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

    /// <summary>Publishes the current run's working copy, if it changed.</summary>
    private void EndRun()
    {
        if (_run is { } cell && _runDirty)
        {
            cell.Publish(_runData);
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

    /// <summary>With a log, answers this drain's callers once the drain's records are durable.</summary>
    private void Acknowledge()
    {
        if (_log is null || (_applied.Count == 0 && _pending.Count == 0))
        {
            return;
        }

        Task durable;
        if (_applied.Count == 0)
        {
            // Nothing new to append: the answers still rest on earlier records, which may not be durable yet.
            durable = _lastDurable.IsCompletedSuccessfully ? Task.CompletedTask : _lastDurable;
        }
        else
        {
            try
            {
                durable = _log.Append(_id, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_applied));
            }
            catch (Exception ex)
            {
                durable = Task.FromException(ex);
            }
            finally
            {
                _applied.Clear();
            }

            _lastDurable = durable;
        }

        if (_pending.Count == 0)
        {
            return;
        }

        var pending = _pending.ToArray();
        _pending.Clear();
        if (durable.IsCompletedSuccessfully)
        {
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
                var (shard, items) = ((Shard, (ICompletion, OperationResult)[]))state!;
                if (task.IsCompletedSuccessfully)
                {
                    CompleteAcrossCores(items);
                }
                else
                {
                    var error = task.Exception?.GetBaseException() ?? new OperationCanceledException("The durable write was cancelled.");
                    Log.DurabilityFailed(shard._logger, error, shard._id, items.Length);
                    foreach (var (completion, _) in items)
                    {
                        completion.Fail(error);
                    }
                }
            },
            (this, pending),
            CancellationToken.None,
            TaskContinuationOptions.None,
            TaskScheduler.Default);
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

    /// <summary>The cells changed since they were last persisted. Owner loop, or any thread while the loop does not run.</summary>
    internal List<CounterChange> CollectChanges()
    {
        var changes = new List<CounterChange>();
        foreach (var cell in _cells.Cells())
        {
            if (cell.IsDirty)
            {
                changes.Add(new CounterChange(cell.Key, cell.Data, cell.Window?.ToArray()));
            }
        }

        return changes;
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
