using System.Collections.Concurrent;
using FuncMap.Counters;
using Microsoft.Extensions.Logging;

namespace FuncMap.Engine;

/// <summary>
/// One owner: a mailbox and the loop that alone applies operations to this shard's counters.
/// Readers go straight to <see cref="TryRead"/>, which never waits for the loop.
/// </summary>
internal sealed class Shard
{
    private readonly int _id;
    private readonly Mailbox<Command> _mailbox;
    private readonly ConcurrentDictionary<string, CounterCell> _cells;
    private readonly IOperationLog? _log;
    private readonly TimeProvider _time;
    private readonly EngineMetrics _metrics;
    private readonly ILogger _logger;
    private readonly int _maxDrain;

    // Owner-only scratch buffers, reused across drains.
    private readonly List<AppliedOperation> _applied = [];
    private readonly List<(ICompletion Completion, OperationResult Result)> _pending = [];

    // The durability of the last drain that applied something. A drain that applied nothing still
    // answers from state that drain produced (a duplicate, a not-found), so its answers wait for it.
    private Task _lastDurable = Task.CompletedTask;

    public Shard(int id, CounterEngineOptions options, IOperationLog? log, TimeProvider time, EngineMetrics metrics, ILogger logger)
    {
        _id = id;
        _mailbox = new Mailbox<Command>(options.MailboxCapacity);
        _cells = new ConcurrentDictionary<string, CounterCell>(concurrencyLevel: 1, capacity: 1024, StringComparer.Ordinal);
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
    public IEnumerable<KeyValuePair<string, CounterCell>> Cells => _cells;

    public bool TryRead(string key, out CounterData data)
    {
        if (_cells.TryGetValue(key, out var cell))
        {
            data = cell.Read();
            return data.Exists;
        }

        data = default;
        return false;
    }

    /// <summary>Loads a counter before the loop starts (snapshot restore, journal replay). Higher versions win.</summary>
    public void Load(string key, in CounterData data, IEnumerable<string>? operationIds, bool persisted)
    {
        var cell = _cells.GetOrAdd(key, static _ => new CounterCell());
        if (data.Version >= cell.Data.Version)
        {
            cell.Publish(data);
            if (persisted)
            {
                cell.PersistedVersion = data.Version;
            }
        }

        if (operationIds is not null)
        {
            foreach (var id in operationIds)
            {
                cell.Window ??= new OperationWindow();
                if (!cell.Window.Contains(id))
                {
                    cell.Window.Add(id);
                }
            }
        }
    }

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
                    switch (command.Kind)
                    {
                        case CommandKind.Operation:
                            Apply(command, now, ref tally);
                            break;
                        case CommandKind.CollectChanges:
                            ((TaskCompletionSource<List<CounterChange>>)command.Payload!).TrySetResult(CollectChanges());
                            break;
                        case CommandKind.MarkPersisted:
                            var (persisted, reply) = ((List<CounterChange>, TaskCompletionSource))command.Payload!;
                            MarkPersisted(persisted);
                            reply.TrySetResult();
                            break;
                    }
                }
                catch (Exception ex)
                {
                    // A failing command fails its caller, never the loop.
                    Log.CommandFailed(_logger, ex, _id);
                    command.Completion?.Fail(ex);
                    (command.Payload as TaskCompletionSource<List<CounterChange>>)?.TrySetException(ex);
                }
            }

            Acknowledge();
            _metrics.RecordDrain(drained, tally);
        }
    }

    private void Apply(in Command command, long now, ref OutcomeTally tally)
    {
        var operation = command.Operation;
        if (!_cells.TryGetValue(command.Key, out var cell))
        {
            if (operation.Kind != CounterOperationKind.Add)
            {
                tally.NotFound++;
                Answer(command.Completion, new OperationResult(OperationStatus.NotFound, new CounterSnapshot(command.Key, 0, 0, default)));
                return;
            }

            cell = new CounterCell();
            _cells.TryAdd(command.Key, cell);
        }

        var data = cell.Data;
        if (operation.OperationId is not null)
        {
            cell.Window ??= new OperationWindow();
        }

        var status = CounterRules.Apply(ref data, cell.Window, operation, now);
        switch (status)
        {
            case OperationStatus.Applied:
                tally.Applied++;
                cell.Publish(data);
                if (_log is not null)
                {
                    _applied.Add(new AppliedOperation(command.Key, data, operation.OperationId));
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
                Log.OverflowRejected(_logger, command.Key, operation.Delta, operation.OperationId);
                break;
        }

        Answer(command.Completion, new OperationResult(status, new CounterSnapshot(command.Key, data.Value, data.Version, data.UpdatedAt)));
    }

    private void Answer(ICompletion? completion, in OperationResult result)
    {
        if (completion is null)
        {
            return;
        }

        if (_log is null)
        {
            completion.Complete(result);
        }
        else
        {
            // With a log, an answer waits until this drain's records are durable.
            _pending.Add((completion, result));
        }
    }

    private void Acknowledge()
    {
        if (_log is null || (_applied.Count == 0 && _pending.Count == 0))
        {
            return;
        }

        var pending = _pending.ToArray();
        _pending.Clear();
        Task durable;
        if (_applied.Count == 0)
        {
            // Nothing new to append: the answers still rest on earlier records, which may not be durable yet.
            durable = _lastDurable.IsCompleted ? Task.CompletedTask : _lastDurable;
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

        if (pending.Length == 0)
        {
            return;
        }

        if (durable.IsCompletedSuccessfully)
        {
            CompleteAll(pending);
            return;
        }

        durable.ContinueWith(
            static (task, state) =>
            {
                var (shard, items) = ((Shard, (ICompletion, OperationResult)[]))state!;
                if (task.IsCompletedSuccessfully)
                {
                    CompleteAll(items);
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
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private static void CompleteAll((ICompletion Completion, OperationResult Result)[] items)
    {
        foreach (var (completion, result) in items)
        {
            completion.Complete(result);
        }
    }

    private List<CounterChange> CollectChanges()
    {
        var changes = new List<CounterChange>();
        foreach (var (key, cell) in _cells)
        {
            if (cell.IsDirty)
            {
                changes.Add(new CounterChange(key, cell.Data, cell.Window?.ToArray()));
            }
        }

        return changes;
    }

    private void MarkPersisted(List<CounterChange> persisted)
    {
        foreach (var change in persisted)
        {
            if (!_cells.TryGetValue(change.Key, out var cell) || cell.PersistedVersion >= change.Data.Version)
            {
                continue;
            }

            cell.PersistedVersion = change.Data.Version;
            if (!change.Data.Exists && cell.Data.Version == change.Data.Version)
            {
                // The table no longer has the row and nothing happened since: forget the tombstone.
                _cells.TryRemove(change.Key, out _);
            }
        }
    }
}
