using FuncMap.Counters;
using FuncMap.Testing;

namespace FuncMap.Storage.Tests;

/// <summary>The snapshot writer both hosts use, against a real Azurite.</summary>
[Collection(AzuriteTests.Name)]
public sealed class CounterSnapshotWriterTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset At = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task WriteAsync_MoreThan100RowsInOnePartition_SplitsIntoTransactionsOfAtMost100PerPartition()
    {
        var table = await azurite.NewTableAsync("snap");
        var partition = CounterPartition.KeyOf("hot:0");
        // 250 keys of one partition (the service refuses a transaction over 100) and one key of each other partition.
        var hot = TestKeys.InPartition(partition, 250, "hot:");
        var others = Enumerable.Range(0, 10_000).Select(static i => "o:" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .GroupBy(CounterPartition.KeyOf).Where(g => g.Key != partition).Select(static g => g.First()).ToList();
        Assert.Equal(CounterPartition.Count - 1, others.Count);

        var result = await new CounterSnapshotWriter(table, 8).WriteAsync(
            hot.Concat(others).Select((k, i) => new CounterRow(k, i, 1, At, ["op-" + k])), CancellationToken.None);

        Assert.Equal(new SnapshotWriteResult(Upserted: 250 + 63, Deleted: 0, Transactions: 3 + 63), result);
        var rows = await table.ReadCounterRowsAsync();
        Assert.Equal(250 + 63, rows.Count);
        Assert.Equal(hot.Count, rows.Values.Count(r => CounterPartition.KeyOf(r.Key) == partition));
        Assert.Equal(new[] { "op-" + hot[249] }, rows[hot[249]].OperationIds);
    }

    [Fact]
    public async Task WriteAsync_DeletedCounters_RemovesTheirRowsAndARowAlreadyGoneIsDone()
    {
        var table = await azurite.NewTableAsync("snap");
        var writer = new CounterSnapshotWriter(table, 2);
        await writer.WriteAsync([new CounterRow("a", 1, 1, At, null), new CounterRow("b", 2, 1, At, null)], CancellationToken.None);

        // "a" exists, "never" was never written, "b" is upserted again: one transaction per partition, none fails.
        var result = await writer.WriteAsync(
            [new CounterRow("a", 0, 2, At, null, Exists: false), new CounterRow("never", 0, 3, At, null, Exists: false), new CounterRow("b", 5, 2, At, null)],
            CancellationToken.None);

        Assert.Equal((1, 2), (result.Upserted, result.Deleted));
        var rows = await table.ReadCounterRowsAsync();
        Assert.Equal(["b"], rows.Keys);
        Assert.Equal(5, rows["b"].Value);
    }

    [Fact]
    public async Task WriteAsync_SameKeyTwice_LastWins()
    {
        var table = await azurite.NewTableAsync("snap");

        var result = await new CounterSnapshotWriter(table, 1).WriteAsync([new CounterRow("k", 1, 1, At, null), new CounterRow("k", 2, 2, At, null)], CancellationToken.None);

        Assert.Equal(new SnapshotWriteResult(1, 0, 1), result);
        Assert.Equal(2, (await table.ReadCounterRowsAsync())["k"].Value);
    }

    [Fact]
    public async Task WriteAsync_ServiceRefusesOneRow_FailureNamesThatRowAndErrorCode_NothingOfItsTransactionWritten()
    {
        var table = await azurite.NewTableAsync("snap");
        var partition = CounterPartition.KeyOf("bad");
        var keys = TestKeys.InPartition(partition, 9, "n:");
        // A string column over 64 KiB: the service refuses that one action of the transaction.
        var rows = keys.Select(k => new CounterRow(k, 1, 1, At, null)).ToList();
        rows.Insert(4, new CounterRow("bad", 1, 1, At, [new string('x', 40_000)]));

        var failure = await Assert.ThrowsAsync<CounterRowWriteException>(() => new CounterSnapshotWriter(table, 1).WriteAsync(rows, CancellationToken.None));

        Assert.Equal((partition, "bad"), (failure.PartitionKey, failure.RowKey));
        Assert.False(string.IsNullOrEmpty(failure.ErrorCode));
        Assert.Contains($"({partition}, bad)", failure.Message, StringComparison.Ordinal);
        Assert.Contains(failure.ErrorCode!, failure.Message, StringComparison.Ordinal);
        Assert.False(StorageFailures.IsTransient(failure));
        Assert.Empty(await table.ReadCounterRowsAsync());
    }

    [Fact]
    public async Task WriteAsync_FencedByNewerEpoch_OlderWriterRefusedAndChangesNoRow()
    {
        var table = await azurite.NewTableAsync("snap");
        var old = new CounterSnapshotWriter(table, 4);
        await old.RaiseFencesAsync(1, CancellationToken.None);
        await old.WriteAsync([new CounterRow("k", 1, 1, At, ["a"]), new CounterRow("gone", 5, 5, At, null)], CancellationToken.None);
        Assert.Equal(1, (await table.ReadCounterRowsAsync())["k"].Epoch);

        // A newer owner raises every fence before it reads the table; from then on the old writer changes nothing.
        var next = new CounterSnapshotWriter(table, 4);
        await next.RaiseFencesAsync(2, CancellationToken.None);
        var refused = await Assert.ThrowsAsync<CounterFencedException>(() =>
            old.WriteAsync([new CounterRow("k", 6, 2, At, ["b"]), new CounterRow("gone", 0, 6, At, null, Exists: false)], CancellationToken.None));
        Assert.Equal((1L, 2L), (refused.Epoch, refused.FenceEpoch));
        Assert.False(StorageFailures.IsTransient(refused));
        var rows = await table.ReadCounterRowsAsync();
        Assert.Equal((1L, 1L, 1L), (rows["k"].Value, rows["k"].Version, rows["k"].Epoch));
        Assert.True(rows.ContainsKey("gone"));

        await next.WriteAsync([new CounterRow("k", 101, 2, At, ["c"])], CancellationToken.None);
        rows = await table.ReadCounterRowsAsync();
        Assert.Equal((101L, 2L, 2L), (rows["k"].Value, rows["k"].Version, rows["k"].Epoch));
        await Assert.ThrowsAsync<CounterFencedException>(() => old.RaiseFencesAsync(1, CancellationToken.None));
    }

    [Fact]
    public async Task WriteAsync_FencedWithMoreThan99RowsInOnePartition_EveryTransactionCarriesTheFence()
    {
        var table = await azurite.NewTableAsync("snap");
        var partition = CounterPartition.KeyOf("hot:0");
        var hot = TestKeys.InPartition(partition, 199, "hot:");
        var writer = new CounterSnapshotWriter(table, 2);
        await writer.RaiseFencesAsync(3, CancellationToken.None);

        var result = await writer.WriteAsync(hot.Select((k, i) => new CounterRow(k, i, 1, At, null)), CancellationToken.None);
        result = await writer.WriteAsync(hot.Select((k, i) => new CounterRow(k, i, 2, At, null)), CancellationToken.None);

        Assert.Equal(new SnapshotWriteResult(Upserted: 199, Deleted: 0, Transactions: 3), result); // 99 + 99 + 1 rows, each with the fence
        var rows = await table.ReadCounterRowsAsync();
        Assert.Equal(199, rows.Count);
        Assert.All(rows.Values, static r => Assert.Equal((2L, 3L), (r.Version, r.Epoch)));
    }
}
