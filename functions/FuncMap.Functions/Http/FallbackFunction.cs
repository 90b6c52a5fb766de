using System.Collections.Frozen;
using FuncMap.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Http;

/// <summary>
/// Every request below <c>/api</c> that no other function takes: without it the Functions host answers an
/// unknown route or a wrong method with a bare 404 and no body. Here both get a ProblemDetails, 404 or 405
/// with <c>Allow</c>, as on the local host. It needs no key, since it reveals nothing a 404 would not.
/// The Functions host tries HTTP routes in the alphabetical order of their function names, with no precedence of
/// literal segments over parameters (azure-functions-host #9876, #3153): a catch-all shadows every function named after
/// it. Hence its name, <see cref="Name"/>, which sorts after every other function of the app (a test keeps it so).
/// </summary>
public sealed class FallbackFunction(IOptions<BenchOptions> bench)
{
    /// <summary>The function's name: after every other HTTP function's, so that the host tries it last.</summary>
    public const string Name = "RouteFallback";

    private static readonly FrozenSet<string> BenchOff = FrozenSet.Create(StringComparer.Ordinal, BenchNoopFunction.Name);

    /// <summary>Answers 404 (no such route, or <c>bench/noop</c> while it is off) or 405 (a route, another method).</summary>
    [Function(Name)]
    public ProblemHttpResult Run(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", "put", "patch", "delete", "head", "options", Route = "{*path}")] HttpRequest request,
        string? path)
    {
        ArgumentNullException.ThrowIfNull(request);
        var allowed = CounterRoutes.AllowedMethods(path ?? string.Empty, bench.Value.NoopEndpoint ? null : BenchOff);
        if (allowed.Count == 0)
        {
            return CounterProblems.RouteNotFound(request.Path);
        }

        request.HttpContext.Response.Headers.Allow = string.Join(", ", allowed);
        return CounterProblems.MethodNotAllowed(request.Method, request.Path);
    }
}
