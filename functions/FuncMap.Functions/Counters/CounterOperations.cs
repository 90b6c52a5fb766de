using FuncMap.Counters;

namespace FuncMap.Functions.Counters;

/// <summary>The operation names of the <see cref="Counter"/>, as they travel in signals and calls.</summary>
public static class CounterOperations
{
    /// <summary>Adds <see cref="CounterCommand.Delta"/>; input <see cref="CounterCommand"/>.</summary>
    public const string Add = "add";

    /// <summary>Sets the value to zero; input <see cref="CounterCommand"/>.</summary>
    public const string Reset = "reset";

    /// <summary>Turns the counter into a tombstone; input <see cref="CounterCommand"/>.</summary>
    public const string Delete = "delete";

    /// <summary>Reads the counter; no input.</summary>
    public const string Get = "get";

    /// <summary>Forgets a tombstone whose row the snapshot has removed; input the tombstone's version.</summary>
    public const string Purge = "purge";

    /// <summary>Takes a snapshot row's state when the counter is older or was never written; input <see cref="RestoreCommand"/>.</summary>
    public const string Restore = "restore";

    /// <summary>Applies folded adds numbered by their source, each exactly once and in order; input <see cref="FoldCommand"/>.</summary>
    public const string Fold = "fold";

    /// <summary>Releases the folded adds' gaps that waited <see cref="Counter.GapReleaseAfter"/>; no input. The entity signals it to itself.</summary>
    public const string ReleaseGaps = "releasegaps";

    /// <summary>The core operation that the write <paramref name="name"/> (add, reset or delete) with <paramref name="command"/> applies.</summary>
    public static CounterOperation ToOperation(string name, CounterCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        return name switch
        {
            Add => CounterOperation.Add(command.Delta, command.OperationId),
            Reset => CounterOperation.Reset(command.OperationId),
            Delete => CounterOperation.Delete(command.OperationId),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "Only add, reset and delete are writes."),
        };
    }
}

/// <summary>
/// The input of a write: the operation id the entity deduplicates on (an <c>Idempotency-Key</c>,
/// a made-up id, or a batch id) and, for add, the delta. Signals are at-least-once and may be
/// reordered, so every write carries an id.
/// </summary>
/// <param name="OperationId">1–128 printable ASCII characters.</param>
/// <param name="Delta">The amount for add; ignored by reset and delete.</param>
/// <param name="ReplyTo">
/// Set by a caller that waits for the outcome: a token unique to that caller's request, under which the owner
/// records the outcome in its state (<see cref="CounterEntityState.Replies"/>); null for fire-and-forget writes.
/// </param>
public sealed record CounterCommand(string OperationId, long Delta = 0, string? ReplyTo = null);

/// <summary>
/// The input of <see cref="CounterOperations.Fold"/>: sums of accepted adds (<see cref="Accepts.AcceptFolder"/>), numbered
/// <paramref name="Sequence"/>, <paramref name="Sequence"/> + 1, … by <paramref name="Source"/> for this counter
/// (<see cref="SourceSequences"/>).
/// </summary>
/// <param name="Source">The sequence source (<see cref="SourceSequences.NewSourceId"/>).</param>
/// <param name="Sequence">The number of the first delta (≥ 1).</param>
/// <param name="Deltas">The sums, in sequence order.</param>
public sealed record FoldCommand(string Source, long Sequence, long[] Deltas);

/// <summary>The entity's answer to an operation: how it ended and the counter after it.</summary>
/// <param name="Status">Applied, Duplicate (nothing changed), NotFound or Overflow.</param>
/// <param name="Exists">False when the counter does not exist (never created, or deleted).</param>
/// <param name="Value">The value.</param>
/// <param name="Version">The version.</param>
/// <param name="UpdatedAt">The time of the last applied operation.</param>
public sealed record CounterOutcome(OperationStatus Status, bool Exists, long Value, long Version, DateTimeOffset UpdatedAt)
{
    /// <summary>The outcome <paramref name="status"/> with the counter as <paramref name="state"/> holds it.</summary>
    public static CounterOutcome From(OperationStatus status, CounterState state) =>
        new(status, state.Exists, state.Value, state.Version, state.UpdatedAt);
}
