using System.Buffers.Text;
using System.Text;
using FuncMap.Validation;

namespace FuncMap.Http;

/// <summary>
/// The list API's continuation token: the last key of the page and, for a host whose backend has its own
/// position (the Functions app's entity query), that position; UTF-8 <c>{lastKey}</c> or
/// <c>{lastKey}\n{resume}</c>, base64url without padding. Opaque to clients; validated on the way in
/// (it must decode to a valid counter key, then an optional non-empty position), so a token the API
/// never issued is a 400 on every host.
/// </summary>
public static class ContinuationToken
{
    /// <summary>The query parameter that carries it.</summary>
    public const string ParameterName = "continuationToken";

    /// <summary>The longest token accepted: a key and a backend position of a few kilobytes.</summary>
    public const int MaxEncodedLength = 8 * 1024;

    /// <summary>Encodes the last key of a page and, when the host has one, the backend position to resume from.</summary>
    public static string Encode(string lastKey, string? resume = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(lastKey);
        return Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.IsNullOrEmpty(resume) ? lastKey : lastKey + "\n" + resume));
    }

    /// <summary>Decodes a token into the key to continue after, or returns the rule it breaks.</summary>
    public static ValidationError? TryDecode(string token, out string? afterKey) => TryDecode(token, out afterKey, out _);

    /// <summary>Decodes a token into the key to continue after and the backend position (null when it has none), or returns the rule it breaks.</summary>
    public static ValidationError? TryDecode(string token, out string? afterKey, out string? resume)
    {
        ArgumentNullException.ThrowIfNull(token);
        afterKey = null;
        resume = null;
        if (token.Length == 0 || token.Length > MaxEncodedLength || !Base64Url.IsValid(token, out var decodedLength) || decodedLength == 0)
        {
            return Invalid();
        }

        var bytes = new byte[decodedLength];
        if (Base64Url.DecodeFromChars(token, bytes) != decodedLength)
        {
            return Invalid();
        }

        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return Invalid();
        }

        // A key never holds a newline (its charset), so the first one ends it.
        var newline = text.IndexOf('\n', StringComparison.Ordinal);
        var key = newline < 0 ? text : text[..newline];
        if (!CounterKey.IsValid(key) || newline == text.Length - 1)
        {
            return Invalid();
        }

        afterKey = key;
        resume = newline < 0 ? null : text[(newline + 1)..];
        return null;
    }

    private static ValidationError Invalid() =>
        new(ParameterName, "continuationToken.invalid", "The continuation token is not one this API issued; start again without it.");
}
