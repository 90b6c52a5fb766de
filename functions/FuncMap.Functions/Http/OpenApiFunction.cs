using FuncMap.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace FuncMap.Functions.Http;

/// <summary>
/// <c>GET /api/openapi/v1.json</c>: the contract's OpenAPI document (<see cref="CounterOpenApi"/>), the same
/// bytes the local host serves at <c>/openapi/v1.json</c>. Anonymous, as the local host's is: it describes the API
/// and holds no data.
/// </summary>
public static class OpenApiFunction
{
    /// <summary>The route, below the host's <c>api</c> prefix.</summary>
    public const string Route = "openapi/v1.json";

    /// <summary>200 with the document (no body for <c>HEAD</c>).</summary>
    [Function("OpenApi")]
    public static IResult Run([HttpTrigger(AuthorizationLevel.Anonymous, "get", "head", Route = Route)] HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return CounterOpenApi.Result();
    }
}
