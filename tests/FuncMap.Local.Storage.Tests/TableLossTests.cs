using Azure;
using FuncMap.Counters;
using FuncMap.Journal;
using FuncMap.Storage;
using FuncMap.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FuncMap.Local.Storage.Tests;

/// <summary>Issue 19, item 2: the Counters table deleted (or one partition emptied) under a running host is re-created with every live counter.</summary>
[Collection(StorageTestGroup.Name)]
public sealed class TableLossTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task CountersTableDeletedWhileRunning_NextSnapshotRecreatesItWithEveryLiveCounter_RestartRestoresThem()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        var logs = new CapturedLogs();
        await using (var host = setup.Start(services: s => s.AddSingleton<ILoggerProvider>(logs)))
        {
            await host.WaitReadyAsync();
            await host.AddAsync("t:a", 1, idempotencyKey: "loss-a");
            await host.AddAsync("t:b", 2);
            await host.WaitForSnapshotAsync();
            Assert.Equal(2, (await setup.ReadTableAsync()).Count);

            await setup.Table.DeleteAsync();
            await host.AddAsync("t:c", 3); // a change: the next snapshot's write finds the table gone

            await Eventually.TrueAsync(async () => !host.Snapshots.RewritePending && await CountRowsAsync(setup) == 3, "the table re-created with every live counter");
            Assert.Equal([("t:a", 1L), ("t:b", 2L), ("t:c", 3L)], await ValuesAsync(setup));
            Assert.Equal(64, await CountFencesAsync(setup));
            // The unchanged t:a is rewritten with its operation window: a retry of its add after the next start, even
            // from the table alone, is a replay, not a second +1.
            var rowA = (await setup.ReadTableAsync()).Values.Select(CounterRows.FromEntity).Single(static r => r.Key == "t:a");
            Assert.Contains(rowA.OperationIds!, static id => id.StartsWith("loss-a\t", StringComparison.Ordinal));
            Assert.Equal(LogLevel.Critical, Assert.Single(logs.Events(1470)).Level); // lost once, rewritten once
            Assert.Single(logs.Events(1472));
        }

        await using var restarted = setup.Start();
        await restarted.WaitReadyAsync();
        Assert.Equal((1L, 2L, 3L), ((await restarted.GetAsync("t:a"))!.Value, (await restarted.GetAsync("t:b"))!.Value, (await restarted.GetAsync("t:c"))!.Value));
        Assert.Equal(1L, (await restarted.AddAsync("t:a", 1, idempotencyKey: "loss-a")).Value);
    }

    [Fact]
    public async Task CountersTableDeleted_ThenGracefulStopWithoutChanges_FinalSnapshotRewritesEveryCounter_RestartRestoresThem()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await using (var host = setup.Start(static s => s["FuncMap:Storage:SnapshotInterval"] = "01:00:00"))
        {
            await host.WaitReadyAsync();
            await host.AddAsync("s:a", 5);
            await host.AddAsync("s:b", 6);
            Assert.True(await host.Snapshots.SnapshotNowAsync(CancellationToken.None));
            await setup.Table.DeleteAsync();
        }

        // The stop found the table gone although nothing had changed, re-created it and rewrote both counters.
        Assert.Equal([("s:a", 5L), ("s:b", 6L)], await ValuesAsync(setup));
        await using var restarted = setup.Start();
        await restarted.WaitReadyAsync();
        Assert.Equal((5L, 6L), ((await restarted.GetAsync("s:a"))!.Value, (await restarted.GetAsync("s:b"))!.Value));
    }

    [Fact]
    public async Task PartitionEmptiedWhileOtherPartitionsKeepChanging_FoundWithinEightRuns_ItsCounterRewritten()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await using var host = setup.Start(static s => s["FuncMap:Storage:SnapshotInterval"] = "01:00:00");
        await host.WaitReadyAsync();
        const string Quiet = "e:quiet";
        var busy = Enumerable.Range(0, 100).Select(static i => "e:busy" + i).First(static k => CounterPartition.Of(k) != CounterPartition.Of(Quiet));
        await host.AddAsync(Quiet, 7);
        await host.AddAsync(busy, 1);
        Assert.True(await host.Snapshots.SnapshotNowAsync(CancellationToken.None));

        // An operator empties the quiet counter's partition, fence included; only the other partition changes from now on.
        var partition = CounterPartition.KeyOf(Quiet);
        await foreach (var row in setup.Table.QueryAsync<Azure.Data.Tables.TableEntity>(e => e.PartitionKey == partition))
        {
            await setup.Table.DeleteEntityAsync(row.PartitionKey, row.RowKey);
        }

        var runs = 0;
        while (!(await setup.ReadTableAsync()).Values.Select(CounterRows.FromEntity).Any(static r => r.Key == Quiet))
        {
            Assert.True(++runs <= (CounterPartition.Count / 8) + 1, $"partition {partition} not found emptied within {runs - 1} runs");
            await host.AddAsync(busy, 1);
            await host.Snapshots.SnapshotNowAsync(CancellationToken.None);
        }

        Assert.Equal(7L, (await setup.ReadTableAsync()).Values.Select(CounterRows.FromEntity).Single(static r => r.Key == Quiet).Value);
        Assert.Equal(64, await CountFencesAsync(setup));
    }

    private static async Task<int> CountRowsAsync(StorageSetup setup)
    {
        try
        {
            return (await setup.ReadTableAsync()).Count;
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return -1; // not re-created yet
        }
    }

    private static async Task<List<(string Key, long Value)>> ValuesAsync(StorageSetup setup) =>
        [.. (await setup.ReadTableAsync()).Select(static r => (r.Key, r.Value.GetInt64(CounterRows.Value)!.Value)).OrderBy(static r => r.Key, StringComparer.Ordinal)];

    private static async Task<int> CountFencesAsync(StorageSetup setup)
    {
        var fences = 0;
        await foreach (var row in setup.Table.QueryAsync<Azure.Data.Tables.TableEntity>())
        {
            fences += CounterFence.IsFence(row) ? 1 : 0;
        }

        return fences;
    }
}
