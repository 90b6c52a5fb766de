using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Functions.Snapshots;
using Microsoft.DurableTask.Entities;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

public class CounterSnapshotterTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private readonly FakeEntityClient _entities = new();
    private readonly FakeTableServiceClient _tables = new();
    private readonly ManualTimeProvider _time = new(Start);
    private readonly FuncMapFunctionsOptions _options = new() { SnapshotOverlap = TimeSpan.FromMinutes(2), TombstoneRetention = TimeSpan.FromHours(1) };

    private CounterSnapshotter CreateSnapshotter() =>
        new(_tables, _time, Options.Create(_options), new FunctionsMetrics(new TestMeterFactory()), NullLogger<CounterSnapshotter>.Instance);

    private void PutCounter(string key, long value, long version, bool exists = true, DateTimeOffset? updatedAt = null, DateTimeOffset? lastModified = null)
    {
        var state = new CounterState { Value = value, Version = version, Exists = exists, UpdatedAt = updatedAt ?? Start.AddMinutes(-1) };
        _entities.Entities[Counter.IdOf(key)] = (state, lastModified ?? state.UpdatedAt);
    }

    [Fact]
    public async Task RunAsync_FirstRun_WritesEveryLiveCounterAsTheContractRow()
    {
        PutCounter("page:home", 5, 3);
        PutCounter("page:cart", -1, 1);

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Null(result.Since);
        Assert.Equal(2, result.Upserted);
        var row = _tables.Table.Rows[(CounterPartition.KeyOf("page:home"), "page:home")];
        Assert.Equal(5L, row["Value"]);
        Assert.Equal(3L, row["Version"]);
        Assert.Equal(Start.AddMinutes(-1), row["UpdatedAt"]);
        Assert.Equal(2, _tables.Table.Rows.Count);
    }

    [Fact]
    public async Task RunAsync_CounterWithOperationIds_RowCarriesThemNewlineSeparated()
    {
        var state = new CounterState { Value = 2, Version = 2, Exists = true, UpdatedAt = Start, RecentOperationIds = ["op-1", "batch 7"] };
        _entities.Entities[Counter.IdOf("k")] = (state, Start);
        PutCounter("no-ids", 1, 1);

        await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal("op-1\nbatch 7", _tables.Table.Rows[(CounterPartition.KeyOf("k"), "k")]["OperationIds"]);
        Assert.False(_tables.Table.Rows[(CounterPartition.KeyOf("no-ids"), "no-ids")].ContainsKey("OperationIds"));
    }

    [Fact]
    public async Task RunAsync_ManyCountersInOnePartition_TransactionsOfAtMost100RowsOfOnePartition()
    {
        var keys = Enumerable.Range(0, 100_000).Select(i => $"k{i}").Where(k => CounterPartition.KeyOf(k) == "07").Take(250).ToList();
        foreach (var key in keys)
        {
            PutCounter(key, 1, 1);
        }

        await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal(250, _tables.Table.Rows.Count);
        Assert.Equal<int>([100, 100, 50], _tables.Table.Transactions.Select(t => t.Count).ToArray());
    }

    [Fact]
    public async Task RunAsync_AfterARun_QueriesFromPreviousStartMinusOverlap()
    {
        _entities.Entities[SnapshotCursor.Id] = (new SnapshotCursorState { LastRunStartedAt = Start.AddMinutes(-1) }, Start);
        PutCounter("old", 1, 1, lastModified: Start.AddMinutes(-10));
        PutCounter("recent", 2, 1, lastModified: Start.AddMinutes(-2));

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal(Start.AddMinutes(-3), result.Since);
        Assert.Equal(Start.AddMinutes(-3), _entities.Queries.Single().LastModifiedFrom);
        Assert.Equal("@counter@", _entities.Queries.Single().InstanceIdStartsWith);
        Assert.Equal<string>(["recent"], _tables.Table.Rows.Keys.Select(k => k.Row).ToArray());
    }

    [Fact]
    public async Task RunAsync_Completed_AdvancesCursorToItsStart()
    {
        await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        var advance = Assert.Single(_entities.Signals, s => s.Id == SnapshotCursor.Id);
        Assert.Equal(nameof(SnapshotCursor.Advance), advance.Operation);
        Assert.Equal(Start, advance.Input);
    }

    [Fact]
    public async Task RunAsync_DeletedCounter_DeletesRowAndSchedulesPurgeAfterRetention()
    {
        var deletedAt = Start.AddMinutes(-5);
        _tables.Table.Rows[(CounterPartition.KeyOf("gone"), "gone")] = new Azure.Data.Tables.TableEntity(CounterPartition.KeyOf("gone"), "gone");
        PutCounter("gone", 0, 4, exists: false, updatedAt: deletedAt);

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal(1, result.Deleted);
        Assert.Empty(_tables.Table.Rows);
        var purge = Assert.Single(_entities.Signals, s => s.Operation == CounterOperations.Purge);
        Assert.Equal(Counter.IdOf("gone"), purge.Id);
        Assert.Equal(4L, purge.Input);
        Assert.Equal(deletedAt + _options.TombstoneRetention, purge.Options!.SignalTime);
    }

    [Fact]
    public async Task RunAsync_TombstoneOlderThanRetention_PurgesAtOnce()
    {
        PutCounter("gone", 0, 4, exists: false, updatedAt: Start.AddHours(-2));

        await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        var purge = Assert.Single(_entities.Signals, s => s.Operation == CounterOperations.Purge);
        Assert.Null(purge.Options);
    }

    [Fact]
    public async Task RunAsync_TombstoneWhoseRowIsAlreadyGone_CompletesAndAdvancesCursor()
    {
        PutCounter("gone", 0, 4, exists: false);

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal(1, result.Deleted);
        Assert.Equal<(string, string)>([(CounterPartition.KeyOf("gone"), "gone")], _tables.Table.Deletes);
        Assert.Single(_entities.Signals, s => s.Id == SnapshotCursor.Id);
    }

    [Fact]
    public async Task RunAsync_TableFails_ThrowsWithoutAdvancingCursor()
    {
        PutCounter("a", 1, 1);
        _entities.FailSignalsWith = null;
        var failing = new FailingTableServiceClient();
        var snapshotter = new CounterSnapshotter(failing, _time, Options.Create(_options), new FunctionsMetrics(new TestMeterFactory()), NullLogger<CounterSnapshotter>.Instance);

        await Assert.ThrowsAsync<Azure.RequestFailedException>(() => snapshotter.RunAsync(_entities, CancellationToken.None));

        Assert.DoesNotContain(_entities.Signals, s => s.Id == SnapshotCursor.Id);
    }

    [Fact]
    public async Task RunAsync_OtherEntityKinds_NotWrittenAsCounters()
    {
        _entities.Entities[new EntityInstanceId("snapshotcursor", "counters")] = (new SnapshotCursorState(), Start);
        PutCounter("a", 1, 1);

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal(1, result.Upserted);
    }

    private sealed class FailingTableServiceClient : Azure.Data.Tables.TableServiceClient
    {
        public override Azure.Data.Tables.TableClient GetTableClient(string tableName) => new FailingTableClient();
    }

    private sealed class FailingTableClient : Azure.Data.Tables.TableClient
    {
        public override Task<Azure.Response<Azure.Data.Tables.Models.TableItem>> CreateIfNotExistsAsync(CancellationToken cancellationToken = default) =>
            Task.FromResult<Azure.Response<Azure.Data.Tables.Models.TableItem>>(null!);

        public override Task<Azure.Response<IReadOnlyList<Azure.Response>>> SubmitTransactionAsync(
            IEnumerable<Azure.Data.Tables.TableTransactionAction> transactionActions, CancellationToken cancellationToken = default) =>
            throw new Azure.RequestFailedException(503, "Server busy");
    }
}
