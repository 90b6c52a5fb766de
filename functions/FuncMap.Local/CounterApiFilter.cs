using FuncMap.Http;
using FuncMap.Local.Storage;
using Microsoft.Extensions.Options;

namespace FuncMap.Local;

/// <summary>
/// The gate in front of every <c>/api</c> endpoint, in one filter to keep the hot path short:
/// the access key (401), readiness (503 + <c>Retry-After</c> while starting or stopping), the
/// engine's refusals (busy, timeout, stopped: 503 + <c>Retry-After</c>), and, with storage, the
/// single-writer lease: a write is acknowledged only while the lease is valid, checked when it arrives
/// and again once the engine answered (after the journal's fsync) and before the answer is written, so
/// a host paused past its lease answers nothing as success (503 <c>lease.lapsed</c>).
/// </summary>
internal sealed class CounterApiFilter(
    EngineReadiness readiness,
    IOptions<FuncMapLocalOptions> options,
    HttpMetrics metrics,
    ILogger<CounterApiFilter> logger,
    LeaseService? lease = null) : IEndpointFilter
{
    private const int LeaseRetryAfterSeconds = 5;

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

        var write = lease is not null && !HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method);
        if (write && LeaseRefusal(request, mayBeApplied: false) is { } refused)
        {
            return refused;
        }

        try
        {
            var result = await next(context);
            // Any answer to a write (200, 202, 204, a 409 after the apply) reports durable state: only under a valid lease.
            return write && LeaseRefusal(request, mayBeApplied: true) is { } lapsed ? lapsed : result;
        }
        catch (Exception ex) when (CounterProblems.FromEngineException(ex) is { } unavailable)
        {
            var reason = (string)unavailable.Value.Extensions["rule"]!;
            metrics.Rejected(reason);
            Log.Unavailable(logger, request.Method, request.Path, reason);
            return unavailable;
        }
    }

    private ServiceUnavailableResult? LeaseRefusal(HttpRequest request, bool mayBeApplied)
    {
        if (lease!.IsValid || lease.Refusal is not { } reason)
        {
            return null;
        }

        metrics.Rejected("lease.lapsed");
        Log.Unavailable(logger, request.Method, request.Path, "lease.lapsed");
        return CounterProblems.LeaseLapsed(reason, mayBeApplied, LeaseRetryAfterSeconds);
    }
}
