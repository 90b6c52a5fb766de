using Microsoft.Extensions.Logging;

namespace FuncMap.Functions;

/// <summary>The log messages of the snapshot guard and the import (EventIds 6100–6149).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 6100, Level = LogLevel.Warning,
        Message = "Snapshot kept {Kept} rows of table {Table} that are as new or newer than their entities: no import of the table has completed yet (POST /api/manage/import)")]
    public static partial void SnapshotKeptNewerRows(ILogger logger, int kept, string table);

    [LoggerMessage(EventId = 6110, Level = LogLevel.Information,
        Message = "Import of {Source} started as orchestration {InstanceId} (own snapshot table: {OwnTable})")]
    public static partial void ImportStarted(ILogger logger, string source, string instanceId, bool ownTable);

    [LoggerMessage(EventId = 6111, Level = LogLevel.Information,
        Message = "Import of {Source} is already running as orchestration {InstanceId}; answered with its status")]
    public static partial void ImportAlreadyRunning(ILogger logger, string source, string instanceId);

    [LoggerMessage(EventId = 6112, Level = LogLevel.Warning,
        Message = "Import: row {PartitionKey}/{RowKey} of table {Table} skipped ({Rule}): {Reason}")]
    public static partial void ImportRowSkipped(ILogger logger, string partitionKey, string rowKey, string rule, string reason, string table);
}
