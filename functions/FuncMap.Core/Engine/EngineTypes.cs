using FuncMap.Counters;

namespace FuncMap.Engine;

/// <summary>
/// The outcome of a batch: how many keys were applied or were duplicates of an earlier delivery, the keys whose
/// add would overflow, and the keys on which the batch id was used before with another delta (refused:
/// <c>idempotency.mismatch</c>).
/// </summary>
public sealed record BatchResult(string BatchId, int Applied, int Duplicates, IReadOnlyList<string> OverflowedKeys, IReadOnlyList<string> MismatchedKeys);

/// <summary>
/// A counter's state as the snapshot and the journal see it, with its recent operations (the
/// <see cref="Counters.OperationWindow"/> entries: id and fingerprint) so that deduplication survives a restart.
/// </summary>
public sealed record CounterChange(string Key, CounterData Data, string[]? RecentOperationIds);

/// <summary>One operation as its owner applied it, handed to the <see cref="IOperationLog"/>.</summary>
/// <param name="Key">The counter.</param>
/// <param name="After">The counter's state after the operation.</param>
/// <param name="OperationId">
/// The operation's <see cref="Counters.OperationWindow"/> entry (its id and fingerprint) when it had an id: what
/// replay needs to rebuild the window, so that a repeat after a restart is still told from a different request.
/// </param>
public readonly record struct AppliedOperation(string Key, CounterData After, string? OperationId);

/// <summary>One page of counters in key order.</summary>
/// <param name="Items">The counters, ordered by key (ordinal).</param>
/// <param name="ContinuationKey">The last key of this page when more follow, else null.</param>
public sealed record CounterPage(IReadOnlyList<CounterSnapshot> Items, string? ContinuationKey);

/// <summary>
/// Makes applied operations durable. The owner loop of each shard calls <see cref="Append"/> once per
/// drained batch, in apply order, and acknowledges the batch's writes when the returned task completes.
/// </summary>
public interface IOperationLog
{
    /// <summary>
    /// Appends <paramref name="operations"/> (copying what it needs before returning) and returns a task
    /// that completes when they are durable, or faults when they cannot be made durable.
    /// </summary>
    Task Append(int shard, ReadOnlySpan<AppliedOperation> operations);
}

/// <summary>The owner did not answer within the operation timeout. The operation may still be applied later.</summary>
public sealed class EngineTimeoutException(TimeSpan timeout)
    : TimeoutException($"The counter's owner did not answer within {timeout.TotalMilliseconds:0} ms; the operation may still be applied. Retry with the same Idempotency-Key.")
{
    /// <summary>The timeout that elapsed.</summary>
    public TimeSpan Timeout { get; } = timeout;
}

/// <summary>The shard's mailbox stayed full for the whole backpressure wait: the caller should retry later.</summary>
public sealed class EngineBusyException(int shard, TimeSpan waited)
    : Exception($"Shard {shard} is busy: its mailbox stayed full for {waited.TotalMilliseconds:0} ms.")
{
    /// <summary>The busy shard.</summary>
    public int Shard { get; } = shard;
}

/// <summary>The engine is stopping or stopped and accepts no more operations.</summary>
public sealed class EngineStoppedException()
    : InvalidOperationException("The counter engine is shutting down and accepts no more operations.");

/// <summary>
/// A source of counters loaded into the engine before it starts serving: the snapshot table, then the
/// journal. Loaders run in ascending <see cref="Order"/>; readiness stays red until all have run.
/// </summary>
public interface ICounterLoader
{
    /// <summary>Where this loader runs among the others (snapshot restore 100, journal replay 200).</summary>
    int Order { get; }

    /// <summary>Loads counters with <see cref="CounterEngine.Load"/>.</summary>
    Task LoadAsync(CounterEngine engine, CancellationToken cancellationToken);
}
