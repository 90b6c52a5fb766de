using Azure.Data.Tables;
using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Functions.Snapshots;
using FuncMap.Storage;
using FuncMap.Testing;
using Microsoft.DurableTask.Entities;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

/// <summary>
/// The snapshot function's writer against a real Azurite: the rows it leaves in the table are read back with the
/// Azure SDK. The Durable entity client is a test double (the entity states and the cursor it serves).
/// </summary>
[Collection(AzuriteTests.Name)]
public sealed class CounterSnapshotterTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private readonly FakeEntityClient _entities = new();
    private readonly ManualTimeProvider _time = new(Start);
    private readonly FuncMapFunctionsOptions _options;
    private readonly TableServiceClient _tables;
    private readonly TableClient _table;

    public CounterSnapshotterTests(AzuriteFixture azurite)
    {
        _options = new() { SnapshotOverlap = TimeSpan.FromMinutes(2), TombstoneRetention = TimeSpan.FromHours(2), SnapshotTable = AzuriteFixture.UniqueTableName("counters") };
        // The app's own client construction (AzureWebJobsStorage as a connection string), pointed at this Azurite.
        _tables = StorageClients.CreateTableServiceClient(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [StorageClients.ConnectionName] = azurite.ConnectionString }).Build());
        _table = _tables.GetTableClient(_options.SnapshotTable);
    }

    private CounterSnapshotter CreateSnapshotter() =>
        new(_tables, _time, Options.Create(_options), new FunctionsMetrics(new TestMeterFactory()), NullLogger<CounterSnapshotter>.Instance);

    private void PutCounter(string key, long value, long version, bool exists = true, DateTimeOffset? updatedAt = null, DateTimeOffset? lastModified = null, string[]? ids = null)
    {
        var state = new CounterState { Value = value, Version = version, Exists = exists, UpdatedAt = updatedAt ?? Start.AddMinutes(-1), RecentOperationIds = ids ?? [] };
        _entities.Entities[Counter.IdOf(key)] = (state, lastModified ?? state.UpdatedAt);
    }

    /// <summary>The raw entities, to check column types as well as what the shared reader makes of them.</summary>
    private async Task<Dictionary<string, TableEntity>> ReadTableAsync()
    {
        var rows = new Dictionary<string, TableEntity>(StringComparer.Ordinal);
        await foreach (var row in _table.QueryAsync<TableEntity>())
        {
            rows[row.RowKey] = row;
        }

        return rows;
    }

    [Fact]
    public async Task RunAsync_FirstRun_WritesEveryLiveCounterAsTheContractRow()
    {
        PutCounter("page:home", long.MaxValue, 3, ids: ["op-1", "batch 7"]);
        PutCounter("page:cart", -1, 1);

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Null(result.Since);
        Assert.Equal(2, result.Upserted);
        var rows = await ReadTableAsync();
        Assert.Equal(2, rows.Count);
        var home = rows["page:home"];
        Assert.Equal(CounterPartition.KeyOf("page:home"), home.PartitionKey);
        Assert.Equal(long.MaxValue, home["Value"]);
        Assert.Equal(3L, home["Version"]);
        Assert.Equal(Start.AddMinutes(-1), home.GetDateTimeOffset("UpdatedAt"));
        Assert.Equal("op-1\nbatch 7", home["OperationIds"]);
        Assert.False(rows["page:cart"].ContainsKey("OperationIds"));
        // What the local host's restore reads back.
        Assert.Equal(new CounterRow("page:cart", -1, 1, Start.AddMinutes(-1), null), CounterRows.FromEntity(rows["page:cart"]));
    }

    [Fact]
    public async Task RunAsync_ManyCountersInOnePartition_AllWrittenInTransactionsTheServiceAccepts()
    {
        // The service refuses a transaction over 100 rows: 250 rows of one partition only land when split.
        var keys = TestKeys.InPartition("07", 250);
        foreach (var key in keys)
        {
            PutCounter(key, 1, 1);
        }

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal(250, result.Upserted);
        var rows = await ReadTableAsync();
        Assert.Equal(keys.Order(StringComparer.Ordinal), rows.Keys.Order(StringComparer.Ordinal));
        Assert.All(rows.Values, r => Assert.Equal("07", r.PartitionKey));
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
        Assert.Equal(["recent"], (await ReadTableAsync()).Keys);
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
        PutCounter("gone", 5, 3);
        PutCounter("stays", 1, 1);
        await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);
        Assert.True((await ReadTableAsync()).ContainsKey("gone"));
        var deletedAt = Start.AddMinutes(-5);
        PutCounter("gone", 0, 4, exists: false, updatedAt: deletedAt);

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal(1, result.Deleted);
        Assert.Equal(["stays"], (await ReadTableAsync()).Keys);
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
    public async Task RunAsync_TombstoneWhoseRowIsAlreadyGoneBesideLiveRowsOfItsPartition_CompletesAndAdvancesCursor()
    {
        // One transaction holds the delete of a row that is not there and upserts of its partition: the service
        // fails the whole transaction with ResourceNotFound; the delete is done, the upserts must still land.
        var partition = CounterPartition.KeyOf("gone");
        var neighbours = TestKeys.InPartition(partition, 3, "n");
        PutCounter("gone", 0, 4, exists: false);
        foreach (var key in neighbours)
        {
            PutCounter(key, 2, 2);
        }

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal((3, 1), (result.Upserted, result.Deleted));
        Assert.Equal(neighbours.Order(StringComparer.Ordinal), (await ReadTableAsync()).Keys.Order(StringComparer.Ordinal));
        Assert.Single(_entities.Signals, s => s.Id == SnapshotCursor.Id);
    }

    [Fact]
    public async Task RunAsync_ServiceRefusesARow_ThrowsNamingTheRowWithoutPurgesOrAdvancingCursor()
    {
        PutCounter("fine", 1, 1);
        PutCounter("gone", 0, 2, exists: false);
        // A column over 64 KiB: the table service refuses the row.
        PutCounter("huge", 1, 1, ids: [new string('x', 40_000)]);

        var failure = await Assert.ThrowsAsync<CounterRowWriteException>(() => CreateSnapshotter().RunAsync(_entities, CancellationToken.None));

        Assert.Equal("huge", failure.RowKey);
        Assert.False(string.IsNullOrEmpty(failure.ErrorCode));
        Assert.DoesNotContain(_entities.Signals, s => s.Id == SnapshotCursor.Id);
        Assert.DoesNotContain(_entities.Signals, s => s.Operation == CounterOperations.Purge);
    }

    [Fact]
    public async Task RunAsync_OtherEntityKinds_NotWrittenAsCounters()
    {
        _entities.Entities[new EntityInstanceId("snapshotcursor", "counters")] = (new SnapshotCursorState(), Start);
        PutCounter("a", 1, 1);

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal(1, result.Upserted);
        Assert.Equal(["a"], (await ReadTableAsync()).Keys);
    }
}
