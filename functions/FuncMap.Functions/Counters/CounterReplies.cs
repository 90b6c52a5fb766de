using FuncMap.Counters;
using Microsoft.DurableTask.Client.Entities;

namespace FuncMap.Functions.Counters;

/// <summary>
/// Waits for the owner's reply to a write sent with <see cref="CounterCommand.ReplyTo"/>: reads the entity
/// (<see cref="DurableEntityClient.GetEntityAsync{T}(Microsoft.DurableTask.Entities.EntityInstanceId, bool, CancellationToken)"/>,
/// one point read of its persisted state) until the reply is there, backing off from
/// <see cref="FirstPollDelay"/> to <see cref="MaxPollDelay"/> between reads.
/// </summary>
/// <remarks>
/// Why not an orchestration that calls the entity: it costs three queue hops instead of one, and its
/// completion reaches <c>WaitForInstanceCompletionAsync</c> through the backend's status poll, which the
/// Azure Storage provider runs every 2 s; every <c>?wait=true</c> took 2 s. The owner persists its state
/// (and so the reply) once per batch of operations it applied, so a reply is visible as soon as the write
/// is durable in the owner.
/// </remarks>
public static class CounterReplies
{
    /// <summary>The wait before the first read: an owner needs at least a queue hop and a state write.</summary>
    public static readonly TimeSpan FirstPollDelay = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// The longest wait between two reads, which bounds what polling adds to the latency. Every read costs the
    /// host and storage about as much CPU as a share of the write itself, so reads back off quickly.
    /// </summary>
    public static readonly TimeSpan MaxPollDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>A token for one waiting request; unique, so a caller never takes another's reply.</summary>
    public static string NewReplyTo() => Guid.NewGuid().ToString("N");

    /// <summary>
    /// The outcome the owner of <paramref name="key"/> recorded for <paramref name="replyTo"/> (or, once that reply was
    /// pushed out, what its window says of <paramref name="operation"/>: <see cref="CounterEntityState.FindReply"/>),
    /// or null when neither is there within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<CounterOutcome?> WaitAsync(
        DurableEntityClient entities, string key, CounterOperation operation, string replyTo, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentNullException.ThrowIfNull(timeProvider);
        var deadline = timeProvider.GetTimestamp() + (long)(timeout.TotalSeconds * timeProvider.TimestampFrequency);
        var delay = FirstPollDelay;
        while (true)
        {
            var remaining = TimeSpan.FromSeconds((double)(deadline - timeProvider.GetTimestamp()) / timeProvider.TimestampFrequency);
            if (remaining <= TimeSpan.Zero)
            {
                return null;
            }

            await Task.Delay(delay < remaining ? delay : remaining, timeProvider, cancellationToken).ConfigureAwait(false);
            var entity = await entities.GetEntityAsync<CounterEntityState>(Counter.IdOf(key), includeState: true, cancellationToken).ConfigureAwait(false);
            if (entity is { IncludesState: true, State: { } state } && state.FindReply(replyTo, operation) is { } outcome)
            {
                return outcome;
            }

            delay = delay * 2 < MaxPollDelay ? delay * 2 : MaxPollDelay;
        }
    }
}
