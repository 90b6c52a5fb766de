using FuncMap.Local;
using FuncMap.Local.Storage;

// --allow-unclean-takeover is FuncMap:Storage:AllowUncleanTakeover=true for this start.
var builder = WebApplication.CreateBuilder(StorageOptions.ExpandSwitches(args));

// The engine, its hosted lifecycle, ProblemDetails, health checks, OpenAPI and metrics.
builder.AddFuncMapLocal();

// ---- Storage and durability plug in here. ----------------------------------------------------
// They register ICounterLoader implementations (snapshot restore, journal replay) and, for the
// journal, an IOperationLog; the engine factory and EngineHostedService pick them up from DI.
builder.AddFuncMapStorage(); // FuncMap:Storage: snapshots to table Counters, restore, queue ingestion, writer lease
builder.AddFuncMapJournal();  // FuncMap:Durability:Mode = Journal (default) | Snapshot
// ------------------------------------------------------------------------------------------------

var app = builder.Build();

app.UseFuncMapLocal();       // exception handler (500 without details), ProblemDetails for bare status codes
app.MapFuncMapOperations();  // /healthz, /readyz, /openapi/v1.json (and /bench/noop when enabled)
app.MapCounters();           // /api/counters...
app.MapFuncMapJournalBench(); // POST /bench/journal-groups (bench/load only: with FuncMap:Bench:NoopEndpoint)

try
{
    app.Run();
}
catch (LeaseRefusedException ex) when (System.Reflection.Assembly.GetEntryAssembly() == typeof(Program).Assembly)
{
    // Another host owns the storage, or its owner stopped uncleanly: one line for the operator, no stack trace.
    // (Hosted by another entry point, e.g. WebApplicationFactory in tests, the exception goes to that caller.)
    Console.Error.WriteLine(ex.Message);
    return 1;
}

return Environment.ExitCode;

/// <summary>The local host's entry point (public for <c>WebApplicationFactory&lt;Program&gt;</c>).</summary>
public partial class Program;
