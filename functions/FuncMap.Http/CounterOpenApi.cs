using Microsoft.AspNetCore.Http;

namespace FuncMap.Http;

/// <summary>
/// The OpenAPI 3.1 document of the counter API: one document, embedded in this assembly
/// (<c>OpenApi/funcmap-v1.json</c>), that both hosts serve unchanged — the local host at
/// <c>/openapi/v1.json</c>, the Functions app at <c>/api/openapi/v1.json</c>. Every response lists the
/// ProblemDetails rules it can carry in <c>x-funcmap-rules</c>; <c>x-funcmap-problems</c> lists those any route can
/// answer (404 <c>route.notFound</c>, 405 <c>route.method</c>). The contract tests check every status and rule they
/// see against it.
/// </summary>
public static class CounterOpenApi
{
    /// <summary>The document's path on the local host (the Functions app serves it below its <c>api</c> prefix).</summary>
    public const string Path = "/openapi/v1.json";

    /// <summary>The media type the document is served with.</summary>
    public const string ContentType = "application/json; charset=utf-8";

    private const string ResourceName = "FuncMap.Http.OpenApi.funcmap-v1.json";

    private static readonly Lazy<byte[]> Utf8 = new(Load);

    /// <summary>The document as UTF-8 JSON bytes (the same array on every call: do not change it).</summary>
    public static ReadOnlyMemory<byte> Utf8Document => Utf8.Value;

    /// <summary>Writes the document as the response: 200, <see cref="ContentType"/>, no body for <c>HEAD</c>.</summary>
    public static IResult Result() => Results.Bytes(Utf8.Value, ContentType);

    private static byte[] Load()
    {
        using var stream = typeof(CounterOpenApi).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded OpenAPI document {ResourceName} is missing from {typeof(CounterOpenApi).Assembly.GetName().Name}.");
        using var copy = new MemoryStream(checked((int)stream.Length));
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
