using FuncMap.Counters;

namespace FuncMap.Functions.Import;

/// <summary>The input of one page activity: partition range <paramref name="Partition"/> (0–63) of <paramref name="Source"/>, from <paramref name="ContinuationToken"/> (null: its start).</summary>
/// <param name="Source">The source id (<see cref="ImportSource.Id"/>); an activity of another source refuses the page.</param>
/// <param name="Partition">The PartitionKey range (<see cref="FuncMap.Storage.CounterRows.PartitionRangeFilter"/>).</param>
/// <param name="ContinuationToken">Where the previous page of the range ended (the service's continuation), null for the first.</param>
public sealed record ImportPageRequest(string Source, int Partition, string? ContinuationToken);

/// <summary>What one page activity did.</summary>
/// <param name="Partition">The range read.</param>
/// <param name="ContinuationToken">Where the next page starts; null when the range is read to its end.</param>
/// <param name="Read">Rows read (fence rows included).</param>
/// <param name="Signalled">Restore signals sent (one per counter row; each entity applies it only when it is older).</param>
/// <param name="Skipped">Rows refused by the shared row schema, by rule.</param>
public sealed record ImportPage(int Partition, string? ContinuationToken, int Read, int Signalled, Dictionary<string, int> Skipped);

/// <summary>One partition range's progress.</summary>
public sealed class PartitionProgress
{
    /// <summary>The range (0–63).</summary>
    public int Partition { get; set; }

    /// <summary>Where the next page starts (null with <see cref="Done"/> false: the range's start).</summary>
    public string? ContinuationToken { get; set; }

    /// <summary>True once the range is read to its end.</summary>
    public bool Done { get; set; }

    /// <summary>Pages read.</summary>
    public int Pages { get; set; }

    /// <summary>Rows read.</summary>
    public long Read { get; set; }

    /// <summary>Restore signals sent.</summary>
    public long Signalled { get; set; }

    /// <summary>Rows skipped (all rules).</summary>
    public long Skipped { get; set; }
}

/// <summary>
/// The import's state: the orchestration's input (carried over <c>ContinueAsNew</c>) and, without the continuation
/// tokens, its custom status and output (<see cref="ToStatus"/>). Each page's result is recorded once the activity
/// returned it, and the orchestration's history keeps it: a host restart replays to the last recorded page and reads
/// on from its continuation, so a page is read again only when its activity did not complete (its restores are then
/// sent twice, which changes nothing).
/// </summary>
public sealed class ImportProgress
{
    /// <summary>The source id (<see cref="ImportSource.Id"/>).</summary>
    public string Source { get; set; } = "";

    /// <summary>True when the source is the app's own snapshot table.</summary>
    public bool OwnTable { get; set; }

    /// <summary>When the import started (the orchestration's clock).</summary>
    public DateTimeOffset StartedAt { get; set; }

    /// <summary>When the last range was read to its end; null before.</summary>
    public DateTimeOffset? CompletedAt { get; set; }

    /// <summary>How many times the orchestration continued as new.</summary>
    public int Generation { get; set; }

    /// <summary>The 64 ranges.</summary>
    public List<PartitionProgress> Partitions { get; set; } = [];

    /// <summary>Rows skipped, by rule, over all ranges.</summary>
    public Dictionary<string, long> SkippedByRule { get; set; } = new(StringComparer.Ordinal);

    /// <summary>True when every range is read to its end.</summary>
    public bool Completed => Partitions.TrueForAll(static p => p.Done);

    /// <summary>A new import of <paramref name="source"/>: the 64 ranges from their start.</summary>
    public static ImportProgress Start(string source, bool ownTable, DateTimeOffset at) => new()
    {
        Source = source,
        OwnTable = ownTable,
        StartedAt = at,
        Partitions = [.. Enumerable.Range(0, CounterPartition.Count).Select(static p => new PartitionProgress { Partition = p })],
    };

    /// <summary>The next page of every range not yet done.</summary>
    public List<ImportPageRequest> NextPages() =>
        [.. Partitions.Where(static p => !p.Done).Select(p => new ImportPageRequest(Source, p.Partition, p.ContinuationToken))];

    /// <summary>Records a page the activity returned: the range moves on to its continuation (or is done).</summary>
    public void Record(ImportPage page)
    {
        ArgumentNullException.ThrowIfNull(page);
        var partition = Partitions[page.Partition];
        partition.Pages++;
        partition.Read += page.Read;
        partition.Signalled += page.Signalled;
        partition.ContinuationToken = page.ContinuationToken;
        partition.Done = page.ContinuationToken is null;
        foreach (var (rule, count) in page.Skipped)
        {
            partition.Skipped += count;
            SkippedByRule[rule] = SkippedByRule.GetValueOrDefault(rule) + count;
        }
    }

    /// <summary>The progress as <c>GET /api/manage/import</c> shows it (no continuation tokens: they can be long, and the custom status is bounded).</summary>
    public ImportStatus ToStatus() => new(
        Source,
        StartedAt,
        CompletedAt,
        Partitions.Count(static p => p.Done),
        Partitions.Sum(static p => p.Read),
        Partitions.Sum(static p => p.Signalled),
        Partitions.Sum(static p => p.Skipped),
        new Dictionary<string, long>(SkippedByRule, StringComparer.Ordinal),
        [.. Partitions.Select(static p => new PartitionStatus(p.Partition, p.Done, p.Pages, p.Read, p.Signalled, p.Skipped))]);
}

/// <summary>The import's progress (the orchestration's custom status) and, once completed, its summary (its output).</summary>
/// <param name="Source">The source id.</param>
/// <param name="StartedAt">When the import started.</param>
/// <param name="CompletedAt">When it completed; null while it runs.</param>
/// <param name="PartitionsDone">Ranges read to their end, of 64.</param>
/// <param name="Read">Rows read.</param>
/// <param name="Signalled">Restore signals sent.</param>
/// <param name="Skipped">Rows skipped.</param>
/// <param name="SkippedByRule">Rows skipped, by rule.</param>
/// <param name="Partitions">Per range.</param>
public sealed record ImportStatus(
    string Source, DateTimeOffset StartedAt, DateTimeOffset? CompletedAt, int PartitionsDone, long Read, long Signalled, long Skipped,
    Dictionary<string, long> SkippedByRule, PartitionStatus[] Partitions);

/// <summary>One range in <see cref="ImportStatus"/>.</summary>
/// <param name="Partition">The range (0–63).</param>
/// <param name="Done">Read to its end.</param>
/// <param name="Pages">Pages read.</param>
/// <param name="Read">Rows read.</param>
/// <param name="Signalled">Restore signals sent.</param>
/// <param name="Skipped">Rows skipped.</param>
public sealed record PartitionStatus(int Partition, bool Done, int Pages, long Read, long Signalled, long Skipped);
