using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace FuncMap.Http;

/// <summary>A request body read within the limit, or the problem that stopped it.</summary>
/// <param name="Bytes">The body (empty when none was sent).</param>
/// <param name="Problem">413, 415 or 400 when the body cannot be used; then <paramref name="Bytes"/> is empty.</param>
public readonly record struct BodyReadResult(ReadOnlyMemory<byte> Bytes, ProblemHttpResult? Problem);

/// <summary>
/// Reads JSON request bodies with a bound that counts body bytes, however the body is framed: the reader stops one
/// byte past the limit, for a Content-Length and for chunked bodies alike. The server's own limit
/// (<see cref="IHttpMaxRequestBodySizeFeature"/>) is lifted for the request, because Kestrel counts chunk framing
/// against it (a 300 KB body in 2-byte chunks is 1 MB of framing). A body over the limit is refused with 413 only once
/// the rest of it has been read and discarded, up to <see cref="MaxDrainBytes"/> in <see cref="DrainTimeout"/>: a proxy
/// in front of the app (the Functions host forwards each request to the worker as a stream) fails the whole exchange with
/// a 500 when the app closes a connection it is still sending the body on; a direct client sees a reset instead of the 413.
/// </summary>
public static class RequestBody
{
    /// <summary>
    /// The most body bytes read and discarded before a 413 is answered: 100 MiB, the Functions host's default
    /// <c>FUNCTIONS_REQUEST_BODY_SIZE_LIMIT</c>, above which the host refuses a body itself, so every body it forwards fits.
    /// A larger body (a Content-Length over it, or a stream that goes on) is answered at once with <c>Connection: close</c>.
    /// </summary>
    public const long MaxDrainBytes = 100L * 1024 * 1024;

    /// <summary>How long the rest of a refused body is read at most, however fast it comes; then the answer goes with <c>Connection: close</c>.</summary>
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    private const int ChunkSize = 4096;
    private const int DrainBufferSize = 64 * 1024;

