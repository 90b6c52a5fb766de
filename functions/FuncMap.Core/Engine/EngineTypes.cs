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
/// drained batch, in apply order, and acknowledges the batch's writes (and publishes their effects to readers)
/// only when the returned task completes.
/// </summary>
/// <remarks>
/// The contract the engine's rollback rests on: when the log fails (a write or sync error), every append not yet
/// durable fails, and <see cref="Generation"/> changes before any of them is failed. An append made under an older
/// generation is refused without writing anything. An owner that appended on top of operations still in flight
/// passes the generation of their first append, so a group built on operations that were refused can never become
/// durable, even after the log recovered.
/// </remarks>
public interface IOperationLog
{
    /// <summary>
    /// The log's failure generation: a number that changes each time the log fails (before the failed appends'
    /// tasks fault) and never otherwise. Read it when nothing of yours is in flight; pass it to every append until
    /// everything appended since has completed.
    /// </summary>
    long Generation { get; }

    /// <summary>
    /// Appends <paramref name="operations"/> (copying what it needs before returning) and returns a task
    /// that completes when they are durable, or faults (typically with <see cref="OperationLogUnavailableException"/>)
    /// when they cannot be made durable. When <paramref name="generation"/> is not the current <see cref="Generation"/>,
    /// nothing is written and the task faults.
    /// </summary>
    Task Append(int shard, ReadOnlySpan<AppliedOperation> operations, long generation);
}

/// <summary>
/// The operation log cannot make operations durable at the moment (a full disk, an I/O error, a read-only file
/// system): a temporary refusal, answered 503 <c>journal.unavailable</c> with <c>Retry-After</c>.
/// </summary>
public class OperationLogUnavailableException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, for the operator and the client's <c>detail</c>.</param>
    /// <param name="cause">The cause's short name: an errno name such as <c>ENOSPC</c>, <c>EDQUOT</c>, <c>EIO</c>, <c>EROFS</c>, or the exception type.</param>
    /// <param name="mayBeApplied">
    /// True when the refused operations may still become durable (the log could not yet make sure that what it
    /// failed to sync will never be replayed): the caller must then treat the outcome as unknown.
    /// </param>
    /// <param name="innerException">The underlying error.</param>
    public OperationLogUnavailableException(string message, string cause, bool mayBeApplied, Exception? innerException)
        : base(message, innerException)
    {
        Cause = cause;
        MayBeApplied = mayBeApplied;
    }

    /// <summary>The cause's short name (an errno name such as <c>ENOSPC</c>, or the exception type).</summary>
    public string Cause { get; }

    /// <summary>True when the refused operations may still become durable: their outcome is unknown.</summary>
    public bool MayBeApplied { get; }
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
