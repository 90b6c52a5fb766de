using FuncMap.Batches;
using FuncMap.Functions.Counters;
using Microsoft.DurableTask.Client.Entities;

namespace FuncMap.Functions.Batches;

/// <summary>
/// Sends an aggregated batch to the owners: one <c>add</c> signal per key, each with the batch id as
/// its operation id. A redelivered or retried batch sends the same signals again and every owner
/// that already applied it recognises the id, so a batch counts at most once per counter.
/// </summary>
public static class BatchSignaler
{
    /// <summary>
    /// Signals every key of <paramref name="batch"/>, at most <paramref name="concurrency"/> at a
    /// time. Throws when a signal could not be sent (storage unavailable): the caller retries the
    /// whole batch, which is safe for the reason above.
    /// </summary>
    public static Task SignalAsync(DurableEntityClient entities, IncrementBatch batch, int concurrency, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entities);
        ArgumentNullException.ThrowIfNull(batch);
        var options = new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken };
        return Parallel.ForEachAsync(batch.Deltas, options, (item, ct) => new ValueTask(
            entities.SignalEntityAsync(Counter.IdOf(item.Key), CounterOperations.Add, new CounterCommand(batch.BatchId, item.Delta), options: null, cancellation: ct)));
    }
}
