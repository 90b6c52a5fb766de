using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;

namespace FuncMap.Client.Tests;

/// <summary>A <see cref="FuncMapClient"/> from a real container (<c>AddFuncMapClient</c>), optionally with a handler below its resilience handler.</summary>
public sealed class TestClient : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public TestClient(Uri baseAddress, string? accessKey, DelegatingHandler? below = null, Action<HttpStandardResilienceOptions>? resilience = null,
        Action<IServiceCollection>? services = null)
    {
        var collection = new ServiceCollection();
        collection.AddLogging();
        var builder = collection.AddFuncMapClient(o =>
        {
            o.BaseAddress = baseAddress;
            o.AccessKey = accessKey;
            Fast(o.Resilience);
            resilience?.Invoke(o.Resilience);
        });
        if (below is not null)
        {
            // One chain for the test's life: a handler instance can sit in one chain only.
            builder.SetHandlerLifetime(Timeout.InfiniteTimeSpan).AddHttpMessageHandler(() => below);
        }

        services?.Invoke(collection);
        _services = collection.BuildServiceProvider();
    }

    public FuncMapClient Client => _services.GetRequiredService<FuncMapClient>();

    public IServiceProvider Services => _services;

    /// <summary>
    /// Short delays and attempt timeouts so that a test of many faults takes seconds: retries after 10 ms (exponential,
    /// jittered; <c>Retry-After</c> still wins), 6 retries, attempts cut at 1 s. The circuit breaker stays shut (its
    /// minimum throughput is never reached): the injected fault rate would otherwise open it, which turns retries into
    /// fast failures; the breaker is the pipeline's own and not what these tests are about.
    /// </summary>
    public static void Fast(HttpStandardResilienceOptions options)
    {
        options.Retry.Delay = TimeSpan.FromMilliseconds(10);
        options.Retry.MaxRetryAttempts = 6;
        options.AttemptTimeout.Timeout = TimeSpan.FromSeconds(1);
        options.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(90);
        options.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(30);
        options.CircuitBreaker.MinimumThroughput = int.MaxValue;
    }

    /// <summary>An address where nothing listens (a port taken from the OS and given back).</summary>
    public static Uri Nowhere()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
    }

    public async ValueTask DisposeAsync() => await _services.DisposeAsync();
}

/// <summary>Unique key prefixes, so tests share one host.</summary>
public static class Keys
{
    public static string Prefix(string test) => test + "-" + Guid.NewGuid().ToString("N")[..8] + ":";
}
