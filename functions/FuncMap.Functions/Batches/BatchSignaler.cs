using System.Collections.Concurrent;
using FuncMap.Batches;
using FuncMap.Counters;
using FuncMap.Functions.Counters;
using Microsoft.DurableTask.Client.Entities;

namespace FuncMap.Functions.Batches;

/// <summary>What the owners made of a batch: the keys that refused their add.</summary>
/// <param name="OverflowedKeys">Keys whose value would overflow, in key order.</param>
/// <param name="MismatchedKeys">Keys on which this batch id was applied before with another delta (<c>idempotency.mismatch</c>), in key order.</param>
public sealed record BatchOutcome(IReadOnlyList<string> OverflowedKeys, IReadOnlyList<string> MismatchedKeys);

/// <summary>
/// Sends an aggregated batch to the owners: one <c>add</c> signal per key, each with the batch id as
/// its operation id. A redelivered or retried batch sends the same signals again and every owner
/// that already applied it recognises the id, so a batch counts at most once per counter.
/// </summary>
public static class BatchSignaler
{
    /// <summary>
    /// Signals every key of <paramref name="batch"/> (at most <paramref name="concurrency"/> at a time) with one
    /// reply token, then waits for every owner's reply, as the local host answers a batch once every owner applied
    /// it: the outcome names the keys that overflowed. Returns null when some owner did not reply within
    /// <paramref name="timeout"/> (the signals stand; sending the batch again is safe and learns the outcome).
    /// Throws when a signal could not be sent (storage unavailable): the caller retries the whole batch, which is
    /// safe for the reason above.
    /// </summary>
    public static async Task<BatchOutcome?> ApplyAsync(
        DurableEntityClient entities, IncrementBatch batch, int concurrency, TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentNullException.ThrowIfNull(batch);
        var replyTo = CounterReplies.NewReplyTo();
        var options = new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(batch.Deltas, options, (item, ct) => new ValueTask(
            entities.SignalEntityAsync(Counter.IdOf(item.Key), CounterOperations.Add, new CounterCommand(batch.BatchId, item.Delta, replyTo), options: null, cancellation: ct)))
            .ConfigureAwait(false);

        // Replies are awaited under one deadline for the whole batch, not one per key.
        var started = timeProvider.GetTimestamp();
        var overflowed = new ConcurrentBag<string>();
        var mismatched = new ConcurrentBag<string>();
        var missing = 0;
        await Parallel.ForEachAsync(batch.Deltas, options, async (item, ct) =>
        {
            var left = timeout - timeProvider.GetElapsedTime(started);
            var outcome = left > TimeSpan.Zero
                ? await CounterReplies.WaitAsync(entities, item.Key, CounterOperation.Add(item.Delta, batch.BatchId), replyTo, left, timeProvider, ct).ConfigureAwait(false)
                : null;
            if (outcome is null)
            {
                Interlocked.Increment(ref missing);
            }
            else if (outcome.Status == OperationStatus.Overflow)
            {
                overflowed.Add(item.Key);
            }
            else if (outcome.Status == OperationStatus.Mismatch)
            {
                mismatched.Add(item.Key);
            }
        }).ConfigureAwait(false);

        return missing > 0 ? null : new BatchOutcome(overflowed.Order(StringComparer.Ordinal).ToList(), mismatched.Order(StringComparer.Ordinal).ToList());
    }
}
