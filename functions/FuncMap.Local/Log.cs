namespace FuncMap.Local;

/// <summary>The local host's log messages (EventIds 1300–1399).</summary>
internal static partial class Log
{
    [LoggerMessage(1300, LogLevel.Information, "Running counter loader {Loader} (order {Order}).")]
    public static partial void LoaderRunning(ILogger logger, string loader, int order);

    [LoggerMessage(1301, LogLevel.Information, "Counter loader {Loader} finished in {ElapsedMilliseconds} ms.")]
    public static partial void LoaderCompleted(ILogger logger, string loader, double elapsedMilliseconds);

    [LoggerMessage(1302, LogLevel.Information, "Ready: engine serves with {ShardCount} shards (journaled: {Journaled}), {Counters} counters loaded.")]
    public static partial void EngineReady(ILogger logger, int shardCount, bool journaled, long counters);

    [LoggerMessage(1303, LogLevel.Critical, "Startup failed: a counter loader or the engine could not start; the host stops.")]
    public static partial void StartupFailed(ILogger logger, Exception exception);

    [LoggerMessage(1304, LogLevel.Information, "Stopping: the server finishes its requests, then the engine drains its mailboxes.")]
    public static partial void EngineStopping(ILogger logger);

    [LoggerMessage(1305, LogLevel.Information, "Startup cancelled: the host stopped while counters were loading.")]
    public static partial void StartupCancelled(ILogger logger);

    [LoggerMessage(1306, LogLevel.Debug, "{Method} {Path} answered 503 ({Reason}).")]
    public static partial void Unavailable(ILogger logger, string method, string path, string reason);

    [LoggerMessage(1307, LogLevel.Warning, "{Method} {Path} answered 401 ({Reason}).")]
    public static partial void AccessDenied(ILogger logger, string method, string path, string reason);

    [LoggerMessage(1308, LogLevel.Error, "Unexpected error while serving {Method} {Path}; answered 500 without details.")]
    public static partial void UnexpectedError(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(1309, LogLevel.Debug, "{Method} {Path} was malformed at the transport level; answered {StatusCode}.")]
    public static partial void BadRequest(ILogger logger, Exception exception, string method, string path, int statusCode);

    [LoggerMessage(1320, LogLevel.Critical, "Startup refused ({ExceptionType}): the host stops; its last line, on stderr, says why.")]
    public static partial void StartupRefused(ILogger logger, string exceptionType);

    [LoggerMessage(1321, LogLevel.Information, "Process id {ProcessId}; metrics: dotnet-counters monitor -p {ProcessId} --counters FuncMap.Engine,FuncMap.Http,FuncMap.Journal,FuncMap.Storage")]
    public static partial void ProcessStarted(ILogger logger, int processId);

    [LoggerMessage(1322, LogLevel.Warning, "No storage (FuncMap:Storage:Enabled=false), Snapshot mode: counters live in memory only and are lost when the host stops.")]
    public static partial void NoStorageInMemory(ILogger logger);

    [LoggerMessage(1323, LogLevel.Warning, "No storage (FuncMap:Storage:Enabled=false), Journal mode: counters survive restarts in the journal {Directory}, which only hosts without storage replay (a host with storage uses the data directory's journal/). FuncMap:Durability:Mode=Snapshot keeps nothing.")]
    public static partial void NoStorageJournaled(ILogger logger, string directory);

    [LoggerMessage(1310, LogLevel.Warning, "Benchmark endpoint POST /bench/noop is mapped (FuncMap:Bench:NoopEndpoint=true).")]
    public static partial void NoopEndpointMapped(ILogger logger);
}
