using System.Collections.Concurrent;
using System.Diagnostics;
using FuncMap.Journal;
using FuncMap.Telemetry;
using FuncMap.Testing;

namespace FuncMap.Local.Storage.Tests;

/// <summary>The storage spans on Azurite: a queue batch (linked from the applies it carried), a snapshot run, the restore.</summary>
[Collection(StorageTestGroup.Name)]
public sealed class TelemetrySpanTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task QueueBatchSnapshotAndRestore_EachExportsItsSpanWithCountsAndNoKey()
    {
        // A listener of the FuncMap sources alone, as an exporter's would be; the collection runs its tests one at a time.
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = static source => source.Name is FuncMapTelemetry.Storage or FuncMapTelemetry.Engine,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var key = "span-" + Guid.NewGuid().ToString("N");
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await setup.Queue.CreateIfNotExistsAsync();
        await setup.Queue.SendMessageAsync(IngestionTests.Batch("b-" + key, (key + "-a", 2), (key + "-b", 3)));

        await using (var host = setup.Start())
        {
            await host.WaitReadyAsync();
            await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "the queue to be drained");
            await host.WaitForSnapshotAsync();
        }

        // The batch's applies link to its span.
        var batch = Assert.Single(spans, s => s.OperationName == FuncMapTelemetry.QueueBatchSpan);
        Assert.Equal(ActivityKind.Consumer, batch.Kind);
        Assert.Equal(1, batch.GetTagItem(FuncMapTelemetry.ItemsTag));
        Assert.Contains(spans, s => s.OperationName == FuncMapTelemetry.ApplySpan && s.Links.Any(l => l.Context.SpanId == batch.SpanId));
        // The run that wrote the two rows.
        Assert.Contains(spans, s => s.OperationName == FuncMapTelemetry.SnapshotSpan && s.GetTagItem(FuncMapTelemetry.RowsTag) is 2L
            && s.GetTagItem(FuncMapTelemetry.OutcomeTag) is "success" && s.Status != ActivityStatusCode.Error);

        await using (var restarted = setup.Start())
        {
            await restarted.WaitReadyAsync();
            Assert.Equal(5, (await restarted.GetAsync(key + "-a"))!.Value + (await restarted.GetAsync(key + "-b"))!.Value);
        }

        var restores = spans.Where(s => s.OperationName == FuncMapTelemetry.RestoreSpan).ToList();
        Assert.Equal([0L, 2L], restores.Select(s => (long)s.GetTagItem(FuncMapTelemetry.RowsTag)!).Order());
        Assert.All(spans.SelectMany(s => s.TagObjects), t => Assert.DoesNotContain(key, t.Value?.ToString() ?? string.Empty, StringComparison.Ordinal));
    }
}
