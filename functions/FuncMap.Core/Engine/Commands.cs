using FuncMap.Counters;

namespace FuncMap.Engine;

/// <summary>What a mailbox item asks the owner loop to do.</summary>
internal enum CommandKind : byte
{
    Operation,
    CollectChanges,
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

    private Command(CommandKind kind, string key, CounterOperation operation, ICompletion? completion, object? payload)
    {
        Kind = kind;
        Key = key;
        Operation = operation;
        Completion = completion;
        Payload = payload;
    }

    public static Command ForOperation(string key, in CounterOperation operation, ICompletion? completion) =>
        new(CommandKind.Operation, key, operation, completion, null);

    public static Command ForCollect(TaskCompletionSource<List<CounterChange>> reply) =>
        new(CommandKind.CollectChanges, string.Empty, default, null, reply);

    public static Command ForPersisted(List<CounterChange> persisted, TaskCompletionSource reply) =>
        new(CommandKind.MarkPersisted, string.Empty, default, null, (persisted, reply));
}

/// <summary>Receives the outcome of an operation once it is applied (and durable, when a log is configured).</summary>
internal interface ICompletion
{
    void Complete(in OperationResult result);

    void Fail(Exception exception);
}

/// <summary>The reply of one operation whose caller awaits it.</summary>
internal sealed class OperationCompletion() : TaskCompletionSource<OperationResult>(TaskCreationOptions.RunContinuationsAsynchronously), ICompletion
{
    public void Complete(in OperationResult result) => TrySetResult(result);

    public void Fail(Exception exception) => TrySetException(exception);
}

/// <summary>
/// The reply of a whole batch: completes when every key's operation is applied (and durable),
/// counting the keys whose add was rejected for overflow.
/// </summary>
internal sealed class BatchCompletion : TaskCompletionSource<BatchResult>, ICompletion
{
    private readonly string _batchId;
    private int _remaining;
    private int _applied;
    private int _duplicates;
    private List<string>? _overflowed;
    private readonly Lock _gate = new();

    public BatchCompletion(string batchId, int keys)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        _batchId = batchId;
        _remaining = keys;
    }

    public void Complete(in OperationResult result)
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
        }

        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            TrySetResult(new BatchResult(_batchId, Volatile.Read(ref _applied), Volatile.Read(ref _duplicates), _overflowed ?? []));
        }
    }

    public void Fail(Exception exception) => TrySetException(exception);

    /// <summary>Accounts for keys that were never posted (the batch was cut short by backpressure).</summary>
    public void Abandon(Exception reason) => TrySetException(reason);
}
