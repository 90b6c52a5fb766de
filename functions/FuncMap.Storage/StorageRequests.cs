using System.Text.Json;
using System.Xml.Linq;
using Azure;
using Azure.Core;

namespace FuncMap.Storage;

/// <summary>Send helpers shared by the table and queue clients: one place that turns failures into <see cref="StorageException"/>.</summary>
internal static class StorageRequests
{
    public static HttpMessage Create(StorageConnection connection, StorageService service, RequestMethod method, Uri uri)
    {
        var message = connection.Pipeline.CreateMessage();
        message.SetProperty(SharedKeyPolicy.ServiceProperty, service);
        message.Request.Method = method;
        message.Request.Uri.Reset(uri);
        message.Request.Headers.SetValue("x-ms-version", connection.ServiceVersion);
        return message;
    }

    /// <summary>Sends; network failures and timeouts become a transient <see cref="StorageException"/> with status 0 / 408.</summary>
    public static async Task<Response> SendAsync(StorageConnection connection, HttpMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await connection.Pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 0)
        {
            throw new StorageException(0, null, StorageException.Describe(0, null, ex.Message), innerException: ex);
        }
        catch (AggregateException ex) when (ex.InnerExceptions.All(static e => e is RequestFailedException { Status: 0 }))
        {
            // Azure.Core's retry policy reports every failed attempt of a request that never got a response.
            throw new StorageException(0, null, StorageException.Describe(0, null, ex.InnerExceptions[^1].Message), innerException: ex);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StorageException(408, null, StorageException.Describe(408, null, "network timeout"), innerException: ex);
        }

        return message.Response;
    }

    /// <summary>Builds the exception for an error response: code from x-ms-error-code, else the JSON or XML body.</summary>
    public static StorageException Failure(Response response)
    {
        var body = response.Content?.ToString() ?? string.Empty;
        var (bodyCode, detail) = ParseErrorBody(body);
        response.Headers.TryGetValue("x-ms-error-code", out var headerCode);
        var code = string.IsNullOrEmpty(headerCode) ? bodyCode : headerCode;
        return new StorageException(response.Status, code, StorageException.Describe(response.Status, code, detail ?? response.ReasonPhrase));
    }

    /// <summary>Error code and message from an odata.error JSON or an XML &lt;Error&gt; body.</summary>
    public static (string? Code, string? Message) ParseErrorBody(string body)
    {
        var trimmed = body.TrimStart();
        try
        {
            if (trimmed.StartsWith('{'))
            {
                using var doc = JsonDocument.Parse(trimmed);
                if (doc.RootElement.TryGetProperty("odata.error", out var error))
                {
                    var code = error.TryGetProperty("code", out var c) ? c.GetString() : null;
                    var message = error.TryGetProperty("message", out var m)
                        ? (m.ValueKind == JsonValueKind.Object && m.TryGetProperty("value", out var v) ? v.GetString() : m.ToString())
                        : null;
                    return (code, message);
                }
            }
            else if (trimmed.StartsWith('<'))
            {
                var root = XDocument.Parse(trimmed).Root;
                return (root?.Element("Code")?.Value, root?.Element("Message")?.Value);
            }
        }
        catch (Exception ex) when (ex is JsonException or System.Xml.XmlException)
        {
            // Not a storage error body (e.g. a proxy's HTML page): report the status without a code.
            return (null, trimmed.Length > 200 ? trimmed[..200] : trimmed);
        }

        return (null, null);
    }
}
