using FuncMap.Batches;
using FuncMap.Counters;
using FuncMap.Engine;

namespace FuncMap.Core.Tests;

public sealed class EngineOperationTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task ExecuteAsync_Add_ReturnsCounterStampedWithTheClock()
    {
        var clock = new ManualTimeProvider(Start);
        await using var engine = Engines.Started(time: clock);

        var first = await engine.ExecuteAsync("k", CounterOperation.Add(5));
        clock.Advance(TimeSpan.FromMinutes(1));
        var second = await engine.ExecuteAsync("k", CounterOperation.Add(-2));

        Assert.Equal(new OperationResult(OperationStatus.Applied, new CounterSnapshot("k", 5, 1, Start)), first);
        Assert.Equal(new OperationResult(OperationStatus.Applied, new CounterSnapshot("k", 3, 2, Start.AddMinutes(1))), second);
        Assert.True(engine.TryGet("k", out var read));
        Assert.Equal(second.Counter, read);
    }

    [Fact]
    public async Task ExecuteAsync_ResetAndDelete_FollowTheRules()
    {
        await using var engine = Engines.Started();

        Assert.Equal(OperationStatus.NotFound, (await engine.ExecuteAsync("k", CounterOperation.Reset())).Status);
        Assert.Equal(OperationStatus.NotFound, (await engine.ExecuteAsync("k", CounterOperation.Delete())).Status);
        Assert.False(engine.TryGet("k", out _));

        await engine.ExecuteAsync("k", CounterOperation.Add(9));
        var reset = await engine.ExecuteAsync("k", CounterOperation.Reset());
        var deleted = await engine.ExecuteAsync("k", CounterOperation.Delete());

        Assert.Equal((OperationStatus.Applied, 0L, 2L), (reset.Status, reset.Counter.Value, reset.Counter.Version));
        Assert.Equal((OperationStatus.Applied, 3L), (deleted.Status, deleted.Counter.Version));
        Assert.False(engine.TryGet("k", out _));
        Assert.Equal(OperationStatus.NotFound, (await engine.ExecuteAsync("k", CounterOperation.Delete())).Status);

        var again = await engine.ExecuteAsync("k", CounterOperation.Add(1));
        Assert.Equal((1L, 4L), (again.Counter.Value, again.Counter.Version)); // versions never go back
    }

    [Theory]
    [InlineData(long.MaxValue, 1)]
    [InlineData(long.MinValue, -1)]
    public async Task ExecuteAsync_AddThatOverflows_OverflowAndValueUnchanged(long start, long delta)
    {
        await using var engine = Engines.Started();
        await engine.ExecuteAsync("k", CounterOperation.Add(start));

        var result = await engine.ExecuteAsync("k", CounterOperation.Add(delta, "op-overflow"));

        Assert.Equal(OperationStatus.Overflow, result.Status);
        Assert.False(result.Succeeded);
        Assert.Equal((start, 1L), (result.Counter.Value, result.Counter.Version));
        Assert.True(engine.TryGet("k", out var read));
        Assert.Equal((start, 1L), (read.Value, read.Version));
    }

    [Fact]
    public async Task ExecuteAsync_SameOperationIdTwice_AppliedOnce()
    {
        await using var engine = Engines.Started();

        var first = await engine.ExecuteAsync("k", CounterOperation.Add(5, "idem-1"));
        var second = await engine.ExecuteAsync("k", CounterOperation.Add(5, "idem-1"));
        await engine.PostAsync("k", CounterOperation.Add(5, "idem-1"));
        var third = await engine.ExecuteAsync("k", CounterOperation.Add(1, "idem-2"));

        Assert.Equal(OperationStatus.Applied, first.Status);
        Assert.Equal(OperationStatus.Duplicate, second.Status);
        Assert.True(second.Succeeded);
        Assert.Equal((5L, 1L), (second.Counter.Value, second.Counter.Version));
        Assert.Equal((6L, 2L), (third.Counter.Value, third.Counter.Version));
    }

    [Fact]
    public async Task ApplyBatchAsync_SameBatchTwice_CountsOnce()
    {
        await using var engine = Engines.Started(Engines.Options(4));
        var keys = Enumerable.Range(0, 50).Select(i => $"b:{i}").ToList();
        var items = keys.SelectMany(k => new[] { new IncrementItem(k, 2), new IncrementItem(k, 3) }).ToList();
        var batch = IncrementBatchParser.Aggregate("batch-1", items).Batch!;

        var first = await engine.ApplyBatchAsync(batch);
        var second = await engine.ApplyBatchAsync(batch);

        Assert.Equal(new BatchResult("batch-1", 50, 0, [], []), first with { OverflowedKeys = [], MismatchedKeys = [] });
        Assert.Empty(first.OverflowedKeys);
        Assert.Equal((0, 50), (second.Applied, second.Duplicates));
        foreach (var key in keys)
        {
            Assert.True(engine.TryGet(key, out var counter));
            Assert.Equal((5L, 1L), (counter.Value, counter.Version));
        }
    }

    [Fact]
    public async Task ApplyBatchAsync_KeyThatOverflows_ReportedAndOthersApplied()
    {
        await using var engine = Engines.Started();
        await engine.ExecuteAsync("full", CounterOperation.Add(long.MaxValue));
        var batch = IncrementBatchParser.Aggregate("batch-2", [new("full", 1), new("ok", 1)]).Batch!;

        var result = await engine.ApplyBatchAsync(batch);

        Assert.Equal((1, 0), (result.Applied, result.Duplicates));
        Assert.Equal(["full"], result.OverflowedKeys);
        Assert.True(engine.TryGet("full", out var full));
        Assert.Equal((long.MaxValue, 1L), (full.Value, full.Version));
    }

    [Fact]
    public async Task ApplyBatchAsync_ReusedIdWithNewKeyAndOtherDelta_AppliesNewKeyRefusesChangedKey()
    {
        await using var engine = Engines.Started(Engines.Options(4));
        await engine.ApplyBatchAsync(IncrementBatchParser.Aggregate("dup-1", [new("d:a", 1), new("d:c", 1)]).Batch!);

        var second = await engine.ApplyBatchAsync(IncrementBatchParser.Aggregate("dup-1", [new("d:b", 1), new("d:a", 1), new("d:c", 2)]).Batch!);

        Assert.Equal((1, 1), (second.Applied, second.Duplicates));
        Assert.Equal(["d:c"], second.MismatchedKeys);
        Assert.Equal((1L, 1L, 1L), (Value(engine, "d:a"), Value(engine, "d:b"), Value(engine, "d:c")));
    }

    [Fact]
    public async Task AcceptAsync_WithoutJournalReusedIdForOtherRequest_ReturnsMismatch()
    {
        await using var engine = Engines.Started();
        Assert.Null(await engine.AcceptAsync("k", CounterOperation.Add(5)));
        Assert.Equal(OperationStatus.Applied, (await engine.AcceptAsync("k", CounterOperation.Add(5, "op-A")))?.Status);

        Assert.Equal(OperationStatus.Duplicate, (await engine.AcceptAsync("k", CounterOperation.Add(5, "op-A")))?.Status);
        Assert.Equal(OperationStatus.Mismatch, (await engine.AcceptAsync("k", CounterOperation.Add(100, "op-A")))?.Status);
        Assert.Equal(OperationStatus.Mismatch, (await engine.AcceptAsync("k", CounterOperation.Reset("op-A")))?.Status);
        Assert.Equal(10, Value(engine, "k"));
    }

    private static long Value(CounterEngine engine, string key) => engine.TryGet(key, out var counter) ? counter.Value : -1;

    [Fact]
    public async Task ApplyBatchAsync_EmptyBatch_CompletesWithoutWaitingForTheTimeout()
    {
        var options = Engines.Options(1);
        options.OperationTimeout = TimeSpan.FromMilliseconds(500);
        await using var engine = Engines.Started(options);

        var result = await engine.ApplyBatchAsync(new IncrementBatch("empty", 0, []));

        Assert.Equal(new BatchResult("empty", 0, 0, [], []), result with { OverflowedKeys = [], MismatchedKeys = [] });
        Assert.Empty(result.OverflowedKeys);
    }

    [Fact]
    public async Task AcceptAsync_WithoutJournal_ReturnsNullOnceAccepted()
    {
        await using var engine = Engines.Started();

        Assert.False(engine.IsJournaled);
        Assert.Null(await engine.AcceptAsync("k", CounterOperation.Add(2)));
        await EngineConcurrencyTests.BarrierAsync(engine);
        Assert.True(engine.TryGet("k", out var counter));
        Assert.Equal(2, counter.Value);
    }

    [Fact]
    public async Task IsJournaled_EngineConstructedWithALog_IsTrueWhicheverWayItWasCreated()
    {
        var log = new ScriptedLog();
        await using var constructed = new CounterEngine(Engines.Options(2), log);
        await using var created = CounterEngine.CreateJournaled(Engines.Options(2), log);

        Assert.True(constructed.IsJournaled);
        Assert.True(created.IsJournaled);
    }

    [Fact]
    public async Task TryGet_Missing_ReturnsFalse()
    {
        await using var engine = Engines.Started();

        Assert.False(engine.TryGet("nobody", out var counter));
        Assert.Equal(default, counter);
    }

    [Fact]
    public void Constructor_ShardCountNotAPowerOfTwo_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CounterEngine(new CounterEngineOptions { ShardCount = 3 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CounterEngine(new CounterEngineOptions { ShardCount = 128 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CounterEngine(new CounterEngineOptions { ShardCount = 2, MailboxCapacity = 0 }));
    }

    [Fact]
    public void ShardOf_IsPartitionModuloShardCount()
    {
        var engine = new CounterEngine(new CounterEngineOptions { ShardCount = 8 });

        foreach (var key in new[] { "a", "foobar", "page:home" })
        {
            Assert.Equal(CounterPartition.Of(key) % 8, engine.ShardOf(key));
        }
    }
}
