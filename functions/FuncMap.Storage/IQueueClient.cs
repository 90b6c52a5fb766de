namespace FuncMap.Storage;

/// <summary>One queue of a storage account.</summary>
public interface IQueueClient
{
    string Name { get; }

    /// <summary>Creates the queue; an existing queue is success.</summary>
    Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Enqueues <paramref name="text"/> as is (XML-escaped on the wire; the caller decides plain or base64).
    /// Text must be valid XML character data: control characters other than tab/CR/LF need base64.
    /// </summary>
    Task<SentMessage> SendMessageAsync(string text, TimeSpan? visibilityDelay = null, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default);

    /// <summary>Dequeues up to <paramref name="maxMessages"/> (1-32) messages, invisible to others for <paramref name="visibilityTimeout"/>.</summary>
    Task<IReadOnlyList<QueueMessage>> ReceiveMessagesAsync(int maxMessages, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default);

    /// <summary>Makes a received message visible again after <paramref name="visibilityTimeout"/>; returns the new pop receipt.</summary>
    Task<string> UpdateVisibilityAsync(string messageId, string popReceipt, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default);

    /// <summary>Deletes a received message (the pop receipt proves this receiver still holds it).</summary>
    Task DeleteMessageAsync(string messageId, string popReceipt, CancellationToken cancellationToken = default);

    /// <summary>x-ms-approximate-messages-count.</summary>
    Task<int> GetApproximateCountAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes every message.</summary>
    Task ClearAsync(CancellationToken cancellationToken = default);
}

/// <summary>A received message.</summary>
public sealed record QueueMessage(string MessageId, string PopReceipt, long DequeueCount, DateTimeOffset InsertedOn, DateTimeOffset? NextVisibleOn, string MessageText);

/// <summary>An enqueued message's identity.</summary>
public sealed record SentMessage(string MessageId, string PopReceipt, DateTimeOffset InsertedOn, DateTimeOffset? NextVisibleOn);
