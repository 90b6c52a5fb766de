using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using FuncMap.Functions.Snapshots;
using FuncMap.Storage;
using FuncMap.Testing;

namespace FuncMap.Functions.Tests;

/// <summary>
/// The guard's writes are conditional on what it read (issue 20, item 2), against a real Azurite: another writer
/// changes the row between the guard's read and its transaction, and the guard must not write over it.
/// </summary>
[Collection(AzuriteTests.Name)]
public sealed class NewerRowGuardTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset At = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A client whose first entity group transaction is preceded by <paramref name="race"/> (another writer's write).</summary>
    private TableClient RacedTable(string name, Func<Task> race)
    {
        var options = StorageClientDefaults.Tables();
        options.AddPolicy(new BeforeFirstBatchPolicy(race), HttpPipelinePosition.PerCall);
        return new TableClient(azurite.ConnectionString, name, options);
    }

    [Fact]
    public async Task WriteAsync_RowReplacedByANewerOneAfterTheRead_KeepsTheNewerRow()
    {
        var other = await azurite.NewTableAsync("guard");
        var otherWriter = new CounterSnapshotWriter(other, 1);
        await otherWriter.WriteAsync([new CounterRow("raced", 10, 2, At, null)], CancellationToken.None);
        var guard = new NewerRowGuard(RacedTable(other.Name, () => otherWriter.WriteAsync([new CounterRow("raced", 77, 9, At, null)], CancellationToken.None)), 1);

        var result = await guard.WriteAsync([new CounterRow("raced", 11, 3, At, null)], CancellationToken.None);

        Assert.Equal(new GuardedWriteResult(0, 0, 1), result);
        var row = (await other.ReadCounterRowsAsync())["raced"];
        Assert.Equal((77L, 9L), (row.Value, row.Version));
    }

    [Fact]
    public async Task WriteAsync_RowAddedByAnotherWriterAfterTheRead_KeepsItsRow()
    {
        var other = await azurite.NewTableAsync("guard");
        var otherWriter = new CounterSnapshotWriter(other, 1);
        var guard = new NewerRowGuard(RacedTable(other.Name, () => otherWriter.WriteAsync([new CounterRow("new", 40, 4, At, null)], CancellationToken.None)), 1);

        var result = await guard.WriteAsync([new CounterRow("new", 1, 1, At, null)], CancellationToken.None);

        Assert.Equal(new GuardedWriteResult(0, 0, 1), result);
        var row = (await other.ReadCounterRowsAsync())["new"];
        Assert.Equal((40L, 4L), (row.Value, row.Version));
    }

    [Fact]
    public async Task WriteAsync_RowChangedToAnOlderOneAfterTheRead_WritesAfterReadingAgain()
    {
        var other = await azurite.NewTableAsync("guard");
        var otherWriter = new CounterSnapshotWriter(other, 1);
        await otherWriter.WriteAsync([new CounterRow("raced", 10, 2, At, null)], CancellationToken.None);
        var guard = new NewerRowGuard(RacedTable(other.Name, () => otherWriter.WriteAsync([new CounterRow("raced", 12, 3, At, null)], CancellationToken.None)), 1);

        var result = await guard.WriteAsync([new CounterRow("raced", 50, 5, At, null)], CancellationToken.None);

        Assert.Equal(new GuardedWriteResult(1, 0, 0), result);
        var row = (await other.ReadCounterRowsAsync())["raced"];
        Assert.Equal((50L, 5L), (row.Value, row.Version));
    }

    /// <summary>Runs a write of another client once, just before the first <c>$batch</c> request goes out.</summary>
    private sealed class BeforeFirstBatchPolicy(Func<Task> race) : HttpPipelinePolicy
    {
        private int _raced;

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            if (message.Request.Uri.Path.EndsWith("$batch", StringComparison.Ordinal) && Interlocked.Exchange(ref _raced, 1) == 0)
            {
                await race();
            }

            await ProcessNextAsync(message, pipeline);
        }

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
            throw new NotSupportedException("The guard writes asynchronously.");
    }
}
