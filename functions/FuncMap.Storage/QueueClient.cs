using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Azure.Core;

namespace FuncMap.Storage;

/// <summary>Queue service REST client for one queue (XML bodies).</summary>
internal sealed class QueueClient : IQueueClient
{
    internal const int MaxReceive = 32;
    private readonly StorageConnection _connection;
    private readonly string _queueUri;

    public QueueClient(StorageConnection connection, string name)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (string.IsNullOrEmpty(name) || name.Length is < 3 or > 63 || name[0] == '-' || name[^1] == '-'
            || name.Contains("--", StringComparison.Ordinal) || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            throw new ArgumentException("A queue name is 3-63 lower-case letters, digits and single hyphens.", nameof(name));
        }

        _connection = connection;
        Name = name;
        _queueUri = connection.QueueBase + "/" + name;
    }

    public string Name { get; }

    public async Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        using var message = Create(RequestMethod.Put, _queueUri);
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status is 201 or 204)
        {
            return;
        }

        var failure = StorageRequests.Failure(response);
        if (failure.Status == 409 && failure.ErrorCode == "QueueAlreadyExists")
        {
            return;
        }

        throw failure;
    }

    public async Task<SentMessage> SendMessageAsync(string text, TimeSpan? visibilityDelay = null, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var query = new List<string>();
        if (visibilityDelay is { } delay)
        {
            query.Add("visibilitytimeout=" + Seconds(delay));
        }

        if (timeToLive is { } ttl)
        {
            query.Add("messagettl=" + (ttl == Timeout.InfiniteTimeSpan ? "-1" : Seconds(ttl)));
        }

        using var message = Create(RequestMethod.Post, _queueUri + "/messages" + (query.Count > 0 ? "?" + string.Join('&', query) : string.Empty));
        message.Request.Headers.SetValue("Content-Type", "application/xml");
        message.Request.Content = RequestContent.Create(MessageBody(text));
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status != 201)
        {
            throw StorageRequests.Failure(response);
        }

        var item = XDocument.Parse(response.Content.ToString()).Root?.Element("QueueMessage")
            ?? throw new StorageException(response.Status, null, "Send response without a QueueMessage element.");
        return new SentMessage(
            Required(item, "MessageId"),
            Required(item, "PopReceipt"),
            ParseDate(Required(item, "InsertionTime")),
            item.Element("TimeNextVisible") is { } next ? ParseDate(next.Value) : null);
    }

    public async Task<IReadOnlyList<QueueMessage>> ReceiveMessagesAsync(int maxMessages, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxMessages, MaxReceive);
        var uri = _queueUri + "/messages?numofmessages=" + maxMessages.ToString(CultureInfo.InvariantCulture) + "&visibilitytimeout=" + Seconds(visibilityTimeout);
        using var message = Create(RequestMethod.Get, uri);
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status != 200)
        {
            throw StorageRequests.Failure(response);
        }

        var root = XDocument.Parse(response.Content.ToString()).Root;
        if (root is null)
        {
            return [];
        }

        return root.Elements("QueueMessage").Select(m => new QueueMessage(
            Required(m, "MessageId"),
            Required(m, "PopReceipt"),
            long.Parse(Required(m, "DequeueCount"), NumberStyles.None, CultureInfo.InvariantCulture),
            ParseDate(Required(m, "InsertionTime")),
            m.Element("TimeNextVisible") is { } next ? ParseDate(next.Value) : null,
            m.Element("MessageText")?.Value ?? string.Empty)).ToList();
    }

    public async Task<string> UpdateVisibilityAsync(string messageId, string popReceipt, TimeSpan visibilityTimeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        ArgumentException.ThrowIfNullOrEmpty(popReceipt);
        using var message = Create(RequestMethod.Put, MessageUri(messageId, popReceipt) + "&visibilitytimeout=" + Seconds(visibilityTimeout));
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status != 204)
        {
            throw StorageRequests.Failure(response);
        }

        return response.Headers.TryGetValue("x-ms-popreceipt", out var receipt) && !string.IsNullOrEmpty(receipt)
            ? receipt
            : throw new StorageException(response.Status, null, "Update response without x-ms-popreceipt.");
    }

    public async Task DeleteMessageAsync(string messageId, string popReceipt, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(messageId);
        ArgumentException.ThrowIfNullOrEmpty(popReceipt);
        using var message = Create(RequestMethod.Delete, MessageUri(messageId, popReceipt));
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status != 204)
        {
            throw StorageRequests.Failure(response);
        }
    }

    public async Task<int> GetApproximateCountAsync(CancellationToken cancellationToken = default)
    {
        using var message = Create(RequestMethod.Get, _queueUri + "?comp=metadata");
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status != 200)
        {
            throw StorageRequests.Failure(response);
        }

        return response.Headers.TryGetValue("x-ms-approximate-messages-count", out var count)
            ? int.Parse(count, NumberStyles.None, CultureInfo.InvariantCulture)
            : throw new StorageException(response.Status, null, "Metadata response without x-ms-approximate-messages-count.");
    }

    public async Task ClearAsync(CancellationToken cancellationToken = default)
    {
        using var message = Create(RequestMethod.Delete, _queueUri + "/messages");
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status != 204)
        {
            throw StorageRequests.Failure(response);
        }
    }

    /// <summary>&lt;QueueMessage&gt;&lt;MessageText&gt;…&lt;/MessageText&gt;&lt;/QueueMessage&gt;, CR entitized so it survives XML newline normalization.</summary>
    internal static byte[] MessageBody(string text)
    {
        var settings = new XmlWriterSettings { Encoding = new UTF8Encoding(false), NewLineHandling = NewLineHandling.Entitize, OmitXmlDeclaration = false };
        using var stream = new MemoryStream();
        using (var writer = XmlWriter.Create(stream, settings))
        {
            writer.WriteStartElement("QueueMessage");
            writer.WriteElementString("MessageText", text);
            writer.WriteEndElement();
        }

        return stream.ToArray();
    }

    private static string Seconds(TimeSpan value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
        return ((long)Math.Ceiling(value.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
    }

    private static string Required(XElement element, string name) =>
        element.Element(name)?.Value ?? throw new StorageException(200, null, "Queue response without " + name + ".");

    private static DateTimeOffset ParseDate(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private string MessageUri(string messageId, string popReceipt) =>
        _queueUri + "/messages/" + Uri.EscapeDataString(messageId) + "?popreceipt=" + Uri.EscapeDataString(popReceipt);

    private HttpMessage Create(RequestMethod method, string uri) =>
        StorageRequests.Create(_connection, StorageService.Queue, method, new Uri(uri));
}
