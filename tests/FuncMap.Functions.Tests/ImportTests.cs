using System.Text.Json;
using Azure.Data.Tables;
using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Import;
using FuncMap.Storage;
using FuncMap.Testing;
using Microsoft.DurableTask.Client.Entities;
using Microsoft.DurableTask.Entities;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

/// <summary>
/// The import's page activity against a real Azurite (issue 20, item 1), driven page by page as the orchestration drives
/// it (<see cref="ImportProgress.NextPages"/>, <see cref="ImportProgress.Record"/>), into real <see cref="Counter"/>
/// entities whose state persists as JSON (<see cref="FakeEntityClient.RunCounters"/>). The table holds rows as the
/// local host writes them: fenced, with its epoch and its operation windows.
/// </summary>
[Collection(AzuriteTests.Name)]
public sealed class ImportTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset LocalAt = new(2026, 12, 3, 9, 0, 0, TimeSpan.Zero);
    private const string Source = "devstoreaccount1/counters";

    private readonly FakeEntityClient _entities = new() { RunCounters = true };
    private readonly ImportPageReader _reader = new(Options.Create(new ImportOptions()), NullLogger<ImportPageReader>.Instance);

    /// <summary>2,500 rows in partition 07 (three pages of at most 1000) and one in each other partition, as a local host's snapshot leaves them.</summary>
    private static async Task<List<CounterRow>> WriteAsLocalHostAsync(TableClient table)
    {
        var keys = TestKeys.InPartition("07", 2_500, "hot:").Concat(Enumerable.Range(0, 10_000).Select(static i => "o:" + i.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .GroupBy(CounterPartition.KeyOf).Where(static g => g.Key != "07").Select(static g => g.First())).ToList();
        var rows = keys.Select((k, i) => new CounterRow(k, (i * 7919L) - 5_000_000, 1 + (i % 9), LocalAt.AddSeconds(i), i % 3 == 0 ? [$"op-{i}\tadd:{i}", $"legacy-{i}"] : null)).ToList();
        var writer = new CounterSnapshotWriter(table, 8);
        await writer.RaiseFencesAsync(2, CancellationToken.None);
        await writer.WriteAsync(rows, CancellationToken.None);
        return rows;
    }

    private async Task<ImportProgress> RunToEndAsync(TableClient table, ImportProgress progress, DurableEntityClient? entities = null)
    {
        while (!progress.Completed)
        {
            foreach (var page in progress.NextPages())
            {
                progress.Record(await _reader.ReadAsync(table, page, entities ?? _entities, CancellationToken.None));
            }
        }

        return progress;
    }

    private CounterEntityState? EntityOf(string key) =>
        _entities.Entities.TryGetValue(Counter.IdOf(key), out var entry) ? (CounterEntityState)entry.State : null;

    private void AssertRestored(IEnumerable<CounterRow> rows)
    {
        foreach (var row in rows)
        {
            var state = EntityOf(row.Key) ?? throw new Xunit.Sdk.XunitException($"{row.Key} was not restored");
            Assert.Equal((row.Key, row.Value, row.Version, row.UpdatedAt, true), (row.Key, state.Value, state.Version, state.UpdatedAt, state.Exists));
            Assert.Equal(row.OperationIds ?? [], state.RecentOperationIds);
        }
    }

    [Fact]
    public async Task ReadAsync_2563RowsThreePagesInOnePartition_EveryCounterRestoredExactlyAndARerunChangesNothing()
    {
        var table = await azurite.NewTableAsync("import");
        var rows = await WriteAsLocalHostAsync(table);

        var progress = await RunToEndAsync(table, ImportProgress.Start(Source, ownTable: true, LocalAt));

        var status = progress.ToStatus();
        // Every row and the 64 fences read; one restore per counter row; nothing skipped.
        Assert.Equal((2_563L + 64, 2_563L, 0L, 64), (status.Read, status.Signalled, status.Skipped, status.PartitionsDone));
        Assert.Equal(3, status.Partitions[7].Pages);
        Assert.Equal(2_501L, status.Partitions[7].Read);
        Assert.Equal(2_563, _entities.Signals.Count(s => s.Operation == CounterOperations.Restore));
        AssertRestored(rows);

        var before = _entities.Entities.ToDictionary(e => e.Key, e => JsonSerializer.Serialize(e.Value.State));
        await RunToEndAsync(table, ImportProgress.Start(Source, ownTable: true, LocalAt));
        Assert.Equal(before, _entities.Entities.ToDictionary(e => e.Key, e => JsonSerializer.Serialize(e.Value.State)));
    }

    [Fact]
    public async Task ReadAsync_RowsTheSharedSchemaRefuses_SkippedAndCountedByRuleTheRestRestored()
    {
        var table = await azurite.NewTableAsync("import");
        var good = new CounterRow("good:1", 5, 2, LocalAt, ["a\tadd:5"]);
        await new CounterSnapshotWriter(table, 1).WriteAsync([good], CancellationToken.None);
        // Rows no FuncMap host writes: a key in the wrong partition, a key the key rule refuses, a value that is a double, a version 0.
        var wrongPartition = CounterPartition.KeyOf("moved") == "00" ? "01" : "00";
        await table.AddEntityAsync(new TableEntity(wrongPartition, "moved") { ["Value"] = 1L, ["Version"] = 1L, ["UpdatedAt"] = LocalAt });
        await table.AddEntityAsync(new TableEntity(CounterPartition.KeyOf("."), ".") { ["Value"] = 1L, ["Version"] = 1L, ["UpdatedAt"] = LocalAt });
        await table.AddEntityAsync(new TableEntity(CounterPartition.KeyOf("double"), "double") { ["Value"] = 5.0, ["Version"] = 1L, ["UpdatedAt"] = LocalAt });
        await table.AddEntityAsync(new TableEntity(CounterPartition.KeyOf("zero"), "zero") { ["Value"] = 1L, ["Version"] = 0L, ["UpdatedAt"] = LocalAt });

        var status = (await RunToEndAsync(table, ImportProgress.Start(Source, ownTable: false, LocalAt))).ToStatus();

        Assert.Equal((5L, 1L, 4L), (status.Read, status.Signalled, status.Skipped));
        Assert.Equal(
            new Dictionary<string, long> { ["row.partition"] = 1, ["key.dotSegment"] = 1, [ImportPageReader.MalformedRule] = 1, [ImportPageReader.VersionRule] = 1 }.OrderBy(p => p.Key, StringComparer.Ordinal),
            status.SkippedByRule.OrderBy(p => p.Key, StringComparer.Ordinal));
        AssertRestored([good]);
        Assert.Single(_entities.Entities);
    }

    [Fact]
    public async Task ReadAsync_CrashMidPartition_ResumesFromTheLastRecordedPageAndCountsEachRowOnce()
    {
        var table = await azurite.NewTableAsync("import");
        var rows = await WriteAsLocalHostAsync(table);
        var progress = ImportProgress.Start(Source, ownTable: true, LocalAt);
        var partition7 = new ImportPageRequest(Source, 7, null);
        progress.Record(await _reader.ReadAsync(table, partition7, _entities, CancellationToken.None));
        Assert.NotNull(progress.Partitions[7].ContinuationToken);

        // The host dies 300 signals into partition 07's second page: the activity never returns, its page is not recorded.
        var crashing = new CrashingEntityClient(_entities, failAfter: 300);
        await Assert.ThrowsAsync<TimeoutException>(() => _reader.ReadAsync(table, progress.NextPages().Single(p => p.Partition == 7), crashing, CancellationToken.None));
        // What the orchestration's history holds is the progress recorded so far, as JSON.
        var checkpoint = JsonSerializer.Deserialize<ImportProgress>(JsonSerializer.Serialize(progress))!;
        Assert.Equal(1, checkpoint.Partitions[7].Pages);

        var resumed = (await RunToEndAsync(table, checkpoint)).ToStatus();

        Assert.Equal((2_563L + 64, 2_563L), (resumed.Read, resumed.Signalled));
        Assert.Equal((3, 2_501L), (resumed.Partitions[7].Pages, resumed.Partitions[7].Read));
        AssertRestored(rows);
        // The 300 restores sent before the crash were sent again and changed nothing: each counter holds its row, once.
        Assert.Equal(2_563 + 300, _entities.Signals.Count(s => s.Operation == CounterOperations.Restore));
    }

    [Fact]
    public async Task ImportThenSnapshot_TheTableHoldsEveryCounterAsTheLocalHostLeftIt()
    {
        // There: the local host's rows are imported; and back: the app's snapshot (no longer guarded) writes them again.
        var table = await azurite.NewTableAsync("import");
        var rows = await WriteAsLocalHostAsync(table);
        await RunToEndAsync(table, ImportProgress.Start(Source, ownTable: true, LocalAt));
        _entities.Entities[FuncMap.Functions.Snapshots.SnapshotCursor.Id] = (new FuncMap.Functions.Snapshots.SnapshotCursorState { ImportedAt = LocalAt }, LocalAt);
        var options = new FuncMap.Functions.Hosting.FuncMapFunctionsOptions { SnapshotTable = table.Name };
        var snapshotter = new FuncMap.Functions.Snapshots.CounterSnapshotter(
            new TableServiceClient(azurite.ConnectionString, StorageClientDefaults.Tables()), _entities.Time, Options.Create(options),
            new FunctionsMetrics(new TestMeterFactory()), NullLogger<FuncMap.Functions.Snapshots.CounterSnapshotter>.Instance);

        var result = await snapshotter.RunAsync(_entities, CancellationToken.None);

        Assert.Equal((rows.Count, false), (result.Upserted, result.Guarded));
        var after = await table.ReadCounterRowsAsync();
        Assert.Equal(rows.Count, after.Count);
        foreach (var row in rows)
        {
            var written = after[row.Key];
            Assert.Equal((row.Value, row.Version, row.UpdatedAt, 0L), (written.Value, written.Version, written.UpdatedAt, written.Epoch));
            Assert.Equal(row.OperationIds ?? [], written.OperationIds ?? []);
        }
    }

    /// <summary>Signals through <paramref name="inner"/> until <paramref name="failAfter"/> were sent, then fails every one: a host that died mid-activity.</summary>
    private sealed class CrashingEntityClient(FakeEntityClient inner, int failAfter) : DurableEntityClient("crashing")
    {
        private int _sent;

        public override async Task SignalEntityAsync(EntityInstanceId id, string operationName, object? input = null, SignalEntityOptions? options = null, CancellationToken cancellation = default)
        {
            if (Interlocked.Increment(ref _sent) > failAfter)
            {
                throw new TimeoutException("The host stopped.");
            }

            await inner.SignalEntityAsync(id, operationName, input, options, cancellation);
        }

        public override Task<EntityMetadata?> GetEntityAsync(EntityInstanceId id, bool includeState = true, CancellationToken cancellation = default) => throw new NotSupportedException();

        public override Task<EntityMetadata<T>?> GetEntityAsync<T>(EntityInstanceId id, bool includeState = true, CancellationToken cancellation = default) => throw new NotSupportedException();

        public override Microsoft.DurableTask.AsyncPageable<EntityMetadata> GetAllEntitiesAsync(EntityQuery? filter = null) => throw new NotSupportedException();

        public override Microsoft.DurableTask.AsyncPageable<EntityMetadata<T>> GetAllEntitiesAsync<T>(EntityQuery? filter = null) => throw new NotSupportedException();

        public override Task<CleanEntityStorageResult> CleanEntityStorageAsync(CleanEntityStorageRequest? request = null, bool continueUntilComplete = true, CancellationToken cancellation = default) =>
            throw new NotSupportedException();
    }
}
