using FuncMap.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Http;

/// <summary>
/// <c>POST /api/bench/noop</c>: the ceiling of this host's HTTP path for <c>bench/functions</c>, the Functions
/// counterpart of the local host's <c>POST /bench/noop</c>. It takes the route an add takes through the host
/// and the worker, with the same key check and the same body parsing, and stops there: no signal, no storage.
/// Off unless <c>FuncMap:Bench:NoopEndpoint</c> is true; then it answers as an unknown route does.
/// </summary>
public sealed class BenchNoopFunction(IOptions<BenchOptions> bench, IOptions<FuncMapHttpOptions> http)
{
    /// <summary>The route, below the host's <c>api</c> prefix.</summary>
    public const string Route = "bench/noop";

    /// <summary>The function's name.</summary>
    public const string Name = "BenchNoop";

    /// <summary>202 with the parsed delta; 404 (<c>route.notFound</c>) when the switch is off; an add's 4xx for a body an add refuses.</summary>
    [Function(Name)]
    public async Task<Results<Accepted<BenchNoopAccepted>, ProblemHttpResult>> RunAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = Route)] HttpRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!bench.Value.NoopEndpoint)
        {
            return CounterProblems.RouteNotFound(request.Path);
        }

        var (delta, problem) = await CounterRequests.ReadAddAsync(request, http.Value.MaxBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        return TypedResults.Accepted((string?)null, new BenchNoopAccepted(delta));
    }
}

/// <summary>The 202 body of <c>POST /api/bench/noop</c>: the delta an add with that body would have added.</summary>
public sealed record BenchNoopAccepted(long Delta);
