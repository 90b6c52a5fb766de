using System.Diagnostics;
using Azure.Storage.Queues.Models;
using FuncMap.Functions.Hosting;
using FuncMap.Storage;
using FuncMap.Telemetry;
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
/// The function then signals every key and waits for every owner's reply, as the local host applies a batch:
/// keys whose add would overflow their stored counter, or on which the batch id was applied before with another
/// delta, are refused by their owners alone, the rest stands, and an envelope names them (the local host's words).
/// When signalling fails or the owners do not answer within <see cref="FuncMapFunctionsOptions.QueueWaitTimeout"/>,
/// the function throws so that the runtime makes the message visible again (the batch id deduplicates the retry),
/// until the delivery numbered <see cref="FuncMapFunctionsOptions.MaxDeliveries"/> (host.json's <c>maxDequeueCount</c>):
/// that one returns a "too many deliveries" envelope instead, as the local host does.
/// </remarks>
public sealed class IncrementQueueFunction(
    IOptions<FuncMapFunctionsOptions> options, FunctionsMetrics metrics, TimeProvider timeProvider, ILogger<IncrementQueueFunction> logger)
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
        // One message per invocation here: the queue batch span (the local host's name) of one message, child of the invocation.
        using var span = StorageTelemetry.Source.StartActivity(FuncMapTelemetry.QueueBatchSpan, ActivityKind.Consumer);
        span?.SetTag(FuncMapTelemetry.ItemsTag, 1);
        var parsed = IncrementMessages.Parse(message);
        if (parsed.Batch is not { } batch)
        {
            var rule = parsed.Errors.Count > 0 ? parsed.Errors[0].Rule : "batch.invalid";
            Log.MessagePoisoned(logger, message.MessageId, message.DequeueCount, string.Join("; ", parsed.Errors));
            metrics.MessagePoisoned(rule);
            metrics.Storage.Message("poison");
            span?.SetTag(FuncMapTelemetry.OutcomeTag, "poison");
            return [IncrementMessages.Invalid(message, parsed.Errors).ToJson()];
        }

        BatchOutcome? outcome;
        var settings = options.Value;
        try
        {
            outcome = await BatchSignaler.ApplyAsync(entities, batch, settings.SignalConcurrency, settings.QueueWaitTimeout, timeProvider, cancellationToken)
                ?? throw new TimeoutException(
                    $"Not every owner of batch \"{batch.BatchId}\" answered within {settings.QueueWaitTimeout}; the message is retried (the batch id makes that safe).");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            if (IncrementMessages.GiveUp(message, ex, settings.MaxDeliveries) is not { } envelope)
            {
                Log.BatchRetry(logger, message.MessageId, batch.BatchId, message.DequeueCount, StorageFailures.IsTransient(ex) ? "transient" : "not transient", ex.Message);
                metrics.Storage.Message("retry");
                span.Failed(ex);
                throw;
            }

            Log.MessagePoisoned(logger, message.MessageId, message.DequeueCount, envelope.Reason);
            metrics.MessagePoisoned("deliveries.exceeded");
            metrics.Storage.Message("poison");
            span?.SetTag(FuncMapTelemetry.OutcomeTag, "poison");
            return [envelope.ToJson()];
        }

        Log.BatchSignalled(logger, batch.BatchId, message.MessageId, batch.ItemCount, batch.Deltas.Count);
        var refused = new List<string>(2);
        if (outcome.OverflowedKeys is { Count: > 0 } overflowed)
        {
            Log.KeysOverflowed(logger, batch.BatchId, message.MessageId, overflowed.Count, string.Join(", ", overflowed.Take(10)));
            metrics.MessagePoisoned(IncrementMessages.OverflowRule);
            refused.Add(IncrementMessages.Overflowed(message, batch.BatchId, overflowed).ToJson());
        }

        if (outcome.MismatchedKeys is { Count: > 0 } mismatched)
        {
            Log.KeysMismatched(logger, batch.BatchId, message.MessageId, mismatched.Count, string.Join(", ", mismatched.Take(10)));
            metrics.MessagePoisoned(IncrementMessages.MismatchRule);
            refused.Add(IncrementMessages.Mismatched(message, batch.BatchId, mismatched).ToJson());
        }

        metrics.Storage.Message("applied");
        span?.SetTag(FuncMapTelemetry.OutcomeTag, "applied");
        return [.. refused];
    }
}
