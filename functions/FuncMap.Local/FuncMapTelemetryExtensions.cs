using FuncMap.Telemetry;
using OpenTelemetry;
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

    /// <summary>The path of the Prometheus scraping endpoint.</summary>
    public const string PrometheusPath = "/metrics";

    /// <summary>
    /// Registers OpenTelemetry when an exporter is configured: OTLP for every signal when <see cref="OtlpEndpointKey"/>
    /// is set (the exporter itself reads the standard <c>OTEL_EXPORTER_OTLP_*</c> variables, <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>
    /// among them, and the SDK the sampler's <c>OTEL_TRACES_SAMPLER</c>), the Prometheus exporter when
    /// <see cref="PrometheusEndpointKey"/> is true. Without either it registers nothing.
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
            telemetry.WithTracing(static tracing => tracing.AddFuncMapLocalInstrumentation())
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
            .AddProcessInstrumentation();
    }

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
