using FuncMap.Counters;
using FuncMap.Storage;

namespace FuncMap.Functions.Counters;

/// <summary>
/// The input of <see cref="CounterOperations.Restore"/>: a counter as a row of table <c>Counters</c> holds it
/// (<see cref="CounterRow"/>, read by the shared schema <see cref="CounterRows.FromEntity"/>). Rows hold live counters
/// only (a deleted counter's row is deleted), so a restore always makes the counter exist.
/// </summary>
/// <param name="Value">The value.</param>
/// <param name="Version">The version (≥ 1).</param>
/// <param name="UpdatedAt">When its last operation was applied.</param>
/// <param name="OperationIds">Its operation window, oldest first (<see cref="OperationWindow"/> entries); null or empty: none.</param>
public sealed record RestoreCommand(long Value, long Version, DateTimeOffset UpdatedAt, string[]? OperationIds)
{
    /// <summary>The restore of <paramref name="row"/>.</summary>
    public static RestoreCommand From(in CounterRow row) => new(row.Value, row.Version, row.UpdatedAt, row.OperationIds is { Count: > 0 } ids ? [.. ids] : null);
}

public sealed partial class Counter
{
    /// <summary>
    /// Takes the counter's state from a snapshot row (<see cref="RestoreCommand"/>) when the entity was never written or
    /// holds an older version (a tombstone included): value, version, time and operation window become the row's, so a
    /// client retrying an <c>Idempotency-Key</c> of before the move is answered as a replay. A version equal or newer is
    /// left as it is, so a restore never overrides newer state and the same restore twice changes nothing. The fold
    /// sources and the waiting callers' replies are kept: they belong to this entity's own history. Answers Applied, or
    /// Duplicate (nothing changed) with the counter as it is.
    /// </summary>
    /// <exception cref="ArgumentException">A version below 1: no row holds one.</exception>
    public CounterOutcome Restore(RestoreCommand command)
    {
        if (command is null || command.Version < 1)
        {
            throw new ArgumentException("A restore carries a snapshot row's state, whose version is at least 1.", nameof(command));
        }

        if (State.Version >= command.Version)
        {
            metrics.DuplicateIgnored(CounterOperations.Restore);
            var unchanged = CounterOutcome.From(OperationStatus.Duplicate, State.ToCounterState());
            ForgetIfNeverWritten();
            return unchanged;
        }

        State.CopyFrom(new CounterState
        {
            Value = command.Value,
            Version = command.Version,
            UpdatedAt = command.UpdatedAt,
            Exists = true,
            // The window's own bound (the newest 64), as the local host's load applies it.
            RecentOperationIds = new OperationWindow(command.OperationIds).ToArray(),
        });
        return CounterOutcome.From(OperationStatus.Applied, State.ToCounterState());
    }
}
