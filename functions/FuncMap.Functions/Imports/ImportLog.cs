using Microsoft.Extensions.Logging;

namespace FuncMap.Functions;

/// <summary>The log messages of the snapshot guard and the import (EventIds 6100–6149).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 6100, Level = LogLevel.Warning,
        Message = "Snapshot kept {Kept} rows of table {Table} that are as new or newer than their entities: no import of the table has completed yet (POST /api/admin/import)")]
    public static partial void SnapshotKeptNewerRows(ILogger logger, int kept, string table);
}
