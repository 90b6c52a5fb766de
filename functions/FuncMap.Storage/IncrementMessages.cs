using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.Storage.Queues.Models;
using FuncMap.Batches;
using FuncMap.Validation;

namespace FuncMap.Storage;

/// <summary>
/// The increment queue's messages, for both hosts: how a message is encoded (plain JSON, or base64 of it, as older
/// SDKs and the Functions output binding write), how a received <see cref="QueueMessage"/> is read, and when a
/// failing message is given up on. Clients are built with <c>QueueMessageEncoding.None</c>: the body is
/// taken as it arrives and <see cref="IncrementBatchParser.ParseQueueMessage(ReadOnlySpan{byte})"/> tells the two
/// encodings apart, so producers may use either.
/// </summary>
public static class IncrementMessages
{
    /// <summary>The queue batches arrive on.</summary>
    public const string QueueName = "counter-increments";

    /// <summary>Where messages go that can never succeed, as a <see cref="PoisonEnvelope"/>.</summary>
    public const string PoisonQueueName = "counter-increments-poison";

    /// <summary>The envelope's reason for a message that is not a valid batch.</summary>
    public const string InvalidReason = "invalid message: it can never succeed";

    /// <summary>The start of the envelope's reason for a message that kept failing.</summary>
    public const string TooManyDeliveriesReason = "too many deliveries: ";

    /// <summary>The message text of <paramref name="json"/>: as is, or base64 of its UTF-8 bytes.</summary>
    public static string Encode(string json, bool base64)
    {
        ArgumentNullException.ThrowIfNull(json);
        return base64 ? Convert.ToBase64String(Encoding.UTF8.GetBytes(json)) : json;
    }

    /// <summary>Validates and aggregates the batch a received message carries (plain or base64 JSON).</summary>
    public static BatchParseResult Parse(QueueMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return IncrementBatchParser.ParseQueueMessage((message.Body?.ToMemory() ?? ReadOnlyMemory<byte>.Empty).Span);
    }

    /// <summary>The envelope of a message that is not a valid batch.</summary>
    public static PoisonEnvelope Invalid(QueueMessage message, IEnumerable<ValidationError> errors) =>
        PoisonEnvelope.For(message, InvalidReason, errors);

    /// <summary>The rule of a key whose add would overflow its stored counter.</summary>
    public const string OverflowRule = "counter.overflow";

    /// <summary>The rule of a key on which the batch id was applied before with another delta.</summary>
    public const string MismatchRule = "idempotency.mismatch";

    /// <summary>
    /// The envelope naming the keys whose owners refused this batch's add because the value would overflow; the rest
    /// of the batch was applied (both hosts send it, in these words).
    /// </summary>
    public static PoisonEnvelope Overflowed(QueueMessage message, string batchId, IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var errors = keys.Select(static k => new ValidationError(k, OverflowRule, $"Adding this batch's delta to counter '{k}' would overflow Int64; it was not applied.")).ToList();
        return PoisonEnvelope.For(message, $"overflow at apply: {keys.Count} counter(s) not applied; the rest of the batch was applied", errors, batchId, keys);
    }

    /// <summary>
    /// The envelope naming the keys on which the batch id was applied before with another total: refused by their
    /// owners, the rest of the batch applied (both hosts send it, in these words).
    /// </summary>
    public static PoisonEnvelope Mismatched(QueueMessage message, string batchId, IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var errors = keys.Select(k => new ValidationError(k, MismatchRule,
            $"Batch id '{batchId}' was applied to counter '{k}' before with another total; this batch's delta for it was not applied.")).ToList();
        return PoisonEnvelope.For(message, $"{MismatchRule}: {keys.Count} counter(s) not applied (the batch id was used before with other content for them); the rest of the batch was applied", errors, batchId, keys);
    }

    /// <summary>
    /// The retry decision after handling <paramref name="message"/> failed with <paramref name="failure"/>: null while
    /// it has been delivered fewer than <paramref name="maxDeliveries"/> times (leave it to reappear; any failure may be
    /// passing, and a batch id deduplicates the retry), else the envelope to poison it with, so that a message that
    /// keeps failing cannot loop forever.
    /// </summary>
    public static PoisonEnvelope? GiveUp(QueueMessage message, Exception failure, int maxDeliveries)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(failure);
        return message.DequeueCount < maxDeliveries ? null : PoisonEnvelope.For(message, TooManyDeliveriesReason + failure.Message, []);
    }
}

/// <summary>One broken rule in a poison envelope.</summary>
public sealed record PoisonError(string Field, string Rule, string Message);

/// <summary>
/// What the poison queue <c>counter-increments-poison</c> receives for a message that can never succeed (both hosts
/// write this one schema): why, the rules it broke, and the original message (cut, and flagged, when the envelope
/// would exceed a queue message).
/// </summary>
public sealed record PoisonEnvelope(
    string Reason,
    IReadOnlyList<PoisonError> Errors,
    string MessageId,
    DateTimeOffset? InsertedOn,
    long DequeueCount,
    string OriginalMessage,
    bool OriginalMessageTruncated = false,
    int? OriginalMessageLength = null,
    string? BatchId = null,
    IReadOnlyList<string>? Keys = null)
{
    /// <summary>The most UTF-8 bytes an envelope takes; the queue's limit is 64 KiB.</summary>
    public const int MaxBytes = 60 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>An envelope for <paramref name="message"/>.</summary>
    public static PoisonEnvelope For(QueueMessage message, string reason, IEnumerable<ValidationError> errors, string? batchId = null, IReadOnlyList<string>? keys = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(reason);
        ArgumentNullException.ThrowIfNull(errors);
        return new PoisonEnvelope(reason, errors.Select(static e => new PoisonError(e.Field, e.Rule, e.Message)).ToList(), message.MessageId,
            message.InsertedOn, message.DequeueCount, message.Body?.ToString() ?? string.Empty, BatchId: batchId, Keys: keys);
    }

    /// <summary>Parses an envelope (tests, tools).</summary>
    public static PoisonEnvelope? Parse(string text) => JsonSerializer.Deserialize<PoisonEnvelope>(text, Json);

    /// <summary>The JSON text, at most <see cref="MaxBytes"/> UTF-8 bytes: the original message is halved until it fits.</summary>
    public string ToJson()
    {
        var envelope = this;
        var text = JsonSerializer.Serialize(envelope, Json);
        while (Encoding.UTF8.GetByteCount(text) > MaxBytes && envelope.OriginalMessage.Length > 0)
        {
            envelope = envelope with
            {
                OriginalMessage = envelope.OriginalMessage[..(envelope.OriginalMessage.Length / 2)],
                OriginalMessageTruncated = true,
                OriginalMessageLength = OriginalMessage.Length,
            };
            text = JsonSerializer.Serialize(envelope, Json);
        }

        return text;
    }
}
