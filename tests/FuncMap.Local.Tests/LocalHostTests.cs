using System.Net;
using System.Text;
using System.Text.Json;
using FuncMap.Counters;
using FuncMap.Engine;
using Microsoft.Extensions.DependencyInjection;

namespace FuncMap.Local.Tests;

/// <summary>What only the local host has: its configuration, lifecycle, exception handler and operations endpoints.</summary>
public sealed class LocalHostTests
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task AccessKey_WhenConfigured_RequiredInHeaderOrQuery()
    {
        await using var factory = new LocalHostFactory(new Dictionary<string, string?> { ["FuncMap:AccessKey"] = "s3cret-key" });
        using var client = await factory.StartAsync();
        await client.PostAsync("api/counters/k/add?wait=true&code=s3cret-key", null);

        using (var missing = await client.GetAsync("api/counters/k"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
            Assert.Contains("accessKey.missing", await missing.Content.ReadAsStringAsync());
            Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        }

        using (var wrong = new HttpRequestMessage(HttpMethod.Get, "api/counters/k"))
        {
            wrong.Headers.Add("x-functions-key", "s3cret-kez");
            using var response = await client.SendAsync(wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Contains("accessKey.invalid", await response.Content.ReadAsStringAsync());
        }

        using (var header = new HttpRequestMessage(HttpMethod.Get, "api/counters/k"))
        {
            header.Headers.Add("x-functions-key", "s3cret-key");
            using var response = await client.SendAsync(header);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var query = await client.GetAsync("api/counters/k?code=s3cret-key"))
        {
            Assert.Equal(HttpStatusCode.OK, query.StatusCode);
        }

        using var health = await client.GetAsync("healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Readiness_WhileLoadersRun_ApiAnswers503WithRetryAfter()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var factory = new LocalHostFactory(services: s => s.AddSingleton<ICounterLoader>(new GateLoader(entered, release.Task)));
        using var client = factory.CreateClient();
        await entered.Task;

        using (var ready = await client.GetAsync("readyz"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        using (var alive = await client.GetAsync("healthz"))
        {
            Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        }

        foreach (var request in new[] { new HttpRequestMessage(HttpMethod.Get, "api/counters/k"), new HttpRequestMessage(HttpMethod.Post, "api/counters/k/add") })
        {
            using (request)
            {
                using var response = await client.SendAsync(request);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.Equal("1", response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Assert.Contains("service.starting", await response.Content.ReadAsStringAsync());
            }
        }

        release.SetResult();
        await factory.Services.GetRequiredService<EngineReadiness>().WhenReady;
        using var readyAfter = await client.GetAsync("readyz");
        Assert.Equal(HttpStatusCode.OK, readyAfter.StatusCode);
        using var add = await client.PostAsync("api/counters/k/add?wait=true", null);
        Assert.Equal(HttpStatusCode.OK, add.StatusCode);
    }

    [Fact]
    public async Task Loaders_RunInAscendingOrderBeforeTheEngineStarts()
    {
        var order = new List<int>();
        await using var factory = new LocalHostFactory(services: s =>
        {
            s.AddSingleton<ICounterLoader>(new RecordingLoader(200, order, value: 7));
            s.AddSingleton<ICounterLoader>(new RecordingLoader(100, order, value: 3));
        });
        using var client = await factory.StartAsync();
        Assert.Equal([100, 200], order);

        using var response = await client.GetAsync("api/counters/loaded");
        var counter = JsonSerializer.Deserialize<CounterDto>(await response.Content.ReadAsStringAsync(), JsonOptions)!;
        Assert.Equal((7L, 200L), (counter.Value, counter.Version));
    }

    [Fact]
    public async Task Engine_WithOperationLog_IsJournaled()
    {
        await using var factory = new LocalHostFactory(services: s => s.AddSingleton<IOperationLog>(new FailingLog()));
        using var client = await factory.StartAsync();
        Assert.True(factory.Engine.IsJournaled);
    }

    [Fact]
    public async Task UnexpectedException_Returns500ProblemWithoutDetails()
    {
        await using var factory = new LocalHostFactory(services: s => s.AddSingleton<IOperationLog>(new FailingLog()));
        using var client = await factory.StartAsync();
        using var response = await client.PostAsync("api/counters/k/add?wait=true", null);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(FailingLog.Secret, body, StringComparison.Ordinal);
        Assert.DoesNotContain("at FuncMap", body, StringComparison.Ordinal);
        Assert.Equal(1, factory.Metrics.UnexpectedCount);
    }

    [Fact]
    public async Task MaxBodyBytes_IsConfigurable()
    {
        await using var factory = new LocalHostFactory(new Dictionary<string, string?> { ["FuncMap:Http:MaxBodyBytes"] = "64" });
        using var client = await factory.StartAsync();
        var body = "{\"delta\": 1" + new string(' ', 60) + "}";
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync("api/counters/k/add", content);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task NoopEndpoint_MappedOnlyWhenEnabled()
    {
        await using var off = new LocalHostFactory();
        using var offClient = await off.StartAsync();
        using var missing = await offClient.PostAsync("bench/noop", null);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        await using var on = new LocalHostFactory(new Dictionary<string, string?> { ["FuncMap:Bench:NoopEndpoint"] = "true" });
        using var onClient = await on.StartAsync();
        using var noop = await onClient.PostAsync("bench/noop", null);
        Assert.Equal(HttpStatusCode.Accepted, noop.StatusCode);
    }

    [Fact]
    public async Task Head_OperationsEndpoints_AnswerAsGetWithoutBody()
    {
        await using var factory = LocalHostFactory.OnKestrel();
        using var client = await factory.StartAsync();
        foreach (var path in new[] { "healthz", "readyz", "openapi/v1.json" })
        {
            using var get = await client.GetAsync(path);
            using var request = new HttpRequestMessage(HttpMethod.Head, path);
            using var head = await client.SendAsync(request);
            Assert.True(head.StatusCode == HttpStatusCode.OK && get.StatusCode == HttpStatusCode.OK, $"{path}: GET {(int)get.StatusCode}, HEAD {(int)head.StatusCode}");
            Assert.Equal(get.Content.Headers.ContentType?.MediaType, head.Content.Headers.ContentType?.MediaType);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
    }

    /// <summary>
    /// No CORS by default: no <c>Access-Control-Allow-Origin</c>, and a preflight is a 405 as any unserved method. With
    /// <c>FuncMap:CorsOrigins</c>, that origin's preflight is answered (204) and its calls carry the CORS headers; another
    /// origin's do not.
    /// </summary>
    [Fact]
    public async Task Cors_OnlyForConfiguredOrigins()
    {
        await using (var plain = LocalHostFactory.OnKestrel())
        {
            using var client = await plain.StartAsync();
            using var preflight = await client.SendAsync(Preflight("https://app.example"));
            Assert.Equal(HttpStatusCode.MethodNotAllowed, preflight.StatusCode);
            Assert.False(preflight.Headers.Contains("Access-Control-Allow-Origin"));
            using var get = await client.SendAsync(WithOrigin(HttpMethod.Get, "api/counters", "https://app.example"));
            Assert.False(get.Headers.Contains("Access-Control-Allow-Origin"));
        }

        await using var cors = LocalHostFactory.OnKestrel(new Dictionary<string, string?> { ["FuncMap:CorsOrigins:0"] = "https://app.example" });
        using var corsClient = await cors.StartAsync();
        using (var preflight = await corsClient.SendAsync(Preflight("https://app.example")))
        {
            Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
            Assert.Equal(["https://app.example"], preflight.Headers.GetValues("Access-Control-Allow-Origin"));
            Assert.Contains("Idempotency-Key", string.Join(",", preflight.Headers.GetValues("Access-Control-Allow-Headers")), StringComparison.OrdinalIgnoreCase);
        }

        using (var other = await corsClient.SendAsync(Preflight("https://other.example")))
        {
            Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
        }

        using var add = await corsClient.SendAsync(WithOrigin(HttpMethod.Post, "api/counters/cors/add", "https://app.example"));
        Assert.Equal(HttpStatusCode.Accepted, add.StatusCode);
        Assert.Equal(["https://app.example"], add.Headers.GetValues("Access-Control-Allow-Origin"));
        Assert.Contains("Location", string.Join(",", add.Headers.GetValues("Access-Control-Expose-Headers")), StringComparison.Ordinal);

        static HttpRequestMessage Preflight(string origin)
        {
            var request = WithOrigin(HttpMethod.Options, "api/counters/cors/add", origin);
            request.Headers.Add("Access-Control-Request-Method", "POST");
            request.Headers.Add("Access-Control-Request-Headers", "content-type,idempotency-key");
            return request;
        }

        static HttpRequestMessage WithOrigin(HttpMethod method, string path, string origin)
        {
            var request = new HttpRequestMessage(method, path);
            request.Headers.Add("Origin", origin);
            return request;
        }
    }

    private sealed class GateLoader(TaskCompletionSource entered, Task release) : ICounterLoader
    {
        public int Order => 100;

        public async Task LoadAsync(CounterEngine engine, CancellationToken cancellationToken)
        {
            entered.SetResult();
            await release.WaitAsync(cancellationToken);
        }
    }

    private sealed class RecordingLoader(int order, List<int> log, long value) : ICounterLoader
    {
        public int Order => order;

        public Task LoadAsync(CounterEngine engine, CancellationToken cancellationToken)
        {
            log.Add(order);
            var data = new CounterData { Value = value, Version = order, UpdatedAtTicks = DateTimeOffset.UtcNow.UtcTicks, Exists = true };
            engine.Load("loaded", data, recentOperationIds: null, persisted: true);
            return Task.CompletedTask;
        }
    }

    private sealed class FailingLog : IOperationLog
    {
        public const string Secret = "disk-secret-path-/var/lib/x";

        public long Generation => 0;

        public Task Append(int shard, ReadOnlySpan<AppliedOperation> operations, long generation) =>
            Task.FromException(new IOException(Secret));
    }
}
