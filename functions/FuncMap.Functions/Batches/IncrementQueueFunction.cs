using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FuncMap.Batches;
using FuncMap.Functions.Hosting;
using FuncMap.Validation;
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
/// A message that can never succeed (not JSON, schema violation, invalid key, items that overflow
/// when summed) is written to <c>counter-increments-poison</c> with the reason, through the return
/// value's queue output binding, and the function returns normally: nothing of it is applied and it
/// is not retried. Anything else that fails (storage unavailable, owners that do not answer within
/// <see cref="FuncMapFunctionsOptions.QueueWaitTimeout"/>) throws, so the runtime retries the message up to
/// <c>maxDequeueCount</c> times (host.json) and then moves the original message to the same poison queue;
/// a retry is safe because every owner deduplicates the batch id. The function waits for every owner's
/// reply, as the local host does: an add that overflows a counter's stored value is rejected by that key's
/// owner alone, the rest of the batch stands, and a poison envelope names the key (the local host's words).
/// </remarks>
public sealed class IncrementQueueFunction(
    IOptions<FuncMapFunctionsOptions> options, FunctionsMetrics metrics, TimeProvider timeProvider, ILogger<IncrementQueueFunction> logger)
{
    /// <summary>The queue batches arrive on.</summary>
    public const string QueueName = "counter-increments";

    /// <summary>Where messages go that can never succeed (also the runtime's own poison queue for <see cref="QueueName"/>).</summary>
    public const string PoisonQueueName = "counter-increments-poison";

    /// <summary>The envelope's reason for a message that is not a valid batch (the local host's words).</summary>
    internal const string InvalidMessageReason = "invalid message: it can never succeed";


    /// <summary>How much of the original message a poison envelope carries, so that it stays within the 64 KiB queue limit.</summary>
    internal const int MaxQuotedMessageChars = 32 * 1024;

    private static readonly JsonSerializerOptions EnvelopeJson = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Handles one queue message; returns the poison messages to write (none when the batch was signalled).</summary>
    [Function("CounterIncrements")]
    [QueueOutput(PoisonQueueName)]
    public async Task<string[]> RunAsync(
        [QueueTrigger(QueueName)] string message,
        [DurableClient] DurableTaskClient client,
        FunctionContext context,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(context);
        var messageId = BindingValue(context, "Id") ?? context.InvocationId;
        var dequeueCount = long.TryParse(BindingValue(context, "DequeueCount"), NumberStyles.None, CultureInfo.InvariantCulture, out var count) ? count : 0;
        DateTimeOffset? insertedOn = DateTimeOffset.TryParse(BindingValue(context, "InsertionTime"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var inserted)
            ? inserted
            : null;
        return await HandleAsync(message, new QueueMessageInfo(messageId, dequeueCount, insertedOn), client.Entities, cancellationToken);
    }

    /// <summary>The trigger's logic without the binding plumbing, for tests.</summary>
    internal async Task<string[]> HandleAsync(string? message, QueueMessageInfo info, DurableEntityClient entities, CancellationToken cancellationToken)
    {
        var parsed = IncrementBatchParser.ParseQueueMessage(message ?? string.Empty);
        if (!parsed.IsValid)
        {
            var rule = parsed.Errors.Count > 0 ? parsed.Errors[0].Rule : "batch.invalid";
            Log.MessagePoisoned(logger, info.MessageId, info.DequeueCount, string.Join("; ", parsed.Errors));
            metrics.MessagePoisoned(rule);
            return [CreatePoisonEnvelope(message ?? string.Empty, info, parsed.Errors)];
        }

        var batch = parsed.Batch!;
        var settings = options.Value;
        var outcome = await BatchSignaler.ApplyAsync(entities, batch, settings.SignalConcurrency, settings.QueueWaitTimeout, timeProvider, cancellationToken)
            ?? throw new TimeoutException(
                $"Not every owner of batch \"{batch.BatchId}\" answered within {settings.QueueWaitTimeout}; the message is retried (the batch id makes that safe).");
        Log.BatchSignalled(logger, batch.BatchId, info.MessageId, batch.ItemCount, batch.Deltas.Count);
        if (outcome.OverflowedKeys.Count == 0)
        {
            return [];
        }

        var keys = outcome.OverflowedKeys;
        Log.KeysOverflowed(logger, batch.BatchId, info.MessageId, keys.Count, string.Join(", ", keys.Take(10)));
        metrics.MessagePoisoned(BatchOverflow.Rule);
        return [CreatePoisonEnvelope(message!, info, BatchOverflow.Errors(keys), BatchOverflow.Reason(keys.Count), batch.BatchId, keys)];
    }

    /// <summary>
    /// The poison message, in the local host's envelope schema (the same poison queue, read by the same
    /// tools): why the batch was refused, the rules it broke, and (the start of) the message itself.
    /// </summary>
    internal static string CreatePoisonEnvelope(
        string message, QueueMessageInfo info, IReadOnlyList<ValidationError> errors,
        string reason = InvalidMessageReason, string? batchId = null, IReadOnlyList<string>? keys = null)
    {
        var truncated = message.Length > MaxQuotedMessageChars;
        var envelope = new PoisonEnvelope(
            Reason: reason,
            Errors: errors.Select(e => new PoisonError(e.Field, e.Rule, e.Message)).ToArray(),
            MessageId: info.MessageId,
            InsertedOn: info.InsertedOn,
            DequeueCount: info.DequeueCount,
            OriginalMessage: truncated ? message[..MaxQuotedMessageChars] : message,
            OriginalMessageTruncated: truncated,
            OriginalMessageLength: truncated ? message.Length : null,
            BatchId: batchId,
            Keys: keys);
        return JsonSerializer.Serialize(envelope, EnvelopeJson);
    }

    /// <summary>A binding data value as text; a value that arrives as a JSON string loses its quotes.</summary>
    private static string? BindingValue(FunctionContext context, string name) =>
        context.BindingContext.BindingData.TryGetValue(name, out var value) ? value?.ToString()?.Trim('"') : null;

    private sealed record PoisonEnvelope(
        string Reason,
        PoisonError[] Errors,
        string MessageId,
        DateTimeOffset? InsertedOn,
        long DequeueCount,
        string OriginalMessage,
        bool OriginalMessageTruncated,
        int? OriginalMessageLength,
        string? BatchId,
        IReadOnlyList<string>? Keys);

    private sealed record PoisonError(string Field, string Rule, string Message);
}

/// <summary>What the queue trigger knows of a message besides its text (its binding data).</summary>
/// <param name="MessageId">The queue message id (the invocation id when the binding data has none).</param>
/// <param name="DequeueCount">How often the message has been delivered, this time included.</param>
/// <param name="InsertedOn">When the message was enqueued, when known.</param>
internal sealed record QueueMessageInfo(string MessageId, long DequeueCount, DateTimeOffset? InsertedOn = null);
