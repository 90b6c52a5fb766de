using FuncMap.Http;
using Microsoft.Extensions.Options;

namespace FuncMap.Local;

/// <summary>
/// The gate in front of every <c>/api</c> endpoint, in one filter to keep the hot path short:
/// the access key (401), readiness (503 + <c>Retry-After</c> while starting or stopping), and the
/// engine's refusals (busy, timeout, stopped: 503 + <c>Retry-After</c>).
/// </summary>
internal sealed class CounterApiFilter(
    EngineReadiness readiness,
    IOptions<FuncMapLocalOptions> options,
    HttpMetrics metrics,
    ILogger<CounterApiFilter> logger) : IEndpointFilter
{
    private readonly AccessKeyCheck? _accessKey =
        string.IsNullOrEmpty(options.Value.AccessKey) ? null : new AccessKeyCheck(options.Value.AccessKey);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var request = context.HttpContext.Request;
        if (_accessKey is not null && !_accessKey.IsAuthorized(request, out var keyPresent))
        {
            var reason = keyPresent ? "accessKey.invalid" : "accessKey.missing";
            metrics.Rejected(reason);
            Log.AccessDenied(logger, request.Method, request.Path, reason);
            return CounterProblems.Unauthorized(keyPresent);
        }

        if (!readiness.IsReady)
        {
            var state = readiness.State;
            var problem = state == ReadinessState.Starting ? CounterProblems.Starting() : CounterProblems.Stopping();
            var reason = state == ReadinessState.Starting ? "starting" : "stopping";
            metrics.Rejected(reason);
            Log.Unavailable(logger, request.Method, request.Path, reason);
            return problem;
        }

        try
        {
            return await next(context);
        }
        catch (Exception ex) when (CounterProblems.FromEngineException(ex) is { } unavailable)
        {
            var reason = (string)unavailable.Value.Extensions["rule"]!;
            metrics.Rejected(reason);
            Log.Unavailable(logger, request.Method, request.Path, reason);
            return unavailable;
        }
    }
}
