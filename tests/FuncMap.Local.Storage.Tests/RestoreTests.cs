using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Azure.Data.Tables;
using FuncMap.Counters;
using FuncMap.Engine;
using FuncMap.Storage;
using FuncMap.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FuncMap.Local.Storage.Tests;

/// <summary>The parallel restore of table Counters, by partition range, straight into an engine.</summary>
[Collection(StorageTestGroup.Name)]
public sealed class RestoreTests(AzuriteFixture azurite)
{
    private const int Keys = 3000;

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public async Task Restore_RowsOverManyPartitions_LoadsEachOnceWithExactValuesVersionsAndOperationIds_SkipsForeignRows(int parallelism)
    {
        using var setup = new StorageSetup(azurite, FuncMap.Journal.DurabilityMode.Snapshot);
        var table = setup.Table;
        await table.CreateIfNotExistsAsync();
        var epoch = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var rows = Enumerable.Range(0, Keys).Select(i => Row(i, epoch)).ToList();
        var partitions = rows.GroupBy(static r => r.PartitionKey).ToList();
        Assert.Equal(CounterPartition.Count, partitions.Count);
        await Parallel.ForEachAsync(partitions, async (partition, ct) =>
        {
            foreach (var chunk in partition.Chunk(CounterRows.MaxTransactionActions))
            {
                await table.SubmitTransactionAsync(chunk.Select(static r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, r)), ct);
            }
        });

        // Foreign rows: PartitionKeys outside the 64 names (each sorts into a different range: below "00", inside
        // "00", between "09" and "10", between "59" and "60", above "63"), and a real key in the wrong partition
        // with a higher version than its real row. None may be loaded.
        string[] outside = ["0", "000", "1", "5a", "64", "zz"];
        for (var i = 0; i < outside.Length; i++)
        {
            await table.UpsertEntityAsync(new TableEntity(outside[i], "f:" + i.ToString(CultureInfo.InvariantCulture))
            {
                [CounterRows.Value] = 1L, [CounterRows.Version] = 1L, [CounterRows.UpdatedAt] = epoch,
            });
        }

        var wrong = CounterPartition.Name((CounterPartition.Of("m:0") + 1) % CounterPartition.Count);
        await table.UpsertEntityAsync(new TableEntity(wrong, "m:0") { [CounterRows.Value] = 123_456L, [CounterRows.Version] = 999L, [CounterRows.UpdatedAt] = epoch });

        var logger = new CollectingLogger();
        await using var engine = new CounterEngine(new CounterEngineOptions());
        var result = await TableRestoreLoader.LoadRowsAsync(table, engine, parallelism, logger, CancellationToken.None, progressInterval: 1000);

        // Each row once: the count of loads is exactly the number of rows, and the engine holds exactly them.
        Assert.Equal(new RestoreResult(Keys, outside.Length + 1), result);
        Assert.Equal(Keys, engine.CounterCount);
        for (var i = 0; i < outside.Length; i++)
        {
            Assert.False(engine.TryGet("f:" + i.ToString(CultureInfo.InvariantCulture), out _));
        }

        foreach (var row in rows)
        {
            Assert.True(engine.TryGet(row.RowKey, out var counter), row.RowKey);
            Assert.Equal((row.GetInt64(CounterRows.Value), row.GetInt64(CounterRows.Version), row.GetDateTimeOffset(CounterRows.UpdatedAt)), (counter.Value, counter.Version, counter.UpdatedAt));
        }

        // Operation ids: every restored id is a duplicate (value unchanged); a new id applies.
        engine.Start();
        foreach (var (row, i) in rows.Select((r, i) => (r, i)))
        {
            foreach (var id in OperationIds(i))
            {
                var again = await engine.ExecuteAsync(row.RowKey, CounterOperation.Add(1, id));
                Assert.Equal(OperationStatus.Duplicate, again.Status);
                Assert.Equal(row.GetInt64(CounterRows.Value), again.Counter.Value);
            }

            var fresh = await engine.ExecuteAsync(row.RowKey, CounterOperation.Add(1, $"new-{i}"));
            Assert.Equal(OperationStatus.Applied, fresh.Status);
            Assert.Equal(row.GetInt64(CounterRows.Value) + 1, fresh.Counter.Value);
        }

