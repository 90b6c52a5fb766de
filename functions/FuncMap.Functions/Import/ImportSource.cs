using Azure.Data.Tables;
using FuncMap.Functions.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Import;

/// <summary>
/// The table the import reads (<see cref="ImportOptions.Connection"/> and <see cref="ImportOptions.Table"/>; by default
/// the app's own snapshot table), named <see cref="Id"/> = <c>{account}/{table}</c>. One orchestration per source:
/// its instance id is derived from <see cref="Id"/>, so a second start finds the first.
/// </summary>
public sealed class ImportSource
{
    /// <summary>The source of <paramref name="options"/> on the app's <paramref name="tables"/> (its own account).</summary>
    public ImportSource(TableServiceClient tables, IConfiguration configuration, IOptions<ImportOptions> options, IOptions<FuncMapFunctionsOptions> functions)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(functions);
        var import = options.Value;
        var ownTable = functions.Value.SnapshotTable;
        var service = import.Connection is { Length: > 0 } connection && connection != StorageClients.ConnectionName
            ? StorageClients.CreateTableServiceClient(configuration, connection)
            : tables;
        var table = import.Table is { Length: > 0 } name ? name : ownTable;
        Table = service.GetTableClient(table);
        Id = service.AccountName + "/" + table;
        // Table names are case-insensitive (Azure Table service naming rules).
        IsOwnTable = string.Equals(service.AccountName, tables.AccountName, StringComparison.Ordinal) && string.Equals(table, ownTable, StringComparison.OrdinalIgnoreCase);
        InstanceId = InstanceIdOf(Id);
    }

    /// <summary>The table read.</summary>
    public TableClient Table { get; }

    /// <summary><c>{account}/{table}</c>.</summary>
    public string Id { get; }

    /// <summary>True when the source is the app's own snapshot table: its completed import lifts the snapshot's guard.</summary>
    public bool IsOwnTable { get; }

    /// <summary>The orchestration instance id of this source's import.</summary>
    public string InstanceId { get; }

    /// <summary><c>import-{account}-{table}</c>, lower-cased: instance ids may not hold <c>/</c>.</summary>
    public static string InstanceIdOf(string sourceId)
    {
        ArgumentNullException.ThrowIfNull(sourceId);
#pragma warning disable CA1308 // Account and table names are ASCII letters and digits; lower case is their canonical form.
        return "import-" + sourceId.Replace('/', '-').ToLowerInvariant();
#pragma warning restore CA1308
    }
}
