using System.Net;
using System.Net.Sockets;
using Azure.Data.Tables;
using FuncMap.Functions.Accepts;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Storage;
using FuncMap.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

/// <summary>
/// The accept log and the folder against a real Azurite: rows are read back with the Azure SDK; the Durable entity
/// client is the test double whose counters are real <see cref="Counter"/> entities with JSON state.
/// </summary>
[Collection(AzuriteTests.Name)]
public sealed class AcceptFoldTests(AzuriteFixture azurite) : IAsyncLifetime
{
    private readonly TableClient _table = azurite.Table(AzuriteFixture.UniqueTableName("accepted"));
    private readonly List<IAsyncDisposable> _logs = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var log in _logs)
        {
            await log.DisposeAsync();
        }
    }

    private AcceptLog NewLog(TableClient? table = null)
    {
        var log = new AcceptLog(table ?? _table, TimeProvider.System, NullLogger<AcceptLog>.Instance);
        _logs.Add(log);
        return log;
    }

    private static AcceptFolder NewFolder(AcceptLog log, TimeProvider? time = null, FuncMapFunctionsOptions? options = null) => new(
        log, new EntityClientSource(), Options.Create(options ?? new FuncMapFunctionsOptions()), new FunctionsMetrics(new TestMeterFactory()),
        time ?? TimeProvider.System, NullLogger<AcceptFolder>.Instance);

    /// <summary>A folder on <paramref name="log"/> that folds only when asked (an hour's interval), started, with entities that run counters.</summary>
    private static async Task<(AcceptFolder Folder, FakeEntityClient Entities)> StartFolderAsync(AcceptLog log, ILogger<AcceptFolder>? logger = null)
    {
        var clients = new EntityClientSource();
        var folder = new AcceptFolder(log, clients, Options.Create(new FuncMapFunctionsOptions { FoldInterval = TimeSpan.FromHours(1) }),
            new FunctionsMetrics(new TestMeterFactory()), TimeProvider.System, logger ?? NullLogger<AcceptFolder>.Instance);
        var entities = new FakeEntityClient { RunCounters = true };
        clients.Offer(entities);
        await folder.StartAsync(CancellationToken.None);
        return (folder, entities);
    }

    /// <summary>An accept log and its folder on a clock the test moves, with their log lines and the accepted.lost measurements.</summary>
    private sealed class LossWatch : IDisposable
    {
        private readonly TestMeterFactory _meters = new();

        public LossWatch(AcceptFoldTests test, FuncMapFunctionsOptions options)
        {
            Log = new AcceptLog(test._table, Time, NullLogger<AcceptLog>.Instance);
            test._logs.Add(Log);
            Lost = new(_meters, FunctionsMetrics.MeterName, FunctionsMetrics.AcceptedLost);
            Folder = new AcceptFolder(Log, new EntityClientSource(), Options.Create(options), new FunctionsMetrics(_meters), Time, Logger);
        }

        public ManualTimeProvider Time { get; } = new(DateTimeOffset.UtcNow);

        public AcceptLog Log { get; }

        public AcceptFolder Folder { get; }

        public RecordingLogger<AcceptFolder> Logger { get; } = new();

        public Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long> Lost { get; }

        public FakeEntityClient Entities { get; } = new() { RunCounters = true };

        public long LostAdds(string outcome) => Lost.GetMeasurementSnapshot().Where(m => (string?)m.Tags["outcome"] == outcome).Sum(m => m.Value);

        public void Dispose()
        {
            Lost.Dispose();
            _meters.Dispose();
        }
    }

    private async Task<List<TableEntity>> RowsAsync(string? partition = null)
    {
        var rows = new List<TableEntity>();
        var filter = partition is null ? null : TableClient.CreateQueryFilter($"PartitionKey eq {partition}");
        await foreach (var row in _table.QueryAsync<TableEntity>(filter))
        {
            rows.Add(row);
        }

        return rows;
    }

    private static long ValueOf(FakeEntityClient entities, string key) =>
        entities.Entities.TryGetValue(Counter.IdOf(key), out var entry) ? ((CounterEntityState)entry.State).Value : 0;

    private static long VersionOf(FakeEntityClient entities, string key) =>
        entities.Entities.TryGetValue(Counter.IdOf(key), out var entry) ? ((CounterEntityState)entry.State).Version : 0;

    [Fact]
    public async Task AcceptAsync_ConcurrentAdds_OneRowPerFlushHoldingEveryAdd()
    {
        var log = NewLog();

        await Task.WhenAll(Enumerable.Range(1, 300).Select(i => Task.Run(() => log.AcceptAsync("k" + (i % 7), i, CancellationToken.None))));

        var rows = await RowsAsync(log.Source);
        var items = rows.SelectMany(AcceptedRows.ReadItems).ToList();
        Assert.Equal(log.LastFlush, rows.Count);
        Assert.Equal(Enumerable.Range(1, 300).Select(i => ("k" + (i % 7), (long)i)).Order(), items.Select(i => (i.Key, i.Delta)).Order());
    }

    [Fact]
    public async Task AcceptAsync_Completed_TheAddIsInTheTable()
    {
        var log = NewLog();

        for (var i = 1; i <= 3; i++)
        {
            await log.AcceptAsync("page:home", i, CancellationToken.None);

            var items = (await RowsAsync(log.Source)).SelectMany(AcceptedRows.ReadItems).ToList();
            Assert.Equal(i, items.Count);
            Assert.Equal(i, items[^1].Delta);
        }
    }

    [Fact]
    public async Task AcceptAsync_MoreThanOneRowHolds_SplitAcrossFlushesAndNothingLost()
    {
        var log = NewLog();
        var key = new string('k', 90);

        // 90-character keys: 285 adds fill one 64 KiB string property.
        await Task.WhenAll(Enumerable.Range(0, 1000).Select(_ => log.AcceptAsync(key, long.MinValue, CancellationToken.None)));

        var rows = await RowsAsync(log.Source);
        Assert.All(rows, r => Assert.True(r.GetString(AcceptedRows.Items).Length <= AcceptedRows.MaxPropertyChars));
        Assert.Equal(1000, rows.Sum(r => AcceptedRows.ReadItems(r).Count));
    }

    [Fact]
    public async Task AcceptAsync_StorageDown_ThrowsAndNothingIsPromised()
    {
        var log = NewLog(DeadTable());

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => log.AcceptAsync("down", 1, CancellationToken.None));

        Assert.True(StorageFailures.IsStorage(failure));
        Assert.Equal(0, log.LastFlushOf("down"));
    }

    [Fact]
    public async Task FoldOwnAsync_AcceptedAdds_AppliedExactlyWithOneFoldSignalPerKeyAndTheRowsGone()
    {
        var log = NewLog();
        var folder = NewFolder(log);
        var entities = new FakeEntityClient { RunCounters = true };
        await Task.WhenAll(Enumerable.Range(0, 600).Select(i => log.AcceptAsync("key" + (i % 3), i % 2 == 0 ? 5 : -2, CancellationToken.None)));

        Assert.True(await folder.FoldOwnAsync(entities, CancellationToken.None));

        Assert.Equal((300L, 300L, 300L), (ValueOf(entities, "key0"), ValueOf(entities, "key1"), ValueOf(entities, "key2")));
        Assert.Equal(3, entities.Signals.Count);
        Assert.All(entities.Signals, s => Assert.Equal(CounterOperations.Fold, s.Operation));
        Assert.Equal(1, VersionOf(entities, "key0"));
        Assert.Empty(await RowsAsync());
    }

    [Fact]
    public async Task FoldOwnAsync_SumBeyondInt64_SplitIntoAddsThatEachFit()
    {
        var log = NewLog();
        var folder = NewFolder(log);
        var entities = new FakeEntityClient { RunCounters = true };
        await log.AcceptAsync("big", long.MaxValue, CancellationToken.None);
        await log.AcceptAsync("big", long.MaxValue, CancellationToken.None);
        await log.AcceptAsync("big", long.MinValue, CancellationToken.None);

        await folder.FoldOwnAsync(entities, CancellationToken.None);

        // MaxValue, then MaxValue + MinValue = -1: two adds, in order; the counter holds MaxValue - 1.
        Assert.Equal((long.MaxValue - 1, 2L), (ValueOf(entities, "big"), VersionOf(entities, "big")));
    }

    [Fact]
    public async Task FoldOwnAsync_CrashBetweenTransactionAndSignal_FoldRecordResentByAnotherInstanceAndCountedOnce()
    {
        var crashed = NewLog();
        var crashedFolder = NewFolder(crashed);
        var entities = new FakeEntityClient { RunCounters = true };
        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => crashed.AcceptAsync("c" + (i % 5), 1, CancellationToken.None)));
        entities.FailSignalsWith = new InvalidOperationException("the process died before signalling");

        await Assert.ThrowsAsync<InvalidOperationException>(() => crashedFolder.FoldOwnAsync(entities, CancellationToken.None));

        var left = await RowsAsync(crashed.Source);
        var record = AcceptedRows.ReadFold(Assert.Single(left, r => AcceptedRows.IsFoldRecord(r.RowKey)));
        Assert.Equal(5, record.Entries.Count);
        Assert.DoesNotContain(left, r => !AcceptedRows.IsFoldRecord(r.RowKey));
        entities.FailSignalsWith = null;

        // Another instance, once the rows are older than FoldStaleAfter, sends the record with its recorded numbers.
        var later = new ManualTimeProvider(DateTimeOffset.UtcNow.AddMinutes(5));
        var survivor = NewFolder(NewLog(), later);
        Assert.Equal(1, await survivor.SweepAsync(entities, CancellationToken.None));

        Assert.All(Enumerable.Range(0, 5), i => Assert.Equal(10, ValueOf(entities, "c" + i)));
        Assert.Empty(await RowsAsync(crashed.Source));

        // The same record delivered again (a signal the backend redelivers) changes nothing.
        foreach (var entry in record.Entries)
        {
            await entities.SignalEntityAsync(Counter.IdOf(entry.Key), CounterOperations.Fold, new FoldCommand(record.Source, entry.Sequence, [entry.Delta]));
        }

        Assert.All(Enumerable.Range(0, 5), i => Assert.Equal((10L, 1L), (ValueOf(entities, "c" + i), VersionOf(entities, "c" + i))));
    }

    [Fact]
    public async Task SweepAsync_StoppedSourceWithAcceptedRows_FoldedUnderTheSweepersSourceIntoThatPartition()
    {
        var stopped = NewLog();
        var entities = new FakeEntityClient { RunCounters = true };
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => stopped.AcceptAsync("s" + (i % 4), 2, CancellationToken.None)));

        var survivor = NewFolder(NewLog(), new ManualTimeProvider(DateTimeOffset.UtcNow.AddMinutes(5)));
        await survivor.SweepAsync(entities, CancellationToken.None);

        Assert.All(Enumerable.Range(0, 4), i => Assert.Equal(20, ValueOf(entities, "s" + i)));
        var folds = entities.Signals.Select(s => Assert.IsType<FoldCommand>(s.Input)).ToList();
        Assert.All(folds, f => Assert.Equal(survivor.SequenceSource, f.Source));
        Assert.Empty(await RowsAsync(stopped.Source));
    }

    [Fact]
    public async Task SweepAsync_RowsYoungerThanFoldStaleAfter_LeftToTheirOwnFolder()
    {
        var live = NewLog();
        var entities = new FakeEntityClient { RunCounters = true };
        await live.AcceptAsync("young", 1, CancellationToken.None);

        Assert.Equal(0, await NewFolder(NewLog()).SweepAsync(entities, CancellationToken.None));
        Assert.Single(await RowsAsync(live.Source));
    }

    [Fact]
    public async Task FoldAsync_TwoFoldersRacingOnOnePartition_EveryAddCountedExactlyOnce()
    {
        var log = NewLog();
        var own = NewFolder(log);
        var rival = NewFolder(NewLog(), new ManualTimeProvider(DateTimeOffset.UtcNow.AddMinutes(5)));
        var entities = new FakeEntityClient { RunCounters = true };
        const int Writers = 8, PerWriter = 150, Keys = 10;

        var writing = Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                await log.AcceptAsync("r" + ((w * PerWriter + i) % Keys), 1, CancellationToken.None);
            }
        })));
        async Task FoldUntilAsync(Func<Task> fold)
        {
            while (!writing.IsCompleted)
            {
                await fold();
            }
        }

        await Task.WhenAll(
            writing,
            FoldUntilAsync(() => own.FoldOwnAsync(entities, CancellationToken.None)),
            FoldUntilAsync(() => rival.SweepAsync(entities, CancellationToken.None)));
        while (!await own.FoldOwnAsync(entities, CancellationToken.None))
        {
        }

        Assert.Equal(Enumerable.Repeat(Writers * PerWriter / Keys, Keys), Enumerable.Range(0, Keys).Select(k => (int)ValueOf(entities, "r" + k)));
        Assert.Empty(await RowsAsync());
    }

    [Fact]
    public async Task FoldOwnAsync_FoldRecordLostBetweenFolds_LaterAddsApplyWithinTheBoundAndTheLossIsLoggedAndCounted()
    {
        var log = NewLog();
        var folder = NewFolder(log);
        var entities = new FakeEntityClient { RunCounters = true };
        await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => log.AcceptAsync("g", 1, CancellationToken.None)));
        entities.FailSignalsWith = new InvalidOperationException("storage rolled back before the signals were stored");
        await Assert.ThrowsAsync<InvalidOperationException>(() => folder.FoldOwnAsync(entities, CancellationToken.None));
        entities.FailSignalsWith = null;

        // Storage loses its last acknowledged write: the fold record (number 1 of key g).
        var record = Assert.Single(await RowsAsync(log.Source));
        await _table.DeleteEntityAsync(record.PartitionKey, record.RowKey);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => log.AcceptAsync("g", 10, CancellationToken.None)));
        Assert.True(await folder.FoldOwnAsync(entities, CancellationToken.None));

        Assert.Equal(0, ValueOf(entities, "g"));
        Assert.Equal((1, 1L, TimeSpan.Zero), entities.CounterMetrics.Parked());

        entities.Time.Now += Counter.GapReleaseAfter;
        Assert.Equal(1, await entities.DeliverDueRemindersAsync());

        Assert.Equal(40, ValueOf(entities, "g"));
        var lost = Assert.Single(entities.CounterLog.Lines(6150, Microsoft.Extensions.Logging.LogLevel.Critical));
        Assert.Equal(("g", folder.SequenceSource, 1L), ((string)lost["Key"]!, (string)lost["Source"]!, (long)lost["Count"]!));
        Assert.Equal((0, 0L, TimeSpan.Zero), entities.CounterMetrics.Parked());

        // Plain adds apply at once again.
        await log.AcceptAsync("g", 2, CancellationToken.None);
        Assert.True(await folder.FoldOwnAsync(entities, CancellationToken.None));
        Assert.Equal(42, ValueOf(entities, "g"));
        Assert.Empty(await RowsAsync());
    }

    [Fact]
    public async Task FoldOwnAsync_AcceptedRowLostByStorageAfterItsConfirmation_LoggedAndCountedWithItsAdds()
    {
        using var watch = new LossWatch(this, new FuncMapFunctionsOptions());
        var (log, folder, entities) = (watch.Log, watch.Folder, watch.Entities);
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => log.AcceptAsync(i % 2 == 0 ? "hot" : "k" + i, 1, CancellationToken.None)));

        // Storage confirmed the rows (every add answered 202), then lost them (Azurite killed before it persisted them, a
        // storage account rolled back): the partition is empty when the folder reads it. Nothing of it can be applied;
        // the loss is not silent.
        var rows = await RowsAsync(log.Source);
        Assert.NotEmpty(rows);
        foreach (var row in rows)
        {
            await _table.DeleteEntityAsync(row.PartitionKey, row.RowKey);
        }

        await log.AcceptAsync("hot", 100, CancellationToken.None);
        Assert.True(await folder.FoldOwnAsync(entities, CancellationToken.None));
        Assert.Empty(watch.Logger.Lines(6170)); // one missed query is only a suspicion
        watch.Time.Now += AcceptFolder.LostAfterMissedFor;
        Assert.True(await folder.FoldOwnAsync(entities, CancellationToken.None));

        var lines = watch.Logger.Lines(6170, LogLevel.Critical);
        Assert.Equal(rows.Count, lines.Count);
        Assert.Equal(20, lines.Sum(l => (int)l["Adds"]!));
        Assert.Contains("hot", (string)lines[0]["Keys"]!, StringComparison.Ordinal);
        Assert.Equal(20, watch.LostAdds("lost"));
        Assert.Equal(100, ValueOf(entities, "hot"));

        // Reported once: later folds find nothing more missing.
        await log.AcceptAsync("hot", 1, CancellationToken.None);
        Assert.True(await folder.FoldOwnAsync(entities, CancellationToken.None));
        Assert.Equal(101, ValueOf(entities, "hot"));
        Assert.Equal(rows.Count, watch.Logger.Lines(6170).Count);
        Assert.Empty(watch.Logger.Lines(6171));
    }

    [Fact]
    public async Task FoldOwnAsync_AcceptedRowMissedByOneQueryThenSeen_FoldedOnceAndNotReported()
    {
        using var watch = new LossWatch(this, new FuncMapFunctionsOptions());
        var (log, folder, entities) = (watch.Log, watch.Folder, watch.Entities);
        await log.AcceptAsync("late", 3, CancellationToken.None);

        // A query that does not show a confirmed row yet (seen under a real host on Azurite), then one that does.
        var row = Assert.Single(await RowsAsync(log.Source));
        await _table.DeleteEntityAsync(row.PartitionKey, row.RowKey);
        Assert.True(await folder.FoldOwnAsync(entities, CancellationToken.None));
        await _table.AddEntityAsync(new TableEntity(row));
        watch.Time.Now += AcceptFolder.LostAfterMissedFor;
        await folder.FoldOwnAsync(entities, CancellationToken.None);

        Assert.Equal(3, ValueOf(entities, "late"));
        watch.Time.Now += AcceptFolder.LostAfterMissedFor;
        Assert.True(await folder.FoldOwnAsync(entities, CancellationToken.None));
        Assert.Empty(watch.Logger.Lines(6170));
        Assert.Empty(watch.Logger.Lines(6171));
        Assert.Equal(3, ValueOf(entities, "late"));
    }

    [Fact]
    public async Task FoldOwnAsync_AcceptedRowGoneOlderThanHalfFoldStaleAfter_ReportedAsLostOrSwept()
    {
        var options = new FuncMapFunctionsOptions();
        using var watch = new LossWatch(this, options);
        var (log, folder, entities) = (watch.Log, watch.Folder, watch.Entities);
        await log.AcceptAsync("swept", 5, CancellationToken.None);
        var row = Assert.Single(await RowsAsync(log.Source));

        // Gone at an age where another instance's sweep may have folded it: reported as possibly lost.
        await _table.DeleteEntityAsync(row.PartitionKey, row.RowKey);
        watch.Time.Now += options.FoldStaleAfter / 2;

        Assert.True(await folder.FoldOwnAsync(entities, CancellationToken.None));
        watch.Time.Now += AcceptFolder.LostAfterMissedFor;
        Assert.True(await folder.FoldOwnAsync(entities, CancellationToken.None));
        var missing = Assert.Single(watch.Logger.Lines(6171, LogLevel.Critical));
        Assert.Equal((log.Source, 1L, 1, "swept"), ((string)missing["Source"]!, (long)missing["Flush"]!, (int)missing["Adds"]!, (string)missing["Keys"]!));
        Assert.Equal(1, watch.LostAdds("lostOrSwept"));
        Assert.Empty(watch.Logger.Lines(6170));
    }

    [Fact]
    public async Task FoldOwnAsync_EntityStateLostBetweenFolds_LaterAddsApplyAndTheLostRangeIsCounted()
    {
        var log = NewLog();
        var folder = NewFolder(log);
        var entities = new FakeEntityClient { RunCounters = true };
        for (var fold = 0; fold < 3; fold++)
        {
            await log.AcceptAsync("e", 1, CancellationToken.None);
            await folder.FoldOwnAsync(entities, CancellationToken.None);
        }

        Assert.Equal(3, ValueOf(entities, "e"));

        // The entity's state is rolled back to before its first write: its source progress is gone.
        entities.LoseState(Counter.IdOf("e"));
        await log.AcceptAsync("e", 5, CancellationToken.None);
        await folder.FoldOwnAsync(entities, CancellationToken.None);

        Assert.Equal(0, ValueOf(entities, "e"));
        entities.Time.Now += Counter.GapReleaseAfter;
        await entities.DeliverDueRemindersAsync();

        Assert.Equal(5, ValueOf(entities, "e"));
        var lost = Assert.Single(entities.CounterLog.Lines(6150));
        Assert.Equal((3L, 1L, 3L), ((long)lost["Count"]!, (long)lost["First"]!, (long)lost["Last"]!));
    }

    [Fact]
    public async Task BarrierAsync_AcceptedAddOfTheKey_CompletesOnlyOnceItWasSignalled()
    {
        var log = NewLog();
        var (folder, entities) = await StartFolderAsync(log);
        try
        {
            Assert.True(folder.BarrierAsync("other", CancellationToken.None).IsCompletedSuccessfully);
            await log.AcceptAsync("b", 7, CancellationToken.None);

            // The interval is an hour: only the barrier's wake-up folds.
            await folder.BarrierAsync("b", CancellationToken.None);

            Assert.Equal(7, ValueOf(entities, "b"));
            Assert.True(folder.BarrierAsync("b", CancellationToken.None).IsCompletedSuccessfully);
        }
        finally
        {
            await folder.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task StopAsync_MoreThanOneFoldLeft_FoldsAndSignalsEverythingAcceptedAndTakesNoMoreAdds()
    {
        var log = NewLog();
        var logger = new RecordingLogger<AcceptFolder>();
        var (folder, entities) = await StartFolderAsync(log, logger);

        // One row per add, more rows than one fold takes (MaxTransactionsPerFold × MaxRowsPerFold = 990).
        const int Adds = 1_200;
        for (var i = 0; i < Adds; i++)
        {
            await log.AcceptAsync("stop" + (i % 3), 1, CancellationToken.None);
        }

        using var shutdown = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await folder.StopAsync(shutdown.Token);

        Assert.Equal(Enumerable.Repeat(Adds / 3L, 3), Enumerable.Range(0, 3).Select(k => ValueOf(entities, "stop" + k)));
        Assert.Empty(await RowsAsync(log.Source));
        Assert.Single(logger.Lines(6152));
        Assert.Empty(logger.Lines(6153));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => log.AcceptAsync("stop0", 1, CancellationToken.None));
    }

    [Fact]
    public async Task StopAsync_SignalsFailUntilTheShutdownTimeEnds_LogsWhatItLeavesForTheSweep()
    {
        var log = NewLog();
        var logger = new RecordingLogger<AcceptFolder>();
        var (folder, entities) = await StartFolderAsync(log, logger);
        await log.AcceptAsync("left", 1, CancellationToken.None);
        entities.FailSignalsWith = new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.Unavailable, "the host is stopping"));

        using var shutdown = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await folder.StopAsync(shutdown.Token);

        var left = Assert.Single(logger.Lines(6153));
        Assert.Equal((0, 1), ((int)left["Rows"]!, (int)left["Records"]!));
        Assert.Single(await RowsAsync(log.Source), r => AcceptedRows.IsFoldRecord(r.RowKey));
    }

    /// <summary>One app's services as the worker registers them, on the shared Azurite account, with its own task hub and clock.</summary>
    private ServiceProvider App(string taskHub, TimeProvider time)
    {
        // The host registers its configuration; the storage clients read AzureWebJobsStorage from it.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = azurite.ConnectionString,
            [FuncMapFunctionsOptions.TaskHubNameSetting] = taskHub,
        }).Build();
        return new ServiceCollection()
            .AddLogging()
            .AddMetrics()
            .AddSingleton<IConfiguration>(configuration)
            .AddFuncMapFunctions(configuration)
            .AddSingleton(time)
            .BuildServiceProvider();
    }

    [Fact]
    public async Task SweepAsync_TwoAppsOnOneAccount_NeitherFoldsTheOthersAdds()
    {
        var hubX = "FdeepX" + Guid.NewGuid().ToString("N")[..8];
        var hubY = "FdeepY" + Guid.NewGuid().ToString("N")[..8];
        await using var appX = App(hubX, TimeProvider.System);
        await using var appY = App(hubY, new ManualTimeProvider(DateTimeOffset.UtcNow.AddMinutes(5)));
        var entitiesX = new FakeEntityClient { RunCounters = true };
        var entitiesY = new FakeEntityClient { RunCounters = true };
        var logX = appX.GetRequiredService<AcceptLog>();
        var logY = appY.GetRequiredService<AcceptLog>();

        // X's worker accepts and pauses; Y, minutes later by its clock, accepts its own and sweeps.
        await Task.WhenAll(Enumerable.Range(0, 23).Select(_ => logX.AcceptAsync("x:k", 1, CancellationToken.None)));
        await logY.AcceptAsync("y:k", 1, CancellationToken.None);
        var swept = await appY.GetRequiredService<AcceptFolder>().SweepAsync(entitiesY, CancellationToken.None);
        await appY.GetRequiredService<AcceptFolder>().FoldOwnAsync(entitiesY, CancellationToken.None);

        Assert.Equal(0, swept);
        Assert.Equal((0L, 1L), (ValueOf(entitiesY, "x:k"), ValueOf(entitiesY, "y:k")));
        await appX.GetRequiredService<AcceptFolder>().FoldOwnAsync(entitiesX, CancellationToken.None);
        Assert.Equal((23L, 0L), (ValueOf(entitiesX, "x:k"), ValueOf(entitiesX, "y:k")));

        var optionsX = appX.GetRequiredService<IOptions<FuncMapFunctionsOptions>>().Value;
        var optionsY = appY.GetRequiredService<IOptions<FuncMapFunctionsOptions>>().Value;
        Assert.Equal((hubX + "Accepted", hubX + "Counters"), (optionsX.AcceptedTable, optionsX.SnapshotTable));
        Assert.Equal((hubY + "Accepted", hubY + "Counters"), (optionsY.AcceptedTable, optionsY.SnapshotTable));
        Assert.Equal(optionsX.AcceptedTable, logX.Table.Name);
    }

    /// <summary>The adds in the accepted rows among <paramref name="rows"/>.</summary>
    internal static List<AcceptedItem> ItemsIn(IEnumerable<TableEntity> rows) =>
        rows.Where(r => !AcceptedRows.IsFoldRecord(r.RowKey)).SelectMany(AcceptedRows.ReadItems).ToList();

    /// <summary>A table client of a storage endpoint where nothing listens (no retries): storage that is down.</summary>
    internal static TableClient DeadTable()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var options = StorageClientDefaults.Tables();
        options.Retry.MaxRetries = 0;
        var connection = $"DefaultEndpointsProtocol=http;AccountName={AzuriteFixture.AccountName};AccountKey={AzuriteFixture.AccountKey};TableEndpoint=http://127.0.0.1:{port}/{AzuriteFixture.AccountName};";
        return new TableClient(connection, "down", options);
    }
}