        // Progress every 1000 rows (here; 100,000 in production): at 1000, 2000 and 3000.
        var progress = logger.Entries.Where(static e => e.Id == 1412).ToList();
        Assert.Equal(3, progress.Count);
        Assert.Equal(outside.Length + 1, logger.Entries.Count(static e => e.Id == 1413));
    }

    /// <summary>
    /// The field report: rows another tool wrote with keys the API refuses ("ext bad") or that URLs cannot address
    /// ("." and "..") used to be loaded, and a list page ending on one handed out a token the API refused, so every
    /// key after it was unreachable. Now they are skipped (logged with PartitionKey, RowKey and reason, counted by
    /// rule), never deleted, and the listing walks every servable key.
    /// </summary>
    [Fact]
    public async Task Start_RowsWithKeysTheServiceCannotServe_SkippedCountedKeptAndListingReachesEveryOtherKey()
    {
        using var setup = new StorageSetup(azurite, FuncMap.Journal.DurabilityMode.Journal);
        await setup.Table.CreateIfNotExistsAsync();
        var epoch = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
        string[] keys = ["a:1", "ext bad", ".", "..", "e:2", "z:3"];
        foreach (var key in keys)
        {
            await setup.Table.UpsertEntityAsync(new TableEntity(CounterPartition.KeyOf(key), key)
            {
                [CounterRows.Value] = 5L, [CounterRows.Version] = 1L, [CounterRows.UpdatedAt] = epoch,
            });
        }

        var skipped = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        using var listener = new MeterListener
        {
            InstrumentPublished = static (instrument, l) =>
            {
                if (instrument.Name == StorageInstruments.SkippedRows)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "funcmap.reason")
                {
                    skipped.AddOrUpdate((string)tag.Value!, value, (_, sum) => sum + value);
                }
            }
        });
        listener.Start();

        await using var host = setup.Start();
        await host.WaitReadyAsync();

        var listed = new List<string>();
        string? token = null;
        do
        {
            using var response = await host.Client.GetAsync("/api/counters?pageSize=1" + (token is null ? "" : "&continuationToken=" + token));
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var page = await response.Content.ReadFromJsonAsync<JsonElement>();
            listed.AddRange(page.GetProperty("items").EnumerateArray().Select(static i => i.GetProperty("key").GetString()!));
            token = page.GetProperty("continuationToken").GetString();
        }
        while (token is not null);

        Assert.Equal(["a:1", "e:2", "z:3"], listed);
        Assert.Equal(new Dictionary<string, long> { ["key.charset"] = 1, ["key.dotSegment"] = 2 }, skipped.OrderBy(static p => p.Key).ToDictionary());
        await host.WaitForSnapshotAsync();
        Assert.Equal(keys.Order(StringComparer.Ordinal), (await setup.ReadTableAsync()).Keys.Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// The field report: a Value written as Edm.Double crashed the host with an InvalidCastException naming no row.
    /// A row whose state cannot be read exactly stops the start, and the failure names the row and the column.
    /// </summary>
    [Fact]
    public async Task Start_RowValueIsDouble_StartFailsNamingRowAndColumn()
    {
        using var setup = new StorageSetup(azurite, FuncMap.Journal.DurabilityMode.Journal);
        await setup.Table.CreateIfNotExistsAsync();
        var partition = CounterPartition.KeyOf("d:1");
        await setup.Table.UpsertEntityAsync(new TableEntity(partition, "d:1")
        {
            [CounterRows.Value] = 5.0, [CounterRows.Version] = 1L, [CounterRows.UpdatedAt] = DateTimeOffset.UnixEpoch,
        });

        await using var host = setup.Start();
        var readiness = host.Services.GetRequiredService<EngineReadiness>();

        var failure = await Assert.ThrowsAsync<InvalidDataException>(() => readiness.WhenReady.WaitAsync(Eventually.Deadline));
        Assert.Contains($"({partition}, d:1): column Value is Double (Edm.Double)", failure.Message, StringComparison.Ordinal);
        Assert.Equal(ReadinessState.Failed, readiness.State);
    }

    [Fact]
    public void RangeFilter_CoversEveryPartitionKeyOnce()
    {
        Assert.Equal("PartitionKey lt '01'", TableRestoreLoader.RangeFilter(0));
        Assert.Equal("PartitionKey ge '01' and PartitionKey lt '02'", TableRestoreLoader.RangeFilter(1));
        Assert.Equal("PartitionKey ge '62' and PartitionKey lt '63'", TableRestoreLoader.RangeFilter(62));
        Assert.Equal("PartitionKey ge '63'", TableRestoreLoader.RangeFilter(63));
    }

    private static string[] OperationIds(int i) => i % 3 == 0 ? [] : [$"op-{i}-a", $"op-{i}-b"];

    private static TableEntity Row(int i, DateTimeOffset epoch)
    {
        var key = "m:" + i.ToString(CultureInfo.InvariantCulture);
        var row = new TableEntity(CounterPartition.KeyOf(key), key)
        {
            [CounterRows.Value] = (i * 7L) - 5000,
            [CounterRows.Version] = (i % 13) + 1L,
            [CounterRows.UpdatedAt] = epoch.AddSeconds(i),
        };
        if (OperationIds(i) is { Length: > 0 } ids)
        {
            row[CounterRows.OperationIds] = string.Join('\n', ids);
        }

        return row;
    }

    private sealed class CollectingLogger : ILogger
    {
        public ConcurrentQueue<(int Id, string Message)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue((eventId.Id, formatter(state, exception)));
    }
}
