using FuncMap.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Import;

/// <summary>
/// <c>POST /api/manage/import</c> starts the import of the configured source (<see cref="ImportSource"/>) into the
/// entities, <c>GET /api/manage/import</c> shows it. Both need the host's master key (<see cref="AuthorizationLevel.Admin"/>).
/// The route is <c>manage/…</c>, not <c>admin/…</c>: the Functions host reserves every route that starts with
/// <c>admin</c> for its own API and refuses to index a function that claims one ("The specified route conflicts with
/// one or more built in routes"), whatever the route prefix.
/// </summary>
public sealed class ImportHttpFunctions(ImportSource source, IOptions<ImportOptions> options, TimeProvider timeProvider, ILogger<ImportHttpFunctions> logger)
{
    /// <summary>The route, below the host's <c>api</c> prefix.</summary>
    public const string Route = "manage/import";

    /// <summary>
    /// 202 with the new import's status and <c>Location</c> <c>/api/manage/import</c>; 200 with the running one's when an
    /// import of this source is already running (one orchestration per source: its instance id is derived from it). An
    /// import that completed, failed or was terminated is started anew (the entities' restore rule makes a rerun change
    /// nothing that is not older).
    /// </summary>
    [Function("CounterImportStart")]
    public async Task<Results<Accepted<ImportView>, Ok<ImportView>>> StartAsync(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = Route)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        var existing = await client.GetInstanceAsync(source.InstanceId, getInputsAndOutputs: false, cancellationToken);
        if (existing is not null && IsRunning(existing.RuntimeStatus))
        {
            Log.ImportAlreadyRunning(logger, source.Id, source.InstanceId);
            return TypedResults.Ok(ImportView.From(source, existing));
        }

        var run = new ImportRun(ImportProgress.Start(source.Id, source.IsOwnTable, timeProvider.GetUtcNow()), options.Value.RoundsPerGeneration);
        await client.ScheduleNewOrchestrationInstanceAsync(ImportOrchestrator.Name, run, new StartOrchestrationOptions(source.InstanceId), cancellationToken);
        Log.ImportStarted(logger, source.Id, source.InstanceId, source.IsOwnTable);
        return TypedResults.Accepted("/api/" + Route, new ImportView(source.InstanceId, source.Id, nameof(OrchestrationRuntimeStatus.Pending), run.Progress.ToStatus(), null, null));
    }

    /// <summary>200 with the import's runtime status, progress (its custom status) and, once completed, summary; 404 (<c>import.notFound</c>) before the first start.</summary>
    [Function("CounterImportStatus")]
    public async Task<Results<Ok<ImportView>, ProblemHttpResult>> GetAsync(
        [HttpTrigger(AuthorizationLevel.Admin, "get", "head", Route = Route)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(client);
        var instance = await client.GetInstanceAsync(source.InstanceId, getInputsAndOutputs: true, cancellationToken);
        return instance is null
            ? TypedResults.Problem(CounterProblems.Create(StatusCodes.Status404NotFound, "No import", $"No import of {source.Id} was started; POST /api/{Route} starts one.", "import.notFound"))
            : TypedResults.Ok(ImportView.From(source, instance));
    }

    internal static bool IsRunning(OrchestrationRuntimeStatus status) => status is OrchestrationRuntimeStatus.Pending
        or OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Suspended;
}

/// <summary>The answer of <c>/api/manage/import</c>.</summary>
/// <param name="InstanceId">The orchestration's instance id.</param>
/// <param name="Source">The source id (<c>{account}/{table}</c>).</param>
/// <param name="RuntimeStatus">Pending, Running, Completed, Failed, Terminated, …</param>
/// <param name="Progress">The progress (the custom status); null before the first round.</param>
/// <param name="Summary">The summary (the output), once completed.</param>
/// <param name="Failure">The failure's message, when it failed.</param>
public sealed record ImportView(string InstanceId, string Source, string RuntimeStatus, ImportStatus? Progress, ImportStatus? Summary, string? Failure)
{
    /// <summary>The view of <paramref name="instance"/>.</summary>
    public static ImportView From(ImportSource source, OrchestrationMetadata instance)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(instance);
        return new(
            instance.InstanceId,
            source.Id,
            instance.RuntimeStatus.ToString(),
            instance.SerializedCustomStatus is null ? null : instance.ReadCustomStatusAs<ImportStatus>(),
            instance.RuntimeStatus == OrchestrationRuntimeStatus.Completed && instance.SerializedOutput is not null ? instance.ReadOutputAs<ImportStatus>() : null,
            instance.FailureDetails?.ErrorMessage);
    }
}