    /// <summary>
    /// Reads the body. A non-empty body must be JSON (<c>application/json</c> or <c>*+json</c>, charset
    /// UTF-8 if given), else 415; a body of more than <paramref name="maxBytes"/> bytes is 413 <c>body.size</c> (after its
    /// rest was discarded, see <see cref="RequestBody"/>); a body slower than the server's minimum data rate is 408
    /// <c>body.timeout</c> with <c>Connection: close</c>.
    /// </summary>
    public static async Task<BodyReadResult> ReadJsonAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength is { } declared && declared > maxBytes)
        {
            return await RefuseTooLargeAsync(request, maxBytes, read: 0, cancellationToken).ConfigureAwait(false);
        }

        if (request.ContentLength is > 0 && !IsJson(request.ContentType))
        {
            return new(default, CounterProblems.UnsupportedMediaType(request.ContentType));
        }

        LiftServerLimit(request);

        byte[] buffer;
        int length;
        try
        {
            (buffer, length) = await ReadBoundedAsync(request.Body, request.ContentLength, maxBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // The server's limit could not be lifted (the body was read before): it stops reading, so does the answer.
            CloseConnection(request.HttpContext.Response);
            return new(default, CounterProblems.PayloadTooLarge(maxBytes));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            // Slower than the server's minimum data rate: a transient failure, retried on a new connection.
            CloseConnection(request.HttpContext.Response);
            return new(default, CounterProblems.RequestBodyTimeout());
        }
        catch (BadHttpRequestException ex)
        {
            // A malformed body at the transport level (truncated, bad chunking): the client's fault.
            return new(default, CounterProblems.Validation(new Validation.ValidationError("$", "body.unreadable", $"The request body could not be read: {ex.Message}")));
        }

        if (length > maxBytes)
        {
            return await RefuseTooLargeAsync(request, maxBytes, length, cancellationToken).ConfigureAwait(false);
        }

        if (length > 0 && !IsJson(request.ContentType))
        {
            return new(default, CounterProblems.UnsupportedMediaType(request.ContentType));
        }

        return new(buffer.AsMemory(0, length), null);
    }

    /// <summary>
    /// 413 for a body over the limit of which <paramref name="read"/> bytes were read. The rest is read and discarded first,
    /// within <see cref="MaxDrainBytes"/> and <see cref="DrainTimeout"/>; when it does not end within them (or the client
    /// asked <c>Expect: 100-continue</c> and has sent nothing yet, so it waits for this answer), the answer carries
    /// <c>Connection: close</c> instead.
    /// </summary>
    private static async Task<BodyReadResult> RefuseTooLargeAsync(HttpRequest request, long maxBytes, long read, CancellationToken cancellationToken)
    {
        var problem = CounterProblems.PayloadTooLarge(maxBytes);
        var waitsForContinue = read == 0 && request.Headers.Expect.Any(static e => e is not null && e.Contains("100-continue", StringComparison.OrdinalIgnoreCase));
        if (waitsForContinue || request.ContentLength > MaxDrainBytes || !await DrainAsync(request, MaxDrainBytes - read, cancellationToken).ConfigureAwait(false))
        {
            CloseConnection(request.HttpContext.Response);
        }

        return new(default, problem);
    }

    /// <summary>Reads and discards the body up to <paramref name="budget"/> bytes; true when it ended within the budget and <see cref="DrainTimeout"/>.</summary>
    private static async Task<bool> DrainAsync(HttpRequest request, long budget, CancellationToken cancellationToken)
    {
        LiftServerLimit(request);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DrainTimeout);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(DrainBufferSize);
        try
        {
            while (budget >= 0)
            {
                var read = await request.Body.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, budget + 1)), timeout.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    return true;
                }

                budget -= read;
            }

            return false;
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException or OperationCanceledException)
        {
            // The client stopped, sent garbage or too slowly: answer anyway, then close.
            return false;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// True for <c>application/json</c> and <c>application/*+json</c>, with no charset or UTF-8. The header is
    /// parsed by the framework's media-type parser, so case, whitespace and a quoted charset value are
    /// compared as RFC 9110 §5.6.6 and §8.3 say (<c>charset="utf-8"</c> is <c>charset=utf-8</c>).
    /// </summary>
    public static bool IsJson(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType) || !MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            return false;
        }

        var json = media.Type.Equals("application", StringComparison.OrdinalIgnoreCase)
            && (media.SubType.Equals("json", StringComparison.OrdinalIgnoreCase) || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));
        if (!json)
        {
            return false;
        }

        if (!media.Charset.HasValue)
        {
            return true;
        }

        var charset = HeaderUtilities.UnescapeAsQuotedString(media.Charset);
        return charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)
            || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Lifts the server's own body limit for this request (where it can still be changed): the reader counts body bytes,
    /// the server would count chunk framing too.
    /// </summary>
    private static void LiftServerLimit(HttpRequest request)
    {
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = null;
        }
    }

    /// <summary>
    /// Asks for the connection to be closed after this answer (<c>Connection: close</c>, RFC 9112 §9.6), where the protocol has
    /// that header (HTTP/1.x; HTTP/2 and HTTP/3 forbid it).
    /// </summary>
    public static void CloseConnection(HttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var protocol = response.HttpContext.Request.Protocol;
        if (!response.HasStarted && (HttpProtocol.IsHttp11(protocol) || HttpProtocol.IsHttp10(protocol)))
        {
            response.Headers.Connection = "close";
        }
    }

    private static async Task<(byte[] Buffer, int Length)> ReadBoundedAsync(Stream body, long? declared, long maxBytes, CancellationToken cancellationToken)
    {
        // Read at most maxBytes + 1 bytes: one byte past the limit proves the body is too large.
        var limit = (int)Math.Min(maxBytes + 1, int.MaxValue);
        var buffer = new byte[declared is { } d ? (int)Math.Min(d + 1, limit) : Math.Min(ChunkSize, limit)];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (buffer.Length >= limit)
                {
                    return (buffer, length);
                }

                Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, limit));
            }

            var read = await body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return (buffer, length);
            }

            length += read;
        }
    }
}
