using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Azure.Core;
using Azure.Core.Pipeline;

namespace FuncMap.Storage;

/// <summary>Which service a request addresses; decides the Shared Key string-to-sign.</summary>
internal enum StorageService
{
    Table,
    Queue,
}

/// <summary>
/// Signs requests with the account key: "SharedKey for Table" (VERB, Content-MD5, Content-Type, Date,
/// resource) for tables and full SharedKey (with canonicalized x-ms headers and query) for queues.
/// Per-retry, so every attempt carries a fresh x-ms-date.
/// </summary>
internal sealed class SharedKeyPolicy : HttpPipelineSynchronousPolicy
{
    internal const string ServiceProperty = "FuncMap.Storage.Service";
    private readonly string _accountName;
    private readonly byte[] _key;

    public SharedKeyPolicy(string accountName, string accountKeyBase64)
    {
        _accountName = accountName;
        _key = Convert.FromBase64String(accountKeyBase64);
    }

    public override void OnSendingRequest(HttpMessage message)
    {
        var request = message.Request;
        request.Headers.SetValue("x-ms-date", DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture));
        var service = message.TryGetProperty(ServiceProperty, out var value) && value is StorageService s ? s : StorageService.Queue;
        var stringToSign = service == StorageService.Table ? BuildTableStringToSign(request) : BuildQueueStringToSign(request);
        var signature = Convert.ToBase64String(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(stringToSign)));
        request.Headers.SetValue("Authorization", "SharedKey " + _accountName + ":" + signature);
    }

    internal string BuildTableStringToSign(Request request)
    {
        var uri = request.Uri.ToUri();
        var sb = new StringBuilder();
        sb.Append(request.Method.Method.ToUpperInvariant()).Append('\n');
        sb.Append(Header(request, "Content-MD5")).Append('\n');
        sb.Append(Header(request, "Content-Type")).Append('\n');
        sb.Append(Header(request, "x-ms-date")).Append('\n');
        sb.Append('/').Append(_accountName).Append(uri.AbsolutePath.Length > 0 ? uri.AbsolutePath : "/");
        var query = ParseQuery(uri);
        if (query.TryGetValue("comp", out var comp))
        {
            sb.Append("?comp=").Append(comp);
        }

        return sb.ToString();
    }

    internal string BuildQueueStringToSign(Request request)
    {
        var uri = request.Uri.ToUri();
        var contentLength = request.Content is not null && request.Content.TryComputeLength(out var length) && length > 0
            ? length.ToString(CultureInfo.InvariantCulture)
            : string.Empty;
        var sb = new StringBuilder();
        sb.Append(request.Method.Method.ToUpperInvariant()).Append('\n');
        sb.Append(Header(request, "Content-Encoding")).Append('\n');
        sb.Append(Header(request, "Content-Language")).Append('\n');
        sb.Append(contentLength).Append('\n');
        sb.Append(Header(request, "Content-MD5")).Append('\n');
        sb.Append(Header(request, "Content-Type")).Append('\n');
        sb.Append('\n'); // Date: empty, x-ms-date is signed below.
        sb.Append(Header(request, "If-Modified-Since")).Append('\n');
        sb.Append(Header(request, "If-Match")).Append('\n');
        sb.Append(Header(request, "If-None-Match")).Append('\n');
        sb.Append(Header(request, "If-Unmodified-Since")).Append('\n');
        sb.Append(Header(request, "Range")).Append('\n');
#pragma warning disable CA1308 // The canonical form is lower case by specification.
        foreach (var (name, value) in request.Headers
                     .Where(h => h.Name.StartsWith("x-ms-", StringComparison.OrdinalIgnoreCase))
                     .Select(h => (Name: h.Name.Trim().ToLowerInvariant(), h.Value))
                     .OrderBy(h => h.Name, StringComparer.Ordinal))
        {
            sb.Append(name).Append(':').Append(value.Trim()).Append('\n');
        }

        sb.Append('/').Append(_accountName).Append(uri.AbsolutePath.Length > 0 ? uri.AbsolutePath : "/");
        foreach (var (name, value) in ParseQuery(uri).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sb.Append('\n').Append(name).Append(':').Append(value);
        }
#pragma warning restore CA1308

        return sb.ToString();
    }

    private static string Header(Request request, string name) =>
        request.Headers.TryGetValue(name, out var value) ? value : string.Empty;

    /// <summary>Query parameters, names lower-cased, values URL-decoded, repeated names comma-joined.</summary>
    private static Dictionary<string, string> ParseQuery(Uri uri)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var query = uri.Query.TrimStart('?');
        foreach (var part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var pair = part.Split('=', 2);
#pragma warning disable CA1308 // The canonical form is lower case by specification.
            var name = WebUtility.UrlDecode(pair[0]).ToLowerInvariant();
#pragma warning restore CA1308
            var value = pair.Length > 1 ? WebUtility.UrlDecode(pair[1]) : string.Empty;
            result[name] = result.TryGetValue(name, out var existing) ? existing + "," + value : value;
        }

        return result;
    }
}
