using FuncMap.Configuration;
using FuncMap.Engine;
using FuncMap.Http;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace FuncMap.Local;

/// <summary>Registration and pipeline of the local host: the seams storage and journal plug into.</summary>
public static class FuncMapLocalExtensions
{
    /// <summary>The health-check tag of liveness (<c>/healthz</c>).</summary>
    public const string LiveTag = "live";

    /// <summary>The health-check tag of readiness (<c>/readyz</c>); storage checks add themselves with it.</summary>
    public const string ReadyTag = "ready";

    /// <summary>Registers the local host's services and binds Kestrel's body limit to <c>FuncMap:Http:MaxBodyBytes</c>.</summary>
    public static WebApplicationBuilder AddFuncMapLocal(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddFuncMapLocal(builder.Configuration);
        return builder;
    }

    /// <summary>
    /// Registers the engine (a singleton: journaled when an <see cref="IOperationLog"/> is registered),
    /// <see cref="EngineHostedService"/>, readiness, health checks, ProblemDetails and metrics.
    /// </summary>
    public static IServiceCollection AddFuncMapLocal(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        // Validated at start, so that an invalid setting is refused as configuration (one line naming it), not found by
        // the engine's constructor as an argument error.
        services.AddOptions<CounterEngineOptions>().Bind(configuration.GetSection(CounterEngineOptions.SectionName))
            .ValidateOnStartWith(CounterEngineOptions.SectionName, static options => options.Validate());
        services.AddFuncMapHttpOptions(configuration);
        services.AddOptions<FuncMapLocalOptions>().Bind(configuration.GetSection(FuncMapLocalOptions.SectionName));

        services.AddOptions<KestrelServerOptions>().Configure<IOptions<FuncMapHttpOptions>>(static (kestrel, http) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = http.Value.MaxBodyBytes;
            // Kestrel refuses a request over these before the pipeline runs, with a bare status: its limits are the
            // ceilings, and the contract's limits are enforced in the pipeline with ProblemDetails (RequestLimits).
            kestrel.Limits.MaxRequestLineSize = RequestLimits.ServerRequestLineBytes;
            kestrel.Limits.MaxRequestHeaderCount = RequestLimits.ServerHeaderCount;
            kestrel.Limits.MaxRequestHeadersTotalSize = RequestLimits.ServerHeaderBytes;
        });

        services.AddMetrics();
        services.AddSingleton<HttpMetrics>();
        services.AddSingleton(CreateEngine);
        services.AddSingleton<EngineReadiness>();
        services.AddHostedService<EngineHostedService>();

        services.AddHealthChecks()
            .AddCheck("self", static () => HealthCheckResult.Healthy(), tags: [LiveTag])
            .AddCheck<EngineReadyHealthCheck>("engine", tags: [ReadyTag]);

