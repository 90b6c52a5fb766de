using FuncMap.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Context.Propagation;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace FuncMap.Local;

/// <summary>
/// OpenTelemetry on the local host (README "Observe it"): metrics, traces and logs over OTLP
/// when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set, metrics on <c>GET /metrics</c> (Prometheus text) when
/// <c>FuncMap:Telemetry:PrometheusEndpoint</c> is true, and nothing at all otherwise: no provider, no listener,
/// so no span is ever created and the FuncMap meters are read only by whoever attaches (dotnet-counters).
/// </summary>
public static class FuncMapTelemetryExtensions
{
    /// <summary>The setting that maps <c>GET /metrics</c> (default false: the path answers 404).</summary>
    public const string PrometheusEndpointKey = "FuncMap:Telemetry:PrometheusEndpoint";

    /// <summary>The standard variable (OpenTelemetry specification) whose presence turns the OTLP exporter on.</summary>
    public const string OtlpEndpointKey = FuncMapTelemetry.OtlpEndpointVariable;

    /// <summary>The standard variable (OpenTelemetry specification) that names the trace sampler.</summary>
    public const string SamplerKey = "OTEL_TRACES_SAMPLER";

    /// <summary>
    /// The share of root traces (requests without a sampled caller, queue batches, drains) recorded when
    /// <see cref="SamplerKey"/> is not set: the sampler is then <c>parentbased_traceidratio</c> with this ratio, so a
    /// caller's sampled trace is always followed. The specification's default, <c>parentbased_always_on</c>, cost an
    /// add about 10 % of its throughput here (bench/README.md "Telemetry"); set it explicitly to trace every request.
    /// </summary>
    public const double DefaultSamplingRatio = 0.01;

    /// <summary>The path of the Prometheus scraping endpoint.</summary>
    public const string PrometheusPath = "/metrics";

