using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using FuncMap.Validation;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace FuncMap.Client;

/// <summary>
/// The counter API over HTTP, the same against the local host and the Functions app: a typed <see cref="HttpClient"/>
/// (register it with <see cref="FuncMapClientServiceCollectionExtensions.AddFuncMapClient"/>). Every write sends an
/// <c>Idempotency-Key</c> made once per call and kept by every retry of the resilience pipeline, so a write is applied
/// once whatever fails in between (a lost answer, a reset connection, a 503, an attempt timeout), as long as the retry
/// reaches the counter before 64 newer identified writes do (the server's deduplication window,
/// <c>OperationWindow.Capacity</c>). Failures are <see cref="FuncMapException"/>; keys are checked with the server's
/// key rule before anything is sent (<see cref="ArgumentException"/>).
/// </summary>
public sealed class FuncMapClient
{
    /// <summary>The header that carries a write's operation id.</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>The header that carries the access key.</summary>
    public const string AccessKeyHeader = "x-functions-key";

    /// <summary>The largest page the API serves (<c>pageSize</c> 1–1000); <see cref="ListAsync"/> asks for it.</summary>
    public const int MaxPageSize = 1000;

    private const string ReplayedHeader = "Idempotent-Replayed";
    private static readonly MediaTypeHeaderValue JsonType = new("application/json");
    private readonly HttpClient _http;

    /// <summary>Creates the client on <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the host's root or its <c>/api</c> base.</summary>
    public FuncMapClient(HttpClient http)
    {
        ArgumentNullException.ThrowIfNull(http);
        _http = http;
    }

