using Microsoft.Extensions.Http.Resilience;

namespace FuncMap.Client;

/// <summary>Settings of <see cref="FuncMapClient"/> (<see cref="FuncMapClientServiceCollectionExtensions.AddFuncMapClient"/>).</summary>
public sealed class FuncMapClientOptions
{
    /// <summary>
    /// The API's base address: the host's root (<c>http://127.0.0.1:5080</c>) or the base ending in <c>/api</c> as the
    /// Functions app and <c>azd env get-value FUNCMAP_BASE_URL</c> give it (<c>https://app.azurewebsites.net/api</c>).
    /// </summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>The access key (a function key, or the local host's <c>FuncMap:AccessKey</c>), sent as <c>x-functions-key</c>; null sends none.</summary>
    public string? AccessKey { get; set; }

    /// <summary>
    /// The standard resilience pipeline (Microsoft.Extensions.Http.Resilience): rate limiter, total request timeout
    /// (30 s), retry (3 retries, exponential backoff with jitter from 2 s, <c>Retry-After</c> honoured; 408, 429, 5xx,
    /// <see cref="HttpRequestException"/> and attempt timeouts), circuit breaker and attempt timeout (10 s). Retries
    /// re-send the same request message, so a write's <c>Idempotency-Key</c> is the same in every attempt and the
    /// server applies it once; unsafe methods are retried on purpose.
    /// </summary>
    public HttpStandardResilienceOptions Resilience { get; set; } = new();
}
