using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FuncMap.Local;

/// <summary>The <c>ready</c>-tagged check: healthy once the engine has loaded its counters and started.</summary>
public sealed class EngineReadyHealthCheck(EngineReadiness readiness) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(readiness.State switch
        {
            ReadinessState.Ready => HealthCheckResult.Healthy("The engine serves."),
            ReadinessState.Starting => HealthCheckResult.Unhealthy("Counters are being loaded."),
            ReadinessState.Stopping => HealthCheckResult.Unhealthy("The host is stopping."),
            _ => HealthCheckResult.Unhealthy("Startup failed; see the log."),
        });
}
