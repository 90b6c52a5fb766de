using Azure.Storage.Queues.Models;
using FuncMap.Functions.Hosting;
using FuncMap.Storage;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Client.Entities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Batches;

/// <summary>
/// The queue trigger on <c>counter-increments</c>: parse, validate and aggregate the batch with the
/// core library, then signal one operation per key with operation id = <c>batchId</c>.
/// </summary>
/// <remarks>
/// The trigger binds the Azure SDK's <see cref="QueueMessage"/>, so the message is read, enveloped and
/// given up on by the same shared code as the local host's ingestion (<see cref="IncrementMessages"/>).
/// A message that can never succeed (not JSON, schema violation, invalid key, items that overflow when
/// summed) is written to <c>counter-increments-poison</c> as a <see cref="PoisonEnvelope"/> through the
/// return value's queue output binding, and the function returns normally: nothing of it is applied.
/// When signalling fails, the function throws so that the runtime makes the message visible again
/// (the batch id deduplicates the retry), until the delivery numbered
/// <see cref="FuncMapFunctionsOptions.MaxDeliveries"/> (host.json's <c>maxDequeueCount</c>): that one
/// returns a "too many deliveries" envelope instead, as the local host does. An add that overflows
/// the counter's stored value is rejected by that key's owner alone (counted and logged).
/// </remarks>
public sealed class IncrementQueueFunction(IOptions<FuncMapFunctionsOptions> options, FunctionsMetrics metrics, ILogger<IncrementQueueFunction> logger)
{
    /// <summary>The queue batches arrive on.</summary>
    public const string QueueName = IncrementMessages.QueueName;

    /// <summary>Where messages go that can never succeed (also the runtime's own poison queue for <see cref="QueueName"/>).</summary>
    public const string PoisonQueueName = IncrementMessages.PoisonQueueName;

    /// <summary>Handles one queue message; returns the poison messages to write (none when the batch was signalled).</summary>
    [Function("CounterIncrements")]
    [QueueOutput(PoisonQueueName)]
    public Task<string[]> RunAsync(
        [QueueTrigger(QueueName)] QueueMessage message,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        return HandleAsync(message, client.Entities, cancellationToken);
    }

    /// <summary>The trigger's logic without the Durable client plumbing, for tests.</summary>
    internal async Task<string[]> HandleAsync(QueueMessage message, DurableEntityClient entities, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        var parsed = IncrementMessages.Parse(message);
        if (parsed.Batch is not { } batch)
        {
            var rule = parsed.Errors.Count > 0 ? parsed.Errors[0].Rule : "batch.invalid";
            Log.MessagePoisoned(logger, message.MessageId, message.DequeueCount, string.Join("; ", parsed.Errors));
            metrics.MessagePoisoned(rule);
            return [IncrementMessages.Invalid(message, parsed.Errors).ToJson()];
        }

        try
        {
            await BatchSignaler.SignalAsync(entities, batch, options.Value.SignalConcurrency, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            if (IncrementMessages.GiveUp(message, ex, options.Value.MaxDeliveries) is not { } envelope)
            {
                Log.BatchRetry(logger, message.MessageId, batch.BatchId, message.DequeueCount, StorageFailures.IsTransient(ex) ? "transient" : "not transient", ex.Message);
                throw;
            }

            Log.MessagePoisoned(logger, message.MessageId, message.DequeueCount, envelope.Reason);
            metrics.MessagePoisoned("deliveries.exceeded");
            return [envelope.ToJson()];
        }

        Log.BatchSignalled(logger, batch.BatchId, message.MessageId, batch.ItemCount, batch.Deltas.Count);
        return [];
    }
}
