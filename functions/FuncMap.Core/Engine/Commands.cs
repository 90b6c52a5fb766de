using System.Diagnostics;
using System.Threading.Tasks.Sources;
using FuncMap.Batches;
using FuncMap.Counters;

namespace FuncMap.Engine;

/// <summary>What a mailbox item asks the owner loop to do.</summary>
internal enum CommandKind : byte
{
    Operation,
    Batch,
    CollectChanges,
    CollectAll,
    MarkPersisted,
}

/// <summary>
/// A mailbox item. A struct, so a fire-and-forget operation costs no allocation beyond its key.
/// </summary>
internal readonly struct Command
{
    public readonly CommandKind Kind;
    public readonly string Key;
    public readonly CounterOperation Operation;
    public readonly ICompletion? Completion;
    public readonly object? Payload;

    /// <summary>The caller's span (an HTTP request, a queue batch) when the engine's spans are listened to: the apply links to it.</summary>
    public readonly Activity? Caller;

    private Command(CommandKind kind, string key, CounterOperation operation, ICompletion? completion, object? payload, Activity? caller = null)
    {
        Kind = kind;
        Key = key;
        Operation = operation;
        Completion = completion;
        Payload = payload;
        Caller = caller;
    }

    public static Command ForOperation(string key, in CounterOperation operation, ICompletion? completion) =>
        new(CommandKind.Operation, key, operation, completion, null, EngineTelemetry.CallerSpan());

    /// <summary>A batch's adds for one shard: one mailbox item for all of them, each with the batch id as operation id.</summary>
    public static Command ForBatch(string batchId, KeyDelta[] items, ICompletion completion) =>
        new(CommandKind.Batch, string.Empty, CounterOperation.Add(0, batchId), completion, items, EngineTelemetry.CallerSpan());

    /// <summary>A collect of the changed counters, or of every live counter too when <paramref name="all"/>.</summary>
    public static Command ForCollect(TaskCompletionSource<List<CounterChange>> reply, bool all = false) =>
        new(all ? CommandKind.CollectAll : CommandKind.CollectChanges, string.Empty, default, null, reply);

    public static Command ForPersisted(List<CounterChange> persisted, TaskCompletionSource reply) =>
        new(CommandKind.MarkPersisted, string.Empty, default, null, (persisted, reply));

    /// <summary>Fails the caller of a control command.</summary>
    public void FailControl(Exception exception)
    {
        switch (Payload)
        {
            case TaskCompletionSource<List<CounterChange>> collect:
                collect.TrySetException(exception);
                break;
            case (List<CounterChange>, TaskCompletionSource persisted):
                persisted.TrySetException(exception);
                break;
        }
    }
}

/// <summary>Receives the outcome of an operation once it is applied (and durable, when a log is configured).</summary>
internal interface ICompletion
{
    /// <summary>True once answered, failed or timed out.</summary>
    bool IsCompleted { get; }

    /// <summary>
    /// Answers the caller. <paramref name="inline"/>: the caller's continuation may run on this thread, which the
    /// journal's acknowledgement does (a pool thread that exists to answer); the owner loop never passes it.
    /// </summary>
    void Complete(in OperationResult result, bool inline = false);

    /// <summary>Fails the caller; false when it was already answered.</summary>
    bool Fail(Exception exception);
}

/// <summary>
/// The reply of one operation whose caller awaits it: a one-shot <see cref="IValueTaskSource{TResult}"/> whose
/// continuation runs asynchronously (the thread pool) unless the completer asks for it inline. The owner loop
/// answers asynchronously, so a caller never runs on it; the journal's acknowledgement (already on a pool thread,
/// after the group's fsync) answers inline, which saves one thread-pool hop per request. The first of
/// <see cref="Complete"/> and <see cref="Fail"/> wins (the timeout sweeper races the owner).
/// </summary>
internal sealed class OperationCompletion : IValueTaskSource<OperationResult>, ICompletion
{
    private ManualResetValueTaskSourceCore<OperationResult> _core;
    private int _completed;

    public OperationCompletion() => _core.RunContinuationsAsynchronously = true;

    /// <summary>The caller's wait; awaited once.</summary>
    public ValueTask<OperationResult> Task => new(this, _core.Version);

    public bool IsCompleted => Volatile.Read(ref _completed) != 0;

    public void Complete(in OperationResult result, bool inline = false)
    {
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _core.RunContinuationsAsynchronously = !inline;
            _core.SetResult(result);
        }
    }

    public bool Fail(Exception exception)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        _core.SetException(exception);
        return true;
    }

    OperationResult IValueTaskSource<OperationResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<OperationResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<OperationResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>
/// The reply of a whole batch: completes when every key's operation is applied (and durable),
/// counting the keys whose add was rejected for overflow or for a batch id used before with another delta.
/// </summary>
internal sealed class BatchCompletion : TaskCompletionSource<BatchResult>, ICompletion
{
    private readonly string _batchId;
    private int _remaining;
    private int _applied;
    private int _duplicates;
    private List<string>? _overflowed;
    private List<string>? _mismatched;
    private readonly Lock _gate = new();

    public BatchCompletion(string batchId, int keys)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        _batchId = batchId;
        _remaining = keys;
    }

    public void Complete(in OperationResult result, bool inline = false)
    {
        switch (result.Status)
        {
            case OperationStatus.Applied:
                Interlocked.Increment(ref _applied);
                break;
            case OperationStatus.Duplicate:
                Interlocked.Increment(ref _duplicates);
                break;
            case OperationStatus.Overflow:
                lock (_gate)
                {
                    (_overflowed ??= []).Add(result.Counter.Key);
                }

                break;
            case OperationStatus.Mismatch:
                lock (_gate)
                {
                    (_mismatched ??= []).Add(result.Counter.Key);
                }

                break;
        }

        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            TrySetResult(new BatchResult(_batchId, Volatile.Read(ref _applied), Volatile.Read(ref _duplicates), _overflowed ?? [], _mismatched ?? []));
        }
    }

    public bool IsCompleted => Task.IsCompleted;

    public bool Fail(Exception exception) => TrySetException(exception);
}
