using FuncMap.Local;
using FuncMap.Local.Storage;

// --allow-unclean-takeover is FuncMap:Storage:AllowUncleanTakeover=true for this start.
WebApplication app;
try
{
    var builder = WebApplication.CreateBuilder(StorageOptions.ExpandSwitches(args));

    // The engine, its hosted lifecycle, ProblemDetails, health checks, OpenAPI and metrics.
    builder.AddFuncMapLocal();
    builder.AddFuncMapTelemetry(); // OpenTelemetry: OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, /metrics when FuncMap:Telemetry:PrometheusEndpoint

    // ---- Storage and durability plug in here. ------------------------------------------------
    // They register ICounterLoader implementations (snapshot restore, journal replay) and, for the
    // journal, an IOperationLog; the engine factory and EngineHostedService pick them up from DI.
    builder.AddFuncMapStorage(); // FuncMap:Storage: snapshots to table Counters, restore, queue ingestion, writer lease
    builder.AddFuncMapJournal();  // FuncMap:Durability:Mode = Journal (default) | Snapshot
    // --------------------------------------------------------------------------------------------

    app = builder.Build();
}
catch (Exception ex) when (HostExit.OwnsProcess) // not under WebApplicationFactory, which takes the host (and exceptions) itself
{
    return HostExit.FailedToStart(ex); // invalid configuration: one line on stderr, exit code 1
}

app.UseFuncMapLocal();       // exception handler (500 without details), ProblemDetails for bare status codes
app.MapFuncMapOperations();  // /healthz, /readyz, /openapi/v1.json (and /bench/noop when enabled)
app.MapCounters();           // /api/counters...
app.MapFuncMapJournalBench(); // POST /bench/journal-groups (bench/load only: with FuncMap:Bench:NoopEndpoint)

return app.RunToExitCode(); // a failed start or stop: one line on stderr and exit code 1, never an unhandled exception

/// <summary>The local host's entry point (public for <c>WebApplicationFactory&lt;Program&gt;</c>).</summary>
public partial class Program;