    /// <summary>
    /// Adds <paramref name="delta"/> to counter <paramref name="key"/> (<c>POST /api/counters/{key}/add</c>). Without
    /// <paramref name="wait"/> the answer is 202 once the add is durably accepted (<see cref="CounterWriteResult.Counter"/>
    /// null); with it, once applied, with the counter. An add that would overflow Int64 is refused (409
    /// <c>counter.overflow</c>, with <paramref name="wait"/>).
    /// </summary>
    public async Task<CounterWriteResult> AddAsync(string key, long delta = 1, bool wait = false, CancellationToken cancellationToken = default)
    {
        ThrowIfInvalidKey(key);
        var body = new ByteArrayContent(DeltaBody(delta));
        body.Headers.ContentType = JsonType;
        return await WriteAsync(HttpMethod.Post, $"counters/{key}/add", key, body, wait, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sets counter <paramref name="key"/> to 0 (<c>POST /api/counters/{key}/reset</c>); its version keeps counting.
    /// With <paramref name="wait"/>, a missing counter is 404 <c>counter.notFound</c>.
    /// </summary>
    public Task<CounterWriteResult> ResetAsync(string key, bool wait = false, CancellationToken cancellationToken = default)
    {
        ThrowIfInvalidKey(key);
        return WriteAsync(HttpMethod.Post, $"counters/{key}/reset", key, content: null, wait, cancellationToken);
    }

    /// <summary>
    /// Removes counter <paramref name="key"/> (<c>DELETE /api/counters/{key}</c>). With <paramref name="wait"/>, a
    /// missing counter is 404 <c>counter.notFound</c>.
    /// </summary>
    public Task<CounterWriteResult> DeleteAsync(string key, bool wait = false, CancellationToken cancellationToken = default)
    {
        ThrowIfInvalidKey(key);
        return WriteAsync(HttpMethod.Delete, $"counters/{key}", key, content: null, wait, cancellationToken);
    }

    /// <summary>Reads counter <paramref name="key"/> (<c>GET /api/counters/{key}</c>); null when it does not exist (404 <c>counter.notFound</c>).</summary>
    public async Task<Counter?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        ThrowIfInvalidKey(key);
        using var request = new HttpRequestMessage(HttpMethod.Get, Path($"counters/{key}"));
        using var response = await SendAsync(request, operationId: null, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            var problem = await ReadProblemAsync(response, operationId: null, cancellationToken).ConfigureAwait(false);
            return problem.Rule == "counter.notFound" ? null : throw problem;
        }

        await ThrowIfFailedAsync(response, operationId: null, cancellationToken).ConfigureAwait(false);
        return await ReadJsonAsync(response, ClientJsonContext.Default.Counter, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Every counter whose key starts with <paramref name="prefix"/>, ordered by key (ordinal), read page by page
    /// (<c>GET /api/counters?prefix=&amp;pageSize=&amp;continuationToken=</c>) as the enumeration goes; each page is read
    /// when the previous one is consumed. <paramref name="pageSize"/> is 1–1000.
    /// </summary>
    public async IAsyncEnumerable<Counter> ListAsync(string prefix = "", int pageSize = MaxPageSize,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, MaxPageSize);
        if (prefix.Length > 0 && CounterKey.ValidatePrefix(prefix) is { } error)
        {
            throw new ArgumentException(error.Message, nameof(prefix));
        }

        string? token = null;
        do
        {
            var query = $"counters?prefix={Uri.EscapeDataString(prefix)}&pageSize={pageSize.ToString(CultureInfo.InvariantCulture)}";
            if (token is not null)
            {
                query += "&continuationToken=" + Uri.EscapeDataString(token);
            }

            CounterPage page;
            using (var request = new HttpRequestMessage(HttpMethod.Get, Path(query)))
            using (var response = await SendAsync(request, operationId: null, cancellationToken).ConfigureAwait(false))
            {
                await ThrowIfFailedAsync(response, operationId: null, cancellationToken).ConfigureAwait(false);
                page = await ReadJsonAsync(response, ClientJsonContext.Default.CounterPage, cancellationToken).ConfigureAwait(false);
            }

            foreach (var counter in page.Items)
            {
                yield return counter;
            }

            token = page.ContinuationToken;
        }
        while (token is not null);
    }

    /// <summary>
    /// Applies an increment batch (<c>POST /api/counters/batch</c>; 1–10,000 items, the body at most the server's body
    /// limit, 1 MiB by default). <paramref name="batchId"/> is every key's operation id: the same batch sent again
    /// counts once per key, so keep the id to retry a batch after this method failed; null makes a new one. The answer
    /// lists keys refused for overflow or for an id reused with another total.
    /// </summary>
    public async Task<BatchResult> SendBatchAsync(IReadOnlyCollection<CounterIncrement> items, string? batchId = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfZero(items.Count, nameof(items));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(items.Count, FuncMap.Batches.IncrementBatchParser.MaxItems, nameof(items));
        batchId ??= NewOperationId();
        if (OperationId.Validate(batchId, nameof(batchId)) is { } idError)
        {
            throw new ArgumentException(idError.Message, nameof(batchId));
        }

        foreach (var item in items)
        {
            ThrowIfInvalidKey(item.Key, nameof(items));
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, Path("counters/batch"))
        {
            Content = new ByteArrayContent(BatchBody(batchId, items)) { Headers = { ContentType = JsonType } },
        };
        using var response = await SendAsync(request, batchId, cancellationToken).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, batchId, cancellationToken).ConfigureAwait(false);
        var answer = await ReadJsonAsync(response, ClientJsonContext.Default.BatchAnswer, cancellationToken).ConfigureAwait(false);
        return new BatchResult(answer.BatchId, answer.Items, answer.Keys, answer.OverflowedKeys ?? [], answer.MismatchedKeys ?? [], IsReplayed(response));
    }

    /// <summary>A new operation id: 32 hex digits of a random GUID (the server's rule: 1–128 printable ASCII).</summary>
    public static string NewOperationId() => Guid.NewGuid().ToString("N");

    private async Task<CounterWriteResult> WriteAsync(HttpMethod method, string path, string key, HttpContent? content, bool wait, CancellationToken cancellationToken)
    {
        // The key is set once on the one request message: the resilience handler re-sends this same message on every
        // attempt (ResilienceHandler takes it from the ResilienceContext), so every retry carries the same id.
        var operationId = NewOperationId();
        using var request = new HttpRequestMessage(method, Path(wait ? path + "?wait=true" : path)) { Content = content };
        request.Headers.TryAddWithoutValidation(IdempotencyKeyHeader, operationId);
        using var response = await SendAsync(request, operationId, cancellationToken).ConfigureAwait(false);
        await ThrowIfFailedAsync(response, operationId, cancellationToken).ConfigureAwait(false);
        Counter? counter = null;
        if (response.StatusCode == HttpStatusCode.OK)
        {
            counter = await ReadJsonAsync(response, ClientJsonContext.Default.Counter, cancellationToken).ConfigureAwait(false);
        }

        return new CounterWriteResult(key, operationId, counter, IsReplayed(response));
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string? operationId, CancellationToken cancellationToken)
    {
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested
            && ex is HttpRequestException or TimeoutRejectedException or BrokenCircuitException or TaskCanceledException)
        {
            throw new FuncMapException(
                $"{request.Method} {request.RequestUri} got no answer after the resilience pipeline's retries: {ex.Message}"
                + (operationId is null ? string.Empty : $" The operation ({operationId}) may or may not have been applied."),
                statusCode: null, rule: null, errors: null, retryAfter: null, operationId, ex);
        }
    }

