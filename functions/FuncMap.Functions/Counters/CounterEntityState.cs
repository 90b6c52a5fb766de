using FuncMap.Counters;

namespace FuncMap.Functions.Counters;

/// <summary>
/// The persisted state of the <see cref="Counter"/> entity: the core <see cref="CounterState"/>'s fields under
/// the same names (so readers that only need the counter, such as the snapshot and the list, read it as a
/// <see cref="CounterState"/>), plus <see cref="Replies"/>, the outcomes of recent writes whose caller waits.
/// </summary>
/// <remarks>
/// A waiting caller (<c>?wait=true</c>, a batch, a queue message) signals the owner with a fresh reply token
/// and reads the entity until its reply appears (<see cref="CounterReplies"/>): one queue hop and point reads,
/// instead of an orchestration whose completion the backend reports by a fixed-interval poll. The reply holds
/// the outcome of exactly that operation (the counter right after it, or why it was rejected), so concurrent
/// writers each see their own result. Only the newest <see cref="MaxReplies"/> replies are kept, because the
/// whole state is written at every batch of operations and its size is what a hot key's throughput pays for;
/// a caller whose reply was pushed out still finds its operation id in <see cref="RecentOperationIds"/> (the 64
/// newest applied ids) and is answered with the counter as it is then.
/// </remarks>
public sealed class CounterEntityState
{
    /// <summary>How many replies the state keeps: more than the callers that usually wait on one key at a time.</summary>
    public const int MaxReplies = 16;

    /// <inheritdoc cref="CounterState.Value"/>
    public long Value { get; set; }

    /// <inheritdoc cref="CounterState.Version"/>
    public long Version { get; set; }

    /// <inheritdoc cref="CounterState.UpdatedAt"/>
    public DateTimeOffset UpdatedAt { get; set; }

    /// <inheritdoc cref="CounterState.Exists"/>
    public bool Exists { get; set; }

    /// <inheritdoc cref="CounterState.RecentOperationIds"/>
    public string[] RecentOperationIds { get; set; } = [];

    /// <summary>The outcomes of the newest writes that asked for one, oldest first.</summary>
    public List<CounterReply> Replies { get; set; } = [];

    /// <summary>
    /// Per source of folded adds, the last number applied and the ones that arrived early (<see cref="SourceSequences"/>):
    /// what makes a fold count exactly once. Kept through reset and delete; forgotten per source after
    /// <see cref="Counter.SourceRetention"/>.
    /// </summary>
    public Dictionary<string, SourceProgress> Sources { get; set; } = new(StringComparer.Ordinal);

    /// <summary>True when some source has a folded add waiting for an earlier one.</summary>
    public bool HasParked() => Sources.Values.Any(static p => p.Parked is { Count: > 0 });

    /// <summary>The core state (a copy) to apply an operation to.</summary>
    public CounterState ToCounterState() => new()
    {
        Value = Value,
        Version = Version,
        UpdatedAt = UpdatedAt,
        Exists = Exists,
        RecentOperationIds = RecentOperationIds,
    };

    /// <summary>Takes the counter fields of <paramref name="counter"/>.</summary>
    public void CopyFrom(CounterState counter)
    {
        ArgumentNullException.ThrowIfNull(counter);
        Value = counter.Value;
        Version = counter.Version;
        UpdatedAt = counter.UpdatedAt;
        Exists = counter.Exists;
        RecentOperationIds = counter.RecentOperationIds;
    }

    /// <summary>Records the outcome for the caller waiting on <paramref name="replyTo"/>, forgetting the oldest beyond <see cref="MaxReplies"/>.</summary>
    public void AddReply(string replyTo, CounterOutcome outcome)
    {
        Replies.Add(new CounterReply(replyTo, outcome));
        if (Replies.Count > MaxReplies)
        {
            Replies.RemoveRange(0, Replies.Count - MaxReplies);
        }
    }

    /// <summary>
    /// The outcome recorded for <paramref name="replyTo"/>; else, when the id of <paramref name="operation"/> is among
    /// the applied ones (the reply was pushed out, or an earlier attempt of the write was applied), Duplicate with the
    /// counter as it is now, or Mismatch when that id was applied for another request; else null (not applied yet).
    /// </summary>
    public CounterOutcome? FindReply(string replyTo, in CounterOperation operation)
    {
        for (var i = Replies.Count - 1; i >= 0; i--)
        {
            if (string.Equals(Replies[i].ReplyTo, replyTo, StringComparison.Ordinal))
            {
                return Replies[i].Outcome;
            }
        }

        return new OperationWindow(RecentOperationIds).Match(operation) switch
        {
            WindowMatch.Same => CounterOutcome.From(OperationStatus.Duplicate, ToCounterState()),
            WindowMatch.Different => CounterOutcome.From(OperationStatus.Mismatch, ToCounterState()),
            _ => null,
        };
    }
}

/// <summary>The outcome of one write, for the caller that sent it with <see cref="CounterCommand.ReplyTo"/>.</summary>
/// <param name="ReplyTo">The caller's token.</param>
/// <param name="Outcome">How the write ended and the counter right after it.</param>
public sealed record CounterReply(string ReplyTo, CounterOutcome Outcome);
