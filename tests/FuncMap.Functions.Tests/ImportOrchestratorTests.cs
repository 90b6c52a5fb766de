using FuncMap.Functions.Import;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Entities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FuncMap.Functions.Tests;

/// <summary>
/// The import orchestration's progress (issue 20, item 1: <c>GET /api/manage/import</c> shows rows read per partition):
/// the custom status is set when the import starts and again as each page completes, not once per round. Driven by an
/// orchestration context whose activities complete when the test says.
/// </summary>
public sealed class ImportOrchestratorTests
{
    private const string Source = "devstoreaccount1/counters";

    [Fact]
    public async Task Status_MovesPageByPage_AndTheSummaryCountsEveryPage()
    {
        var context = new ManualOrchestrationContext(new ImportRun(ImportProgress.Start(Source, ownTable: false, DateTimeOffset.UnixEpoch), RoundsPerGeneration: 16));

        var run = ImportOrchestrator.RunAsync(context);

        var started = Assert.IsType<ImportStatus>(context.Statuses.Single());
        Assert.Equal((0, 0L), (started.PartitionsDone, started.Read));
        Assert.Equal(64, context.ActivityCount);

        // One page of one partition completes while the other 63 still run: the status shows it at once.
        context.Complete(7, new ImportPage(7, ContinuationToken: null, Read: 10, Signalled: 9, Skipped: new() { ["row.version"] = 1 }));
        var afterOne = Assert.IsType<ImportStatus>(context.Statuses[^1]);
        Assert.Equal((1, 10L, 9L, 1L), (afterOne.PartitionsDone, afterOne.Read, afterOne.Signalled, afterOne.Skipped));
        Assert.False(run.IsCompleted);

        foreach (var partition in Enumerable.Range(0, 64).Where(p => p != 7))
        {
            context.Complete(partition, new ImportPage(partition, ContinuationToken: null, Read: 2, Signalled: 2, Skipped: []));
        }

        var summary = await run;
        Assert.Equal((64, 10L + (63 * 2), 9L + (63 * 2), 1L), (summary.PartitionsDone, summary.Read, summary.Signalled, summary.Skipped));
        Assert.Equal(1 + 64, context.Statuses.Count(s => s is ImportStatus { CompletedAt: null }));
    }

    /// <summary>An orchestration context whose activity calls return tasks the test completes; records the custom statuses.</summary>
    private sealed class ManualOrchestrationContext(ImportRun input) : TaskOrchestrationContext
    {
        private readonly Dictionary<int, TaskCompletionSource<ImportPage>> _pages = [];

        public List<object?> Statuses { get; } = [];

        public int ActivityCount => _pages.Count;

        public override TaskName Name => ImportOrchestrator.Name;

        public override string InstanceId => "import-test";

        public override ParentOrchestrationInstance? Parent => null;

        public override DateTime CurrentUtcDateTime => DateTime.UnixEpoch;

        public override bool IsReplaying => false;

        public override TaskOrchestrationEntityFeature Entities => throw new NotSupportedException();

        protected override ILoggerFactory LoggerFactory => NullLoggerFactory.Instance;

        public void Complete(int partition, ImportPage page) => _pages[partition].SetResult(page);

        public override T GetInput<T>() => (T)(object)input;

        public override Task<TResult> CallActivityAsync<TResult>(TaskName name, object? input = null, TaskOptions? options = null)
        {
            var request = Assert.IsType<ImportPageRequest>(input);
            var page = new TaskCompletionSource<ImportPage>();
            _pages.Add(request.Partition, page);
            return (Task<TResult>)(object)page.Task;
        }

        public override void SetCustomStatus(object? customStatus) => Statuses.Add(customStatus);

        public override Task CreateTimer(DateTime fireAt, CancellationToken cancellationToken) => throw new NotSupportedException();

        public override Task<T> WaitForExternalEvent<T>(string eventName, CancellationToken cancellationToken = default) => throw new NotSupportedException();

        public override void SendEvent(string instanceId, string eventName, object payload) => throw new NotSupportedException();

        public override Task<TResult> CallSubOrchestratorAsync<TResult>(TaskName orchestratorName, object? input = null, TaskOptions? options = null) => throw new NotSupportedException();

        public override void ContinueAsNew(object? newInput = null, bool preserveUnprocessedEvents = true) => throw new NotSupportedException();

        public override Guid NewGuid() => Guid.NewGuid();
    }
}
