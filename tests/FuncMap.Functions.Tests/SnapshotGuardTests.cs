using Azure.Data.Tables;
using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Functions.Snapshots;
using FuncMap.Storage;
using FuncMap.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

/// <summary>
/// The snapshot never destroys rows it did not write (issue 20, item 2), against a real Azurite: the table holds rows
/// as the local host writes them (fenced, with its epoch and operation windows), the entities hold what the app did
/// to those keys without knowing them, and the app's snapshot runs.
/// </summary>
[Collection(AzuriteTests.Name)]
public sealed class SnapshotGuardTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset Start = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset LocalAt = Start.AddHours(-1);

    private readonly FakeEntityClient _entities = new();
    private readonly FuncMapFunctionsOptions _options = new() { SnapshotTable = AzuriteFixture.UniqueTableName("guard") };

    private CounterSnapshotter CreateSnapshotter() =>
        new(new TableServiceClient(azurite.ConnectionString, StorageClientDefaults.Tables()), new ManualTimeProvider(Start), Options.Create(_options), new FunctionsMetrics(new TestMeterFactory()), NullLogger<CounterSnapshotter>.Instance);

    private TableClient Table => azurite.Table(_options.SnapshotTable);

    /// <summary>Rows as a local host's final snapshot leaves them: its fences raised, every row carrying its epoch.</summary>
    private async Task WriteAsLocalHostAsync(params CounterRow[] rows)
    {
        await Table.CreateIfNotExistsAsync();
        var writer = new CounterSnapshotWriter(Table, 4);
        await writer.RaiseFencesAsync(3, CancellationToken.None);
        await writer.WriteAsync(rows, CancellationToken.None);
    }

    private void PutCounter(string key, long value, long version, bool exists = true)
    {
        var state = new CounterEntityState { Value = value, Version = version, Exists = exists, UpdatedAt = Start.AddMinutes(-1), RecentOperationIds = version > 0 ? ["app-" + key + "\tadd:1"] : [] };
        if (!exists && version == 0)
        {
            // What a reset or delete with ?wait=true of a key the entity never saw leaves: a version-0 tombstone holding the 404 reply.
            state.Replies.Add(new CounterReply("r-" + key, new CounterOutcome(OperationStatus.NotFound, false, 0, 0, default)));
        }

        _entities.Entities[Counter.IdOf(key)] = (state, Start.AddMinutes(-1));
    }

    private async Task<Dictionary<string, TableEntity>> ReadTableAsync()
    {
        var rows = new Dictionary<string, TableEntity>(StringComparer.Ordinal);
        await foreach (var row in Table.QueryAsync<TableEntity>())
        {
            rows[row.PartitionKey + "/" + row.RowKey] = row;
        }

        return rows;
    }

    [Fact]
    public async Task RunAsync_BeforeAnImport_KeepsEveryRowNewerThanItsEntityAndNeverDeletesAKeyTheAppNeverWrote()
    {
        // The scenario: the local host's counters, then the app writes some of those keys without knowing them.
        await WriteAsLocalHostAsync(
            new CounterRow("mig:k0001", -8_925, 2, LocalAt, ["local-1\tadd:-8925"]),
            new CounterRow("mig:k0002", 40, 7, LocalAt, ["local-2\tadd:40"]),
            new CounterRow("mig:k0003", 12, 3, LocalAt, null),
            new CounterRow("mig:k0004", 99, 1, LocalAt, null),
            new CounterRow("mig:k0005", 5, 5, LocalAt, null));
        var before = await ReadTableAsync();
        PutCounter("mig:k0001", 1, 1);                // a plain add, version 1 < 2
        PutCounter("mig:k0002", 3, 7);                // the same version, another history
        PutCounter("mig:k0003", 0, 0, exists: false); // reset?wait=true answered 404
        PutCounter("mig:k0004", 0, 0, exists: false); // DELETE?wait=true answered 404
        PutCounter("mig:k0005", 0, 2, exists: false); // written and deleted by the app, still older than the row

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.True(result.Guarded);
        Assert.Equal((0, 0, 5), (result.Upserted, result.Deleted, result.Kept));
        var after = await ReadTableAsync();
        Assert.Equal(before.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
        // Not one row changed: same ETag (so same content), fences and epochs included.
        Assert.All(before, row => Assert.Equal(row.Value.ETag, after[row.Key].ETag));
        var k0001 = CounterRows.FromEntity(after[CounterPartition.KeyOf("mig:k0001") + "/mig:k0001"]);
        Assert.Equal((-8_925L, 2L, 3L), (k0001.Value, k0001.Version, k0001.Epoch));
        Assert.Equal(["local-1\tadd:-8925"], k0001.OperationIds);
    }

    [Fact]
    public async Task RunAsync_BeforeAnImport_WritesWhatIsNewerThanTheRowOrHasNoRow()
    {
        await WriteAsLocalHostAsync(
            new CounterRow("older", 10, 2, LocalAt, null),
            new CounterRow("deleted", 10, 2, LocalAt, null));
        PutCounter("older", 11, 3);
        PutCounter("deleted", 0, 3, exists: false);
        PutCounter("new", 1, 1);

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.Equal((2, 1, 0), (result.Upserted, result.Deleted, result.Kept));
        var rows = (await ReadTableAsync()).Values.Where(r => !CounterFence.IsFence(r)).Select(CounterRows.FromEntity).ToDictionary(r => r.Key);
        Assert.Equal(["new", "older"], rows.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((11L, 3L, 0L), (rows["older"].Value, rows["older"].Version, rows["older"].Epoch));
        Assert.Equal((1L, 1L), (rows["new"].Value, rows["new"].Version));
    }

    [Fact]
    public async Task RunAsync_AfterTheTableWasImported_WritesRowsAsTheyAre()
    {
        await WriteAsLocalHostAsync(new CounterRow("mig:k0001", -8_925, 2, LocalAt, null));
        _entities.Entities[SnapshotCursor.Id] = (new SnapshotCursorState { ImportedAt = Start.AddMinutes(-5) }, Start.AddMinutes(-5));
        PutCounter("mig:k0001", 1, 1);

        var result = await CreateSnapshotter().RunAsync(_entities, CancellationToken.None);

        Assert.False(result.Guarded);
        Assert.Equal(1, result.Upserted);
        var row = CounterRows.FromEntity(await Table.GetEntityAsync<TableEntity>(CounterPartition.KeyOf("mig:k0001"), "mig:k0001"));
        Assert.Equal((1L, 1L), (row.Value, row.Version));
    }
}
