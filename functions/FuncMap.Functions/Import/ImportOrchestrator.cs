using FuncMap.Functions.Snapshots;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace FuncMap.Functions.Import;

/// <summary>
/// The import of one source table into the counter entities: in rounds, one page activity
/// (<see cref="ImportPageActivity"/>) for each of the 64 partition ranges not yet read to its end, all of a round at
/// once; each page's result moves its range on (<see cref="ImportProgress.Record"/>) as it completes, and the custom
/// status shows the progress from the start, page by page. The history is the checkpoint: a restarted host replays the
/// recorded pages and goes on from their continuation tokens. Every <see cref="ImportOptions.RoundsPerGeneration"/> rounds it continues as new with its
/// progress, so its history stays bounded. At the end, an import of the app's own snapshot table tells the snapshot
/// cursor (<see cref="SnapshotCursor.ImportCompleted"/>), which lifts the snapshot's guard; the output is the summary.
/// </summary>
public static class ImportOrchestrator
{
    /// <summary>The orchestration name.</summary>
    public const string Name = "CounterImport";

    /// <summary>Retries of a page whose activity failed (storage away, the host stopping): 6 attempts, 5 s doubling up to 2 min.</summary>
    private static readonly TaskOptions PageRetry = TaskOptions.FromRetryPolicy(new RetryPolicy(6, TimeSpan.FromSeconds(5), 2, TimeSpan.FromMinutes(2)));

    /// <summary>The orchestrator; input the <see cref="ImportRun"/>.</summary>
    [Function(Name)]
    public static async Task<ImportStatus> RunAsync([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var run = context.GetInput<ImportRun>() ?? throw new InvalidOperationException("An import starts with its ImportRun.");
        var progress = run.Progress;
        context.SetCustomStatus(progress.ToStatus());
        for (var round = 0; round < run.RoundsPerGeneration && !progress.Completed; round++)
        {
            // Each page is recorded as it completes (not once the round's slowest page is done), so the status moves
            // page by page: a table of one page per partition would otherwise show nothing until the import's end.
            var pending = progress.NextPages().Select(page => context.CallActivityAsync<ImportPage>(ImportPageActivity.Name, page, PageRetry)).ToList();
            while (pending.Count > 0)
            {
                var done = await Task.WhenAny(pending);
                pending.Remove(done);
                progress.Record(await done);
                context.SetCustomStatus(progress.ToStatus());
            }
        }

        if (!progress.Completed)
        {
            progress.Generation++;
            context.ContinueAsNew(run);
            return progress.ToStatus();
        }

        progress.CompletedAt = context.CurrentUtcDateTime;
        if (progress.OwnTable)
        {
            await context.Entities.SignalEntityAsync(SnapshotCursor.Id, nameof(SnapshotCursor.ImportCompleted), new DateTimeOffset(context.CurrentUtcDateTime, TimeSpan.Zero));
        }

        var summary = progress.ToStatus();
        context.SetCustomStatus(summary);
        return summary;
    }
}

/// <summary>The orchestration's input: the progress so far and the rounds per generation (fixed at the start, so a replay is deterministic).</summary>
/// <param name="Progress">The progress.</param>
/// <param name="RoundsPerGeneration">Rounds before the orchestration continues as new.</param>
public sealed record ImportRun(ImportProgress Progress, int RoundsPerGeneration);

/// <summary>The page activity: <see cref="ImportPageReader"/> on the configured source.</summary>
public sealed class ImportPageActivity(ImportSource source, ImportPageReader reader)
{
    /// <summary>The activity name.</summary>
    public const string Name = "CounterImportPage";

    /// <summary>Reads and signals one page; refuses a page of another source (the settings changed under a running import).</summary>
    [Function(Name)]
    public Task<ImportPage> RunAsync([ActivityTrigger] ImportPageRequest request, [DurableClient] DurableTaskClient client, FunctionContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(context);
        return !string.Equals(request.Source, source.Id, StringComparison.Ordinal)
            ? throw new InvalidOperationException($"The import of {request.Source} is running, but the settings now name {source.Id}; terminate it or restore the settings.")
            : reader.ReadAsync(source.Table, request, client.Entities, context.CancellationToken);
    }
}
