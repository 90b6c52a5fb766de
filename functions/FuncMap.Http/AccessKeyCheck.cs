using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace FuncMap.Http;

/// <summary>
/// The optional access key: a request is allowed when it carries the key in the <c>x-functions-key</c>
/// header or the <c>code</c> query parameter (the Azure Functions conventions). Both sides are hashed
/// (SHA-256) and compared in constant time, so neither the content nor the length of the key leaks
/// through timing.
/// </summary>
public sealed class AccessKeyCheck
{
    /// <summary>The header that carries the key.</summary>
    public const string HeaderName = "x-functions-key";

    /// <summary>The query parameter that carries the key.</summary>
    public const string QueryName = "code";

    private readonly byte[] _expectedHash;

    /// <summary>Creates a check for <paramref name="accessKey"/> (non-empty).</summary>
    public AccessKeyCheck(string accessKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(accessKey);
        _expectedHash = SHA256.HashData(Encoding.UTF8.GetBytes(accessKey));
    }

    /// <summary>True when the request carries the key; <paramref name="keyPresent"/> tells a wrong key from a missing one.</summary>
    public bool IsAuthorized(HttpRequest request, out bool keyPresent)
    {
        ArgumentNullException.ThrowIfNull(request);
        string? given = null;
        if (request.Headers.TryGetValue(HeaderName, out var header) && header.Count == 1)
        {
            given = header[0];
        }
        else if (request.Query.TryGetValue(QueryName, out var query) && query.Count == 1)
        {
            given = query[0];
        }

        keyPresent = !string.IsNullOrEmpty(given);
        if (!keyPresent)
        {
            return false;
        }

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(given!), hash);
        return CryptographicOperations.FixedTimeEquals(hash, _expectedHash);
    }
}