        services.AddCors();
        services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>().Configure<IOptions<FuncMapLocalOptions>>(static (cors, local) =>
            cors.AddDefaultPolicy(policy => policy
                .WithOrigins(local.Value.CorsOrigins)
                .WithMethods(HttpMethods.Get, HttpMethods.Head, HttpMethods.Post, HttpMethods.Delete)
                .WithHeaders("Content-Type", CounterRequests.IdempotencyKeyHeader, AccessKeyCheck.HeaderName)
                .WithExposedHeaders("Location", "Retry-After", CounterRequests.IdempotentReplayedHeader)));
        services.AddProblemDetails();
        services.AddExceptionHandler<UnexpectedExceptionHandler>();
        return services;
    }

    /// <summary>
    /// Exceptions become 500 ProblemDetails without details; a bare 4xx/5xx status (unknown route, wrong method) gets
    /// the contract's ProblemDetails with its <c>rule</c> (<see cref="CounterProblems.ForStatus"/>); a request line or headers
    /// over the contract's limits are 414 / 431 ProblemDetails (<see cref="RequestLimits"/>); a counter path whose
    /// raw key segment is <c>.</c> or <c>..</c> is the key rule's 400 before the server's normalized path is routed
    /// (<see cref="CounterPaths"/>); with <see cref="FuncMapLocalOptions.CorsOrigins"/>, CORS for those origins.
    /// </summary>
    public static WebApplication UseFuncMapLocal(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseExceptionHandler();
        app.UseStatusCodePages(static context =>
        {
            var http = context.HttpContext;
            var maxBodyBytes = http.RequestServices.GetRequiredService<IOptions<FuncMapHttpOptions>>().Value.MaxBodyBytes;
            return CounterProblems.ForStatus(http.Response.StatusCode, http.Request.Method, http.Request.Path, maxBodyBytes).ExecuteAsync(http);
        });
        if (app.Services.GetRequiredService<IOptions<FuncMapLocalOptions>>().Value.CorsOrigins.Length > 0)
        {
            app.UseCors(); // answers preflights itself; without origins there is no CORS and OPTIONS is a 405
        }

        app.Use(static (context, next) =>
        {
            // Read once: both checks judge the target as sent.
            var rawTarget = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
            var refused = RequestLimits.Check(context, rawTarget) ?? CounterPaths.ValidateRawTarget(rawTarget);
            return refused is not null ? refused.ExecuteAsync(context) : next(context);
        });
        return app;
    }

    /// <summary>Maps <c>/healthz</c>, <c>/readyz</c>, <c>/openapi/v1.json</c> and, when enabled, <c>POST /bench/noop</c>.</summary>
    public static WebApplication MapFuncMapOperations(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = static r => r.Tags.Contains(LiveTag) });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = static r => r.Tags.Contains(ReadyTag), ResponseWriter = WriteReadiness });
        // The contract's one OpenAPI document (FuncMap.Http), the same bytes the Functions app serves.
        app.MapMethods(CounterOpenApi.Path, [HttpMethods.Get, HttpMethods.Head], CounterOpenApi.Result);

        if (app.Services.GetRequiredService<IOptions<FuncMapLocalOptions>>().Value.Bench.NoopEndpoint)
        {
            // The baseline of bench/load: the same host and pipeline, no work.
            app.MapPost("/bench/noop", static () => TypedResults.Accepted((string?)null));
            Log.NoopEndpointMapped(app.Logger);
        }

        return app;
    }

    /// <summary>
    /// Runs the host until it stops and returns the process exit code. A start that fails (the lease is held by
    /// another host, the data directory is locked, the port is taken) or a stop that throws ends the process with
    /// exit code 1 and one line on stderr that says why (<see cref="HostExit"/>), instead of an unhandled exception,
    /// which the runtime turns into an abort (SIGABRT). A host that stopped itself with a code
    /// (<see cref="Environment.ExitCode"/>: a failed restore, a lost lease) keeps it.
    /// </summary>
    public static int RunToExitCode(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var started = false;
        using var registration = app.Lifetime.ApplicationStarted.Register(() =>
        {
            started = true;
            // The process is `dotnet` (FuncMap.Local.dll), so tools that attach find it by this id, not by a name.
            Log.ProcessStarted(app.Logger, Environment.ProcessId);
            if (!FuncMap.Local.Storage.StorageOptions.IsEnabled(app.Configuration))
            {
                // Say what a host without storage keeps, so that nobody takes it for "in memory only" when it journals.
                var journal = app.Services.GetService<FuncMap.Journal.OperationJournal>();
                if (journal is null)
                {
                    Log.NoStorageInMemory(app.Logger);
                }
                else
                {
                    Log.NoStorageJournaled(app.Logger, journal.DirectoryPath);
                }
            }
        });
        try
        {
            app.Run();
            // A start that failed once the host ran (a counter loader) stopped the host with exit code 1: said here, once.
            return Environment.ExitCode != 0 && HostExit.RecordedStartFailure is { } failure ? HostExit.FailedToStart(failure) : Environment.ExitCode;
        }
        catch (Exception ex) when (HostExit.OwnsProcess)
        {
            // The app's services are disposed by now: only what was captured before is used.
            return started ? HostExit.FailedToStop(ex) : HostExit.FailedToStart(ex);
        }
    }

    /// <summary>
    /// <c>/readyz</c> as plain text: the status on the first line, then one line per check that is not healthy
    /// (<c>name: description</c>), so an operator sees why a host is out of rotation (a lapsed lease, say).
    /// </summary>
    private static Task WriteReadiness(HttpContext context, HealthReport report)
    {
        var text = new System.Text.StringBuilder(report.Status.ToString());
        foreach (var (name, entry) in report.Entries)
        {
            if (entry.Status != HealthStatus.Healthy)
            {
                text.Append('\n').Append(name).Append(": ").Append(entry.Description ?? entry.Status.ToString());
            }
        }

        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text.ToString());
    }

    private static CounterEngine CreateEngine(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<CounterEngineOptions>>().Value;
        var log = services.GetService<IOperationLog>();
        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var logger = services.GetRequiredService<ILogger<CounterEngine>>();
        var meters = services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        return log is null
            ? new CounterEngine(options, log: null, time, logger, meters)
            : CounterEngine.CreateJournaled(options, log, time, logger, meters);
    }
}
