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
/// is not retried. Anything else that fails (storage unavailable) throws, so the runtime retries the
/// message up to <c>maxDequeueCount</c> times (host.json) and then moves the original message to the
/// same poison queue. An add that overflows the counter's stored value is rejected by that key's owner
/// alone (counted and logged), as the contract says for batches.
/// </remarks>
public sealed class IncrementQueueFunction(IOptions<FuncMapFunctionsOptions> options, FunctionsMetrics metrics, ILogger<IncrementQueueFunction> logger)
{
    /// <summary>The queue batches arrive on.</summary>
    public const string QueueName = "counter-increments";

    /// <summary>Where messages go that can never succeed (also the runtime's own poison queue for <see cref="QueueName"/>).</summary>
    public const string PoisonQueueName = "counter-increments-poison";

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
        var dequeueCount = long.TryParse(BindingValue(context, "DequeueCount"), out var count) ? count : 0;
        return await HandleAsync(message, messageId, dequeueCount, client.Entities, cancellationToken);
    }

    /// <summary>The trigger's logic without the binding plumbing, for tests.</summary>
    internal async Task<string[]> HandleAsync(string? message, string messageId, long dequeueCount, DurableEntityClient entities, CancellationToken cancellationToken)
    {
        var parsed = IncrementBatchParser.ParseQueueMessage(message ?? string.Empty);
        if (!parsed.IsValid)
        {
            var reason = parsed.Errors.Count > 0 ? parsed.Errors[0].Rule : "batch.invalid";
            Log.MessagePoisoned(logger, messageId, dequeueCount, string.Join("; ", parsed.Errors));
            metrics.MessagePoisoned(reason);
            return [CreatePoisonEnvelope(message ?? string.Empty, messageId, parsed.Errors)];
        }

        var batch = parsed.Batch!;
        await BatchSignaler.SignalAsync(entities, batch, options.Value.SignalConcurrency, cancellationToken);
        Log.BatchSignalled(logger, batch.BatchId, messageId, batch.ItemCount, batch.Deltas.Count);
        return [];
    }

    /// <summary>The poison message: why the batch was refused, and (the start of) the message itself.</summary>
    internal static string CreatePoisonEnvelope(string message, string messageId, IReadOnlyList<ValidationError> errors)
    {
        var truncated = message.Length > MaxQuotedMessageChars;
        var envelope = new PoisonEnvelope(
            Reason: "The message is not a valid increment batch and can never succeed; nothing of it was applied.",
            MessageId: messageId,
            Errors: errors.Select(e => new PoisonError(e.Field, e.Rule, e.Message)).ToArray(),
            Message: truncated ? message[..MaxQuotedMessageChars] : message,
            MessageTruncated: truncated ? true : null);
        return JsonSerializer.Serialize(envelope, EnvelopeJson);
    }

    private static string? BindingValue(FunctionContext context, string name) =>
        context.BindingContext.BindingData.TryGetValue(name, out var value) ? value?.ToString() : null;

    private sealed record PoisonEnvelope(string Reason, string MessageId, PoisonError[] Errors, string Message, bool? MessageTruncated);

    private sealed record PoisonError(string Field, string Rule, string Message);
}
