using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FuncMap.Http;

/// <summary>
/// The request-line and header limits of the contract, and the check that answers them with ProblemDetails
/// (414 <c>request.uriLength</c>, 431 <c>request.headersSize</c>). The limits are Kestrel's defaults. Kestrel itself
/// answers a request over its limits with a bare status and no body before any application code runs (it has no
/// hook for that answer), so a host runs its server with higher ceilings (<see cref="ServerRequestLineBytes"/>,
/// <see cref="ServerHeaderBytes"/>, <see cref="ServerHeaderCount"/>) and enforces these limits in its pipeline:
/// everything between a limit and its ceiling gets a ProblemDetails; beyond the ceiling the server still refuses
/// on its own, bare, to bound the memory a connection may hold.
/// </summary>
public static class RequestLimits
{
    /// <summary>The longest request line (method, target, version and CRLF), in bytes: Kestrel's <c>MaxRequestLineSize</c> default.</summary>
    public const int MaxRequestLineBytes = 8 * 1024;

    /// <summary>The most header fields a request may have: Kestrel's <c>MaxRequestHeaderCount</c> default.</summary>
    public const int MaxHeaderCount = 100;

    /// <summary>The most bytes all header lines (<c>name: value</c> CRLF) may take: Kestrel's <c>MaxRequestHeadersTotalSize</c> default.</summary>
    public const int MaxHeaderBytes = 32 * 1024;

    /// <summary>The server's own request-line ceiling (8 × <see cref="MaxRequestLineBytes"/>): beyond it the server answers a bare 414.</summary>
    public const int ServerRequestLineBytes = 8 * MaxRequestLineBytes;

    /// <summary>The server's own header-count ceiling (10 × <see cref="MaxHeaderCount"/>): beyond it the server answers a bare 431.</summary>
    public const int ServerHeaderCount = 10 * MaxHeaderCount;

    /// <summary>The server's own header-size ceiling (8 × <see cref="MaxHeaderBytes"/>): beyond it the server answers a bare 431.</summary>
    public const int ServerHeaderBytes = 8 * MaxHeaderBytes;

    /// <summary>
    /// 414 when the request line is over <see cref="MaxRequestLineBytes"/>, 431 when the headers are over
    /// <see cref="MaxHeaderCount"/> fields or <see cref="MaxHeaderBytes"/> bytes; null within the limits.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="rawTarget">
    /// The target as sent (<see cref="IHttpRequestFeature.RawTarget"/>), which the caller has already read for its other
    /// checks; null when the server gives none, and then the decoded path base, path and query stand for it.
    /// </param>
    public static ProblemHttpResult? Check(HttpContext context, string? rawTarget)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.Request;
        var target = rawTarget ?? (request.PathBase + request.Path + request.QueryString).ToString();
        // "GET /api/counters HTTP/1.1\r\n": method, space, target, space, version, CRLF.
        if (request.Method.Length + target.Length + request.Protocol.Length + 4 > MaxRequestLineBytes)
        {
            return CounterProblems.UriTooLong(MaxRequestLineBytes);
        }

        var count = 0;
        long bytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            foreach (var value in values)
            {
                count++;
                bytes += name.Length + 2 + (value?.Length ?? 0) + 2; // "name: value\r\n"
            }
        }

        return count > MaxHeaderCount || bytes > MaxHeaderBytes ? CounterProblems.HeadersTooLarge(MaxHeaderCount, MaxHeaderBytes) : null;
    }
}
