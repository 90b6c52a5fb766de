using System.Buffers.Text;
using System.Text;
using FuncMap.Validation;

namespace FuncMap.Http;

/// <summary>
/// The list API's continuation token: the last key of the page, UTF-8, base64url without padding.
/// Opaque to clients; validated on the way in (it must decode to a valid counter key).
/// </summary>
public static class ContinuationToken
{
    /// <summary>The query parameter that carries it.</summary>
    public const string ParameterName = "continuationToken";

    private static readonly int MaxEncodedLength = Base64Url.GetEncodedLength(CounterKey.MaxLength);

    /// <summary>Encodes the last key of a page.</summary>
    public static string Encode(string lastKey) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(lastKey));

    /// <summary>Decodes a token into the key to continue after, or returns the rule it breaks.</summary>
    public static ValidationError? TryDecode(string token, out string? afterKey)
    {
        ArgumentNullException.ThrowIfNull(token);
        afterKey = null;
        if (token.Length == 0 || token.Length > MaxEncodedLength || !Base64Url.IsValid(token, out var decodedLength) || decodedLength == 0)
        {
            return Invalid();
        }

        var bytes = new byte[decodedLength];
        if (Base64Url.DecodeFromChars(token, bytes) != decodedLength)
        {
            return Invalid();
        }

        string key;
        try
        {
            key = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return Invalid();
        }

        if (!CounterKey.IsValid(key))
        {
            return Invalid();
        }

        afterKey = key;
        return null;
    }

    private static ValidationError Invalid() =>
        new(ParameterName, "continuationToken.invalid", "The continuation token is not one this API issued; start again without it.");
}
