using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using FuncMap.Counters;
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

    /// <summary>
    /// One snapshot's rows in two partitions, each row decided on its own stored row: in one partition a newer stored row
    /// is kept and an older one replaced; in the other a missing row is added, an older row of a deleted counter is
    /// deleted and a row at the entity's version is kept. Each partition's rows are read with one range query, no point read.
    /// </summary>
    [Fact]
    public async Task WriteAsync_RowsInTwoPartitions_DecidesEachOnItsPartitionsRows_WithOneRangeQueryEach()
    {
        var table = await azurite.NewTableAsync("guard");
        var (first, second) = (KeysIn(partition: 5, count: 2), KeysIn(partition: 41, count: 3));
        await new CounterSnapshotWriter(table, 1).WriteAsync(
            [
                new CounterRow(first[0], 90, 9, At, null), new CounterRow(first[1], 10, 1, At, null),
                new CounterRow(second[1], 20, 2, At, null), new CounterRow(second[2], 30, 3, At, null),
            ],
            CancellationToken.None);
        var requests = new RequestCount();
        var guard = new NewerRowGuard(Counted(table.Name, requests), 2);

        var result = await guard.WriteAsync(
            [
                new CounterRow(first[0], 50, 5, At, null), new CounterRow(first[1], 60, 6, At, null),
                new CounterRow(second[0], 7, 1, At, null), new CounterRow(second[1], 0, 4, At, null, Exists: false), new CounterRow(second[2], 31, 3, At, null),
            ],
            CancellationToken.None);

        Assert.Equal(new GuardedWriteResult(Upserted: 2, Deleted: 1, Kept: 2), result);
        var rows = await table.ReadCounterRowsAsync();
        Assert.Equal(
            new[] { (first[0], 90L, 9L), (first[1], 60L, 6L), (second[0], 7L, 1L), (second[2], 30L, 3L) }.OrderBy(static row => row.Item1, StringComparer.Ordinal),
            rows.Values.Select(static row => (row.Key, row.Value, row.Version)).OrderBy(static row => row.Key, StringComparer.Ordinal));
        Assert.Equal((RangeQueries: 2, PointReads: 0), (requests.RangeQueries, requests.PointReads));
    }

    /// <summary>
    /// A chunk whose two keys have more than two pages of other rows between them: the range query reads the page that
    /// reaches the first key and the next one, which reaches none, then reads the last key by itself. Both are written.
    /// </summary>
    [Fact]
    public async Task WriteAsync_ChunkSpreadOverMoreThanTwoPages_EndsTheRangeQueryAndPointReadsTheRest()
    {
        var table = await azurite.NewTableAsync("guard");
        var keys = KeysIn(partition: 17, count: (2 * NewerRowGuard.RangePageSize) + 100);
        await new CounterSnapshotWriter(table, 4).WriteAsync(keys.Select(static key => new CounterRow(key, 1, 1, At, null)), CancellationToken.None);
        var requests = new RequestCount();
        var guard = new NewerRowGuard(Counted(table.Name, requests), 1);

        var result = await guard.WriteAsync([new CounterRow(keys[0], 5, 2, At, null), new CounterRow(keys[^1], 6, 2, At, null)], CancellationToken.None);

        Assert.Equal(new GuardedWriteResult(Upserted: 2, Deleted: 0, Kept: 0), result);
        var rows = await table.ReadCounterRowsAsync();
        Assert.Equal((5L, 2L, 6L, 2L), (rows[keys[0]].Value, rows[keys[0]].Version, rows[keys[^1]].Value, rows[keys[^1]].Version));
        Assert.Equal((RangeQueries: 2, PointReads: 1), (requests.RangeQueries, requests.PointReads));
    }

    /// <summary><paramref name="count"/> distinct keys that <see cref="CounterPartition.KeyOf"/> puts in <paramref name="partition"/>, in ordinal order.</summary>
    private static string[] KeysIn(int partition, int count) =>
        [.. Enumerable.Range(0, int.MaxValue).Select(static i => "guard-" + i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture))
            .Where(key => CounterPartition.KeyOf(key) == CounterPartition.Name(partition)).Take(count).Order(StringComparer.Ordinal)];

    private TableClient Counted(string name, RequestCount requests)
    {
        var options = StorageClientDefaults.Tables();
        options.AddPolicy(requests, HttpPipelinePosition.PerCall);
        return new TableClient(azurite.ConnectionString, name, options);
    }

    /// <summary>Counts the entity reads a client sends: queries (a <c>$filter</c>) and point reads (<c>(PartitionKey=…,RowKey=…)</c>).</summary>
    private sealed class RequestCount : HttpPipelinePolicy
    {
        private int _rangeQueries;
        private int _pointReads;

        public int RangeQueries => Volatile.Read(ref _rangeQueries);

        public int PointReads => Volatile.Read(ref _pointReads);

        public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            if (message.Request.Method == RequestMethod.Get)
            {
                var uri = message.Request.Uri.ToUri();
                if (uri.AbsolutePath.Contains("(PartitionKey=", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _pointReads);
                }
                else if (uri.Query.Contains("%24filter=", StringComparison.OrdinalIgnoreCase) || uri.Query.Contains("$filter=", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _rangeQueries);
                }
            }

            return ProcessNextAsync(message, pipeline);
        }

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
            throw new NotSupportedException("The guard reads asynchronously.");
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
