using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using FuncMap.Client;

namespace FuncMap.LoadGen.Functions;

/// <summary>What the client knows about one write after sending it.</summary>
public enum SendOutcome
{
    /// <summary>Answered 202 (or 2xx for a batch): durably accepted, must be counted exactly once.</summary>
    Accepted,

    /// <summary>The connection was refused: the request never reached a server, so it was not applied and may be sent again.</summary>
    NotSent,

    /// <summary>Sent, but no 2xx came back (another status, a reset, a timeout): it may or may not be applied.</summary>
    Unknown,

    /// <summary>
    /// A batch answered 503 with rule <c>engine.timeout</c>: the app stored every signal (they will be applied), but not
    /// every owner replied in time, so the per-key outcome is unknown.
    /// </summary>
    Stands,
}

/// <summary>
/// The FuncMap HTTP API of a running Functions app, as a load client sees it: base URL including <c>/api</c>, the
/// function key in <c>x-functions-key</c>, one pooled connection per concurrent caller.
/// </summary>
public sealed class FunctionsApi : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly byte[] DeltaOne = "{\"delta\":1}"u8.ToArray();
    private readonly HttpClient _http;
    private readonly FuncMapClient _client;

    /// <summary>Creates a client for <paramref name="baseUrl"/> (e.g. <c>http://127.0.0.1:7071/api</c>).</summary>
    public FunctionsApi(Uri baseUrl, string? functionKey, int connections)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(1, connections),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        _http = new HttpClient(handler)
        {
            BaseAddress = new Uri(baseUrl.ToString().TrimEnd('/') + "/"),
            Timeout = TimeSpan.FromSeconds(100),
        };
        if (!string.IsNullOrEmpty(functionKey))
        {
            _http.DefaultRequestHeaders.Add("x-functions-key", functionKey);
        }

        // Reads (the totals a run checks) go through the repository's client; writes stay raw requests on purpose:
        // they measure the plain add path without an Idempotency-Key and count each outcome, retrying nothing.
        _client = new FuncMapClient(_http);
    }

    /// <summary>Status codes seen on writes that were not accepted (for the report).</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, int> Refusals { get; } = new(StringComparer.Ordinal);

    /// <summary><c>POST bench/noop</c> with an add's body.</summary>
    public Task<SendOutcome> NoopAsync(CancellationToken cancellationToken) =>
        PostAsync("bench/noop", DeltaOne, idempotencyKey: null, HttpStatusCode.Accepted, cancellationToken);

    /// <summary><c>POST counters/{key}/add</c> with <c>{"delta":1}</c>, no <c>wait</c>; an Idempotency-Key only when given.</summary>
    public Task<SendOutcome> AddAsync(string key, string? idempotencyKey, CancellationToken cancellationToken) =>
        PostAsync($"counters/{key}/add", DeltaOne, idempotencyKey, HttpStatusCode.Accepted, cancellationToken);

    /// <summary><c>POST counters/batch</c>; the app answers 202 once every owner replied.</summary>
    public Task<SendOutcome> BatchAsync(string batchId, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new { batchId, items = keys.Select(k => new { key = k, delta = 1 }) }, Json);
        return PostAsync("counters/batch", body, idempotencyKey: null, HttpStatusCode.Accepted, cancellationToken);
    }

    /// <summary>The status of <c>POST bench/noop</c> (to tell an app without the switch from a host that is not there).</summary>
    public async Task<HttpStatusCode> ProbeNoopAsync(CancellationToken cancellationToken)
    {
        using var content = new ByteArrayContent(DeltaOne);
        content.Headers.ContentType = new("application/json");
        using var response = await _http.PostAsync("bench/noop", content, cancellationToken);
        return response.StatusCode;
    }

    /// <summary>The counter's value, 0 when it does not exist yet.</summary>
    public async Task<long> GetValueAsync(string key, CancellationToken cancellationToken) =>
        (await _client.GetAsync(key, cancellationToken))?.Value ?? 0;

    /// <summary>Every counter whose key starts with <paramref name="prefix"/>, through the list's pages of 1,000.</summary>
    public async Task<Dictionary<string, long>> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        await foreach (var counter in _client.ListAsync(prefix, FuncMapClient.MaxPageSize, cancellationToken))
        {
            values[counter.Key] = counter.Value;
        }

        return values;
    }

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();

    private async Task<SendOutcome> PostAsync(string path, byte[] body, string? idempotencyKey, HttpStatusCode expected, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode == expected)
            {
                return SendOutcome.Accepted;
            }

            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && path == "counters/batch"
                && (await response.Content.ReadAsStringAsync(cancellationToken)).Contains("\"engine.timeout\"", StringComparison.Ordinal))
            {
                return SendOutcome.Stands;
            }

            Refusals.AddOrUpdate(((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), 1, static (_, n) => n + 1);
            return SendOutcome.Unknown;
        }
        catch (HttpRequestException ex) when (IsConnectionRefused(ex))
        {
            Refusals.AddOrUpdate("connection refused (not sent)", 1, static (_, n) => n + 1);
            return SendOutcome.NotSent;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            Refusals.AddOrUpdate(Describe(ex), 1, static (_, n) => n + 1);
            return SendOutcome.Unknown;
        }
    }

    /// <summary>
    /// Only a refused connect proves the request was never sent. A reset or a timeout after the request left may
    /// come after the app stored the add: those are unknown, never retried without an Idempotency-Key.
    /// </summary>
    private static bool IsConnectionRefused(HttpRequestException ex) =>
        ex.HttpRequestError == HttpRequestError.ConnectionError && ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused };

    private static string Describe(Exception ex)
    {
        var text = new StringBuilder(ex.GetType().Name);
        if (ex is HttpRequestException http)
        {
            text.Append(' ').Append(http.HttpRequestError);
        }

        if (ex.InnerException is SocketException socket)
        {
            text.Append(' ').Append(socket.SocketErrorCode);
        }

        return text.ToString();
    }
}
