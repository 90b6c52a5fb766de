using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using FuncMap.Telemetry;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace FuncMap.Functions.Hosting;

/// <summary>
/// OpenTelemetry in the Functions worker (host.json <c>"telemetryMode": "OpenTelemetry"</c>; README "Observe it"):
/// the Functions worker defaults (resource, invocation spans, the host told that the worker exports), the FuncMap
/// meters and sources (<see cref="FuncMapTelemetry.FunctionsMeters"/>, <see cref="FuncMapTelemetry.FunctionsSources"/>),
/// exported to Azure Monitor when <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is set and over OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is (both may be). With neither, nothing is registered.
/// </summary>
public static class FunctionsTelemetryExtensions
{
    /// <summary>The setting (an app setting in Azure) whose presence turns the Azure Monitor exporter on.</summary>
    public const string ApplicationInsightsKey = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    /// <summary>
    /// The Functions host's setting for Entra ID ingestion (<c>Authorization=AAD</c>, with <c>ClientId=</c> for a
    /// user-assigned identity), which infra/ sets because the Application Insights resource refuses local auth. The
    /// exporter does not read it: the worker turns it into the exporter's credential.
    /// </summary>
    public const string ApplicationInsightsAuthenticationKey = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

    /// <summary>The standard variable whose presence turns the OTLP exporter on (which reads the other <c>OTEL_EXPORTER_OTLP_*</c> itself).</summary>
    public const string OtlpEndpointKey = FuncMapTelemetry.OtlpEndpointVariable;

    /// <summary>Registers OpenTelemetry with the exporters the configuration asks for; none when it asks for none.</summary>
    public static IHostApplicationBuilder AddFuncMapFunctionsTelemetry(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var azureMonitor = !string.IsNullOrWhiteSpace(builder.Configuration[ApplicationInsightsKey]);
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration[OtlpEndpointKey]);
        if (!azureMonitor && !otlp)
        {
            return builder;
        }

        var telemetry = builder.Services.AddOpenTelemetry()
            .UseFunctionsWorkerDefaults()
            .WithMetrics(static metrics => metrics.AddFuncMapFunctionsInstrumentation())
            .WithTracing(static tracing => tracing.AddFuncMapFunctionsInstrumentation())
            .WithLogging();

        if (azureMonitor)
        {
            // The exporter reads APPLICATIONINSIGHTS_CONNECTION_STRING itself.
            var authentication = builder.Configuration[ApplicationInsightsAuthenticationKey];
            telemetry.UseAzureMonitorExporter(options => options.Credential = EntraCredential(authentication));
        }

        if (otlp)
        {
            telemetry.UseOtlpExporter();
        }

        return builder;
    }

    /// <summary>
    /// The managed identity an <c>APPLICATIONINSIGHTS_AUTHENTICATION_STRING</c> of <c>Authorization=AAD</c> names
    /// (user-assigned with <c>ClientId=</c>, else system-assigned); null without it (connection-string auth).
    /// </summary>
    internal static ManagedIdentityCredential? EntraCredential(string? authentication)
    {
        if (string.IsNullOrWhiteSpace(authentication))
        {
            return null;
        }

        string? clientId = null;
        var aad = false;
        foreach (var part in authentication.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (name, value) = part.IndexOf('=', StringComparison.Ordinal) is var at and > 0 ? (part[..at].Trim(), part[(at + 1)..].Trim()) : (part, string.Empty);
            if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
            {
                aad = value.Equals("AAD", StringComparison.OrdinalIgnoreCase);
            }
            else if (name.Equals("ClientId", StringComparison.OrdinalIgnoreCase) && value.Length > 0)
            {
                clientId = value;
            }
        }

        if (!aad)
        {
            return null;
        }

        return new ManagedIdentityCredential(clientId is null ? ManagedIdentityId.SystemAssigned : ManagedIdentityId.FromUserAssignedClientId(clientId));
    }

    /// <summary>The worker's meters: FuncMap's (<see cref="FuncMapTelemetry.FunctionsMeters"/>), outgoing HTTP (storage) and the runtime.</summary>
    public static MeterProviderBuilder AddFuncMapFunctionsInstrumentation(this MeterProviderBuilder metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return metrics
            .AddMeter([.. FuncMapTelemetry.FunctionsMeters])
            .AddHttpClientInstrumentation()
            .AddRuntimeInstrumentation();
    }

    /// <summary>
    /// The worker's spans: FuncMap's (<see cref="FuncMapTelemetry.FunctionsSources"/>: an entity's apply, snapshot runs,
    /// queue batches) under the invocation spans the worker defaults add. Outgoing HTTP is measured, not traced: the
    /// storage URLs hold row keys, and no span carries a counter key.
    /// </summary>
    public static TracerProviderBuilder AddFuncMapFunctionsInstrumentation(this TracerProviderBuilder tracing)
    {
        ArgumentNullException.ThrowIfNull(tracing);
        return tracing.AddSource([.. FuncMapTelemetry.FunctionsSources]);
    }
}
