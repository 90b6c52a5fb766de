using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FuncMap.Client;

/// <summary>Registers <see cref="FuncMapClient"/> and <see cref="CounterBuffer"/>.</summary>
public static class FuncMapClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="FuncMapClient"/> as a typed client of <see cref="IHttpClientFactory"/> with the standard
    /// resilience handler configured from <see cref="FuncMapClientOptions.Resilience"/>. The returned builder adds
    /// handlers below the resilience handler (each attempt passes through them). <see cref="HttpClient.Timeout"/> is
    /// infinite: the pipeline's total request timeout bounds a call.
    /// </summary>
    public static IHttpClientBuilder AddFuncMapClient(this IServiceCollection services, Action<FuncMapClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<FuncMapClientOptions>().Configure(configure)
            .Validate(static o => o.BaseAddress is { IsAbsoluteUri: true }, "FuncMapClientOptions.BaseAddress must be an absolute URI.");
        services.AddMetrics();
        services.TryAddSingleton(static sp => new ClientMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddTransient<AttemptCountingHandler>();

        var builder = services.AddHttpClient<FuncMapClient>(static (sp, http) =>
        {
            var options = sp.GetRequiredService<IOptions<FuncMapClientOptions>>().Value;
            http.BaseAddress = ApiBase(options.BaseAddress!);
            http.Timeout = Timeout.InfiniteTimeSpan;
            if (!string.IsNullOrEmpty(options.AccessKey))
            {
                http.DefaultRequestHeaders.Add(FuncMapClient.AccessKeyHeader, options.AccessKey);
            }
        });
        builder.AddStandardResilienceHandler().Configure(static (resilience, sp) =>
        {
            var mine = sp.GetRequiredService<IOptions<FuncMapClientOptions>>().Value.Resilience;
            resilience.RateLimiter = mine.RateLimiter;
            resilience.TotalRequestTimeout = mine.TotalRequestTimeout;
            resilience.Retry = mine.Retry;
            resilience.CircuitBreaker = mine.CircuitBreaker;
            resilience.AttemptTimeout = mine.AttemptTimeout;
        });
        builder.AddHttpMessageHandler<AttemptCountingHandler>();
        return builder;
    }

    /// <summary>
    /// Registers one <see cref="CounterBuffer"/> (a singleton, disposed with the container: its dispose flushes what is
    /// left) on the <see cref="FuncMapClient"/> of <see cref="AddFuncMapClient"/>, which must be registered too. The
    /// buffer asks the factory for a client per flush, so it follows the factory's handler rotation.
    /// </summary>
    public static IServiceCollection AddFuncMapCounterBuffer(this IServiceCollection services, Action<CounterBufferOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<CounterBufferOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(static o => o.Validate() is null, "CounterBufferOptions are invalid (see CounterBufferOptions.Validate).");
        services.TryAddSingleton(static sp => new CounterBuffer(
            sp.GetRequiredService<FuncMapClient>,
            sp.GetRequiredService<IOptions<CounterBufferOptions>>().Value,
            sp.GetService<ILogger<CounterBuffer>>() ?? NullLogger<CounterBuffer>.Instance,
            sp.GetRequiredService<ClientMetrics>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return services;
    }

    /// <summary>The host's root for <paramref name="address"/>, which is the root or the API base ending in <c>/api</c>.</summary>
    internal static Uri ApiBase(Uri address)
    {
        // Ending in '/' either way, so relative paths resolve under it (FuncMapClient adds "api/" under a root).
        return new Uri(address.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
    }
}
