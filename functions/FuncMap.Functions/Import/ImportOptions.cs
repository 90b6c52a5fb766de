namespace FuncMap.Functions.Import;

/// <summary>Settings of the import into the entities, bound from <c>FuncMap:Import</c> (app settings <c>FuncMap__Import__*</c>).</summary>
public sealed class ImportOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "FuncMap:Import";

    /// <summary>
    /// The name of the connection setting of the account to import from, in the shape <c>AzureWebJobsStorage</c> takes
    /// (a connection string, or <c>{name}__tableServiceUri</c> / <c>__accountName</c> with <c>__credential</c>); null:
    /// the app's own account (<c>AzureWebJobsStorage</c>).
    /// </summary>
    public string? Connection { get; set; }

    /// <summary>The table to import from; null: the snapshot table (<c>FuncMap:SnapshotTable</c>, default <c>Counters</c>).</summary>
    public string? Table { get; set; }

    /// <summary>Rows one activity reads and signals (one query page; the service's maximum is 1000).</summary>
    public int PageSize { get; set; } = 1000;

    /// <summary>How many restore signals one activity sends at a time.</summary>
    public int SignalConcurrency { get; set; } = 32;

    /// <summary>
    /// Rounds (one page of every unfinished partition each) after which the orchestration continues as new with its
    /// progress as input, so that its history stays bounded however large the table is.
    /// </summary>
    public int RoundsPerGeneration { get; set; } = 16;
}
