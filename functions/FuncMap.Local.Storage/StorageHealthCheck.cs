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

/// <summary>
/// The lease on <c>/readyz</c> only: Unhealthy from the moment the lease could have lapsed (writes are refused with 503
/// and ingestion stops) until a renewal succeeds, so a load balancer sends traffic elsewhere.
/// </summary>
public sealed class LeaseHealthCheck(LeaseService lease) : IHealthCheck
{
    /// <summary>The tag of the check: readiness only (a lapsed host is alive and may recover).</summary>
    public static readonly string[] Tags = ["ready"];

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!lease.WhenClaimed.IsCompletedSuccessfully)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The single-writer lease is not claimed yet."));
        }

        return Task.FromResult(lease.Refusal is { } refusal
            ? HealthCheckResult.Unhealthy("Writes are refused: " + refusal)
            : HealthCheckResult.Healthy($"This host holds the single-writer lease (epoch {lease.Epoch})."));
    }
}
