namespace FuncMap.Functions.Hosting;

/// <summary>Settings of the Functions host, bound from the <c>FuncMap</c> section (app settings <c>FuncMap__*</c>).</summary>
public sealed class FuncMapFunctionsOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "FuncMap";

    /// <summary>How long a <c>?wait=true</c> write waits for its result before it answers 202 with a status location.</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How far before the previous run's start the snapshot looks again, so that clock skew between
    /// workers and writes in flight at the previous run are not missed (rewriting a row is harmless).
    /// </summary>
    public TimeSpan SnapshotOverlap { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long a deleted counter's tombstone (its version and operation window) is kept after its row
    /// was removed, so that late duplicates of earlier operations are still recognised.
    /// </summary>
    public TimeSpan TombstoneRetention { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The largest body <c>POST /api/counters/batch</c> accepts.</summary>
    public int MaxBatchBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>How many entity signals one batch sends at a time.</summary>
    public int SignalConcurrency { get; set; } = 16;
}
