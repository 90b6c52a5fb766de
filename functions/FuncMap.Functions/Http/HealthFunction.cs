using FuncMap.Functions.Counters;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Azure.Functions.Worker;

namespace FuncMap.Functions.Http;

/// <summary>
/// <c>GET /api/health</c>: 200 while the worker runs, with the folded adds parked behind a gap in the counters whose
/// entities last ran in this process (<see cref="FunctionsMetrics.ParkedKeys"/>, <c>.ParkedAdds</c>, <c>.ParkedAge</c>
/// as JSON). A parked add waits at most <see cref="Counter.GapReleaseAfter"/> before its gap is released as lost, so an
/// age beyond it means the entity has not run since (its release reminder is due).
/// </summary>
public sealed class HealthFunction(FunctionsMetrics metrics)
{
    /// <summary>The route, below the host's <c>api</c> prefix.</summary>
    public const string Route = "health";

    /// <summary>200 with <see cref="HealthReport"/>.</summary>
    [Function("Health")]
    public Ok<HealthReport> Run([HttpTrigger(AuthorizationLevel.Anonymous, "get", "head", Route = Route)] HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (keys, adds, age) = metrics.Parked();
        return TypedResults.Ok(new HealthReport(new ParkedReport(keys, adds, age.TotalSeconds, Counter.GapReleaseAfter.TotalSeconds)));
    }
}

/// <summary>The body of <c>GET /api/health</c>.</summary>
/// <param name="Parked">The folded adds waiting behind a gap, as this process last saw them.</param>
public sealed record HealthReport(ParkedReport Parked);

/// <summary>Folded adds parked behind a gap in their source's numbers (<see cref="Counter.GapReleaseAfter"/>).</summary>
/// <param name="Keys">Counters with parked adds.</param>
/// <param name="Adds">Parked folded sums in them.</param>
/// <param name="OldestAgeSeconds">How long the oldest has waited, in seconds (0 when none).</param>
/// <param name="ReleaseAfterSeconds">When a gap is released as lost, in seconds of waiting.</param>
public sealed record ParkedReport(int Keys, long Adds, double OldestAgeSeconds, double ReleaseAfterSeconds);
