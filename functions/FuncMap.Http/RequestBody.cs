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
/// Reads JSON request bodies with a bound. The limit is enforced twice: by the server
/// (<see cref="IHttpMaxRequestBodySizeFeature"/>, where the host has it) and by the reader itself,
/// which stops one byte past the limit, so chunked bodies without a Content-Length are caught too.
/// </summary>
public static class RequestBody
{
    private const int ChunkSize = 4096;

    /// <summary>
    /// Reads the body. A non-empty body must be JSON (<c>application/json</c> or <c>*+json</c>, charset
    /// UTF-8 if given), else 415; a body over <paramref name="maxBytes"/> is 413; a body slower than the server's minimum
    /// data rate is 408 <c>body.timeout</c> with <c>Connection: close</c>.
    /// </summary>
    public static async Task<BodyReadResult> ReadJsonAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength is { } declared && declared > maxBytes)
        {
            return new(default, CounterProblems.PayloadTooLarge(maxBytes));
        }

        if (request.ContentLength is > 0 && !IsJson(request.ContentType))
        {
            return new(default, CounterProblems.UnsupportedMediaType(request.ContentType));
        }

        var sizeFeature = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false } && (sizeFeature.MaxRequestBodySize is null || sizeFeature.MaxRequestBodySize > maxBytes))
        {
            sizeFeature.MaxRequestBodySize = maxBytes;
        }

        byte[] buffer;
        int length;
        try
        {
            (buffer, length) = await ReadBoundedAsync(request.Body, request.ContentLength, maxBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
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
            return new(default, CounterProblems.PayloadTooLarge(maxBytes));
        }

        if (length > 0 && !IsJson(request.ContentType))
        {
            return new(default, CounterProblems.UnsupportedMediaType(request.ContentType));
        }

        return new(buffer.AsMemory(0, length), null);
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