    /// <summary>
    /// Registers OpenTelemetry when an exporter is configured: OTLP for every signal when <see cref="OtlpEndpointKey"/>
    /// is set (the exporter itself reads the standard <c>OTEL_EXPORTER_OTLP_*</c> variables, <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>
    /// among them, and the SDK the sampler's <c>OTEL_TRACES_SAMPLER</c>, which defaults here to
    /// <see cref="DefaultSamplingRatio"/> of root traces), the Prometheus exporter when <see cref="PrometheusEndpointKey"/>
    /// is true. Without either it registers nothing.
    /// </summary>
    public static WebApplicationBuilder AddFuncMapTelemetry(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointKey]);
        var prometheus = builder.Configuration.GetValue<bool>(PrometheusEndpointKey);
        if (!otlp && !prometheus)
        {
            return builder;
        }

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                // OTEL_SERVICE_NAME (and OTEL_RESOURCE_ATTRIBUTES) win when set: the default resource reads them.
                if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_SERVICE_NAME"]))
                {
                    resource.AddService("funcmap-local");
                }
            })
            .WithMetrics(metrics =>
            {
                metrics.AddFuncMapLocalInstrumentation();
                if (prometheus)
                {
                    metrics.AddPrometheusExporter();
                }
            });

        if (otlp)
        {
            // The SDK reads OTEL_TRACES_SAMPLER itself, and a sampler set in code would override it: set one only
            // when the variable is absent.
            var samplerConfigured = !string.IsNullOrWhiteSpace(builder.Configuration[SamplerKey]);
            telemetry.WithTracing(tracing =>
                {
                    tracing.AddFuncMapLocalInstrumentation();
                    if (!samplerConfigured)
                    {
                        tracing.SetSampler(new ParentBasedSampler(new TraceIdRatioBasedSampler(DefaultSamplingRatio)));
                    }
                })
                .WithLogging()
                .UseOtlpExporter();
        }

        if (prometheus)
        {
            // In front of the host's own pipeline (one line in Program.cs, and /metrics stays out of the API's filters).
            builder.Services.AddTransient<IStartupFilter, PrometheusEndpointFilter>();
        }

        return builder;
    }

    /// <summary>
    /// The local host's meters: the four FuncMap meters (<see cref="FuncMapTelemetry.LocalMeters"/>), ASP.NET Core and
    /// Kestrel, outgoing HTTP (the storage clients), the .NET runtime and the process.
    /// </summary>
    public static MeterProviderBuilder AddFuncMapLocalInstrumentation(this MeterProviderBuilder metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return metrics
            .AddMeter([.. FuncMapTelemetry.LocalMeters])
            .AddAspNetCoreInstrumentation()
            .AddHttpClientInstrumentation()
            .AddRuntimeInstrumentation()
            .AddProcessInstrumentation()
            .AddView(static instrument => DroppedInstruments.Contains((instrument.Meter.Name, instrument.Name)) ? MetricStreamConfiguration.Drop : null);
    }

    /// <summary>
    /// ASP.NET Core instruments the local host does not collect, as (meter, instrument). Each is updated on every
    /// request or every buffer, and together they were most of what the metrics pipeline cost an add (bench/README.md
    /// "Telemetry"); what each told is still known:
    /// <list type="bullet">
    /// <item><c>aspnetcore.memory_pool.rented</c> and <c>.pooled</c> count every buffer Kestrel rents and returns;
    /// <c>.allocated</c> and <c>.evicted</c>, which move only when the pool grows or shrinks, are kept.</item>
    /// <item><c>aspnetcore.routing.match_attempts</c> counts every match, which <c>http.server.request.duration</c>
    /// already counts per <c>http.route</c>.</item>
    /// <item><c>http.server.active_requests</c> (two updates per request): the mean number of requests in flight is
    /// the rate of <c>http.server.request.duration</c>'s sum (Little's law), and the engine's
    /// <c>funcmap.engine.mailbox.depth</c> shows the backlog.</item>
    /// </list>
    /// A dropped instrument is never enabled, so ASP.NET Core skips the measurement itself.
    /// </summary>
    public static IReadOnlyList<(string Meter, string Instrument)> DroppedInstruments { get; } =
    [
        ("Microsoft.AspNetCore.MemoryPool", "aspnetcore.memory_pool.rented"),
        ("Microsoft.AspNetCore.MemoryPool", "aspnetcore.memory_pool.pooled"),
        ("Microsoft.AspNetCore.Routing", "aspnetcore.routing.match_attempts"),
        ("Microsoft.AspNetCore.Hosting", "http.server.active_requests"),
    ];

    /// <summary>
    /// The local host's spans: ASP.NET Core requests (not <c>/metrics</c>, <c>/healthz</c>, <c>/readyz</c>) and the
    /// FuncMap sources (<see cref="FuncMapTelemetry.LocalSources"/>): an owner's apply, a journal group commit,
    /// snapshot runs, the restore, queue batches.
    /// </summary>
    /// <remarks>
    /// No tag carries a counter key: a request span drops <c>url.path</c> (<c>http.route</c>, the template, names the
    /// endpoint), and outgoing HTTP (the storage clients, whose URLs hold row keys) is measured, not traced.
    /// </remarks>
    public static TracerProviderBuilder AddFuncMapLocalInstrumentation(this TracerProviderBuilder tracing)
    {
        ArgumentNullException.ThrowIfNull(tracing);
        // ASP.NET Core extracts the caller's W3C trace context (traceparent, tracestate, baggage) into the request's
        // activity itself. With the SDK's default composite propagator, the instrumentation extracts it a second time
        // on every request, sampled or not; with the W3C propagator alone it does not (nothing here reads the
        // OpenTelemetry Baggage API, and outgoing HTTP is not traced).
        Sdk.SetDefaultTextMapPropagator(new TraceContextPropagator());
        return tracing
            .AddSource([.. FuncMapTelemetry.LocalSources])
            .AddAspNetCoreInstrumentation(static options =>
            {
                options.Filter = static context => !IsOperational(context.Request.Path);
                options.EnrichWithHttpRequest = static (activity, _) => activity.SetTag("url.path", null);
            });
    }

    private static bool IsOperational(PathString path) =>
        path.StartsWithSegments(PrometheusPath) || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz");

    private sealed class PrometheusEndpointFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseOpenTelemetryPrometheusScrapingEndpoint();
            next(app);
        };
    }
}
