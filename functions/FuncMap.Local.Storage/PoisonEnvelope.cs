using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using FuncMap.Storage;
using FuncMap.Validation;

namespace FuncMap.Local.Storage;

/// <summary>One broken rule in a poison envelope.</summary>
public sealed record PoisonError(string Field, string Rule, string Message);

/// <summary>
/// What the poison queue <c>counter-increments-poison</c> receives for a message that can never succeed: why, the
/// rules it broke, and the original message (cut, and flagged, when the envelope would exceed a queue message).
/// </summary>
public sealed record PoisonEnvelope(
    string Reason,
    IReadOnlyList<PoisonError> Errors,
    string MessageId,
    DateTimeOffset InsertedOn,
    long DequeueCount,
    string OriginalMessage,
    bool OriginalMessageTruncated = false,
    int? OriginalMessageLength = null,
    string? BatchId = null,
    IReadOnlyList<string>? Keys = null)
{
    /// <summary>The most bytes an envelope takes; the queue's limit is 64 KiB.</summary>
    internal const int MaxBytes = 60 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>An envelope for <paramref name="message"/>.</summary>
    public static PoisonEnvelope For(QueueMessage message, string reason, IEnumerable<ValidationError> errors, string? batchId = null, IReadOnlyList<string>? keys = null)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(errors);
        return new PoisonEnvelope(reason, errors.Select(static e => new PoisonError(e.Field, e.Rule, e.Message)).ToList(), message.MessageId, message.InsertedOn, message.DequeueCount, message.MessageText, BatchId: batchId, Keys: keys);
    }

    /// <summary>Parses an envelope (tests, tools).</summary>
    public static PoisonEnvelope? Parse(string text) => JsonSerializer.Deserialize<PoisonEnvelope>(text, Json);

    /// <summary>The JSON text, at most <see cref="MaxBytes"/> UTF-8 bytes: the original message is cut until it fits.</summary>
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
