using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FuncMap.Local.Storage;

/// <summary>
/// Storage health on <c>/healthz</c> and <c>/readyz</c>: Healthy, or Degraded with what is failing (never
/// Unhealthy: the HTTP API keeps serving from memory while storage is away, and catches up afterwards).
/// </summary>
public sealed class StorageHealthCheck(StorageStatus status) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problem = status.Problem();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        if (status.LastSnapshot is { } last)
        {
            data["lastSnapshot"] = last;
        }

        return Task.FromResult(problem is null
            ? HealthCheckResult.Healthy("Storage reachable; snapshots and queue ingestion run.", data)
            : HealthCheckResult.Degraded("Storage degraded (the API still serves from memory): " + problem, data: data));
    }
}