    private static async Task ThrowIfFailedAsync(HttpResponseMessage response, string? operationId, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await ReadProblemAsync(response, operationId, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The ProblemDetails of a refusal: <c>title</c>, <c>detail</c>, <c>rule</c> and <c>errors</c>, as both hosts write them.</summary>
    private static async Task<FuncMapException> ReadProblemAsync(HttpResponseMessage response, string? operationId, CancellationToken cancellationToken)
    {
        string? title = null, detail = null, rule = null;
        List<FuncMapFieldError>? errors = null;
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (bytes.Length > 0)
            {
                using var document = JsonDocument.Parse(bytes);
                var root = document.RootElement;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    title = StringOf(root, "title");
                    detail = StringOf(root, "detail");
                    rule = StringOf(root, "rule");
                    if (root.TryGetProperty("errors", out var list) && list.ValueKind == JsonValueKind.Array)
                    {
                        errors = [];
                        foreach (var e in list.EnumerateArray())
                        {
                            errors.Add(new FuncMapFieldError(StringOf(e, "field") ?? string.Empty, StringOf(e, "rule") ?? string.Empty, StringOf(e, "message") ?? string.Empty));
                        }
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not a ProblemDetails (a proxy's error page, say): the status alone tells.
        }

        var status = (int)response.StatusCode;
        var text = detail ?? title;
        var message = $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {status.ToString(CultureInfo.InvariantCulture)}"
            + (rule is null ? string.Empty : $" ({rule})") + (text is null ? "." : ": " + text);
        return new FuncMapException(message, response.StatusCode, rule, errors, RetryAfterOf(response), operationId);

        static string? StringOf(JsonElement element, string name) =>
            element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    }

    private static TimeSpan? RetryAfterOf(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero,
        _ => null,
    };

    private static bool IsReplayed(HttpResponseMessage response) =>
        response.Headers.TryGetValues(ReplayedHeader, out var values) && values.Any(static v => string.Equals(v, "true", StringComparison.OrdinalIgnoreCase));

    private static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken) =>
        await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false)
        ?? throw new FuncMapException($"{response.RequestMessage?.RequestUri} answered {(int)response.StatusCode} without a body.");

    /// <summary>A path relative to the API base: <c>api/…</c> under a root, or <c>…</c> under a base that already ends in <c>/api/</c>.</summary>
    private Uri Path(string relative)
    {
        var basePath = _http.BaseAddress?.AbsolutePath ?? "/";
        return new Uri(basePath.EndsWith("/api/", StringComparison.OrdinalIgnoreCase) ? relative : "api/" + relative, UriKind.Relative);
    }

    private static void ThrowIfInvalidKey(string key, string parameter = "key")
    {
        if (CounterKey.Validate(key) is { } error)
        {
            throw new ArgumentException(error.Message + $" ({error.Rule})", parameter);
        }
    }

    private static byte[] DeltaBody(long delta)
    {
        var buffer = new ArrayBufferWriter<byte>(32);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("delta", delta);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The batch schema both hosts read: exactly <c>{"batchId", "items": [{"key", "delta"}]}</c>.</summary>
    internal static byte[] BatchBody(string batchId, IEnumerable<CounterIncrement> items)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("batchId", batchId);
            writer.WriteStartArray("items");
            foreach (var item in items)
            {
                writer.WriteStartObject();
                writer.WriteString("key", item.Key);
                writer.WriteNumber("delta", item.Delta);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
