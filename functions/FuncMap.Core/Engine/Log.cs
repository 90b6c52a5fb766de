using Microsoft.Extensions.Logging;

namespace FuncMap.Engine;

/// <summary>The engine's log messages (EventIds 1000–1099).</summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Counter engine started with {ShardCount} shards, mailbox capacity {MailboxCapacity}, {Counters} counters loaded.")]
    public static partial void Started(ILogger logger, int shardCount, int mailboxCapacity, long counters);

    [LoggerMessage(1001, LogLevel.Information, "Counter engine stopped after draining its mailboxes.")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(1002, LogLevel.Warning, "Add of {Delta} to counter {Key} rejected: the result would overflow Int64 (operation id {OperationId}).")]
    public static partial void OverflowRejected(ILogger logger, string key, long delta, string? operationId);

    [LoggerMessage(1008, LogLevel.Warning, "{Kind} on counter {Key} refused: operation id {OperationId} was used before for a different request (idempotency.mismatch).")]
    public static partial void MismatchRefused(ILogger logger, string key, Counters.CounterOperationKind kind, string? operationId);

    [LoggerMessage(1003, LogLevel.Warning, "Shard {Shard} is busy: its mailbox stayed full for {WaitMilliseconds} ms.")]
    public static partial void ShardBusy(ILogger logger, int shard, double waitMilliseconds);

    [LoggerMessage(1004, LogLevel.Debug, "Shard {Shard} failed to make {Count} operations durable; their callers are told so.")]
    public static partial void DurabilityFailed(ILogger logger, Exception exception, int shard, int count);

    [LoggerMessage(1005, LogLevel.Error, "Shard {Shard} failed while processing a command; its caller is told so and the loop goes on.")]
    public static partial void CommandFailed(ILogger logger, Exception exception, int shard);

    [LoggerMessage(1009, LogLevel.Debug, "Shard {Shard} rolled back {Drains} drains the log refused: {Counters} counters set back to their durable state.")]
    public static partial void RolledBack(ILogger logger, int shard, int drains, int counters);

    [LoggerMessage(1010, LogLevel.Warning, "Shard {Shard} stopped with {Drains} drains whose log append had not completed after {TimeoutMilliseconds} ms; their outcome is what the log recorded.")]
    public static partial void StoppedUnsettled(ILogger logger, int shard, int drains, double timeoutMilliseconds);
}
