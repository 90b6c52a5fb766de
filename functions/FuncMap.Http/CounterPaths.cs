using FuncMap.Validation;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FuncMap.Http;

/// <summary>
/// The counter routes' paths as the client sent them. A server normalizes a path before routing it (RFC 3986 §5.2.4:
/// <c>/api/counters/./add</c> becomes <c>/api/counters/add</c>, <c>%2E</c> decoded first), so a key that is a dot
/// segment would reach another route (a 405 for <c>GET, DELETE</c>, or the list) instead of the key rule. This looks
/// at the raw target first.
/// </summary>
public static class CounterPaths
{
    /// <summary>The path every counter route starts with.</summary>
    public const string Prefix = "/api/counters/";

    /// <summary>
    /// 400 <c>key.dotSegment</c> (field <c>key</c>) when the raw request target (<c>IHttpRequestFeature.RawTarget</c>) is below
    /// <see cref="Prefix"/> and one of its segments is <c>.</c> or <c>..</c>, plain or percent-encoded; null otherwise.
    /// </summary>
    public static ProblemHttpResult? ValidateRawTarget(string? rawTarget)
    {
        if (string.IsNullOrEmpty(rawTarget) || !rawTarget.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var end = rawTarget.IndexOfAny(['?', '#']);
        var rest = rawTarget.AsSpan(Prefix.Length, (end < 0 ? rawTarget.Length : end) - Prefix.Length);
        foreach (var range in rest.Split('/'))
        {
            var segment = rest[range];
            // The longest spelling of a dot segment is "%2E%2E".
            if (segment.Length is 0 or > 6)
            {
                continue;
            }

            var decoded = Uri.UnescapeDataString(segment.ToString());
            if (decoded is "." or ".." && CounterKey.Validate(decoded) is { } error)
            {
                return CounterProblems.Validation(error);
            }
        }

        return null;
    }
}
