using FuncMap.Counters;
using FuncMap.Engine;

namespace FuncMap.Core.Tests;

public sealed class EngineSnapshotTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private static CounterData Data(long value, long version, bool exists = true) =>
        new() { Value = value, Version = version, UpdatedAtTicks = Start.UtcTicks, Exists = exists };

    private static Dictionary<string, CounterChange> ByKey(IReadOnlyList<CounterChange> changes) =>
        changes.ToDictionary(c => c.Key);

    [Fact]
    public async Task CollectChangesAsync_AfterMarkPersisted_ReturnsNothing()
    {
        await using var engine = Engines.Started(Engines.Options(2));
        await engine.ExecuteAsync("a", CounterOperation.Add(1, "x"));
        await engine.ExecuteAsync("b", CounterOperation.Add(2));

        var changes = ByKey(await engine.CollectChangesAsync());

        Assert.Equal(["a", "b"], changes.Keys.Order(StringComparer.Ordinal));
        Assert.Equal((1L, 1L, true), (changes["a"].Data.Value, changes["a"].Data.Version, changes["a"].Data.Exists));
        Assert.Equal(["x\tadd:1"], changes["a"].RecentOperationIds!);
        Assert.Null(changes["b"].RecentOperationIds);

        await engine.MarkPersistedAsync([.. changes.Values]);

        Assert.Empty(await engine.CollectChangesAsync());
    }

    [Fact]
    public async Task CollectAllAsync_AfterMarkPersisted_StillReturnsEveryLiveCounterWithItsWindow_NotAPersistedTombstone()
    {
        await using var engine = Engines.Started(Engines.Options(2));
        await engine.ExecuteAsync("a", CounterOperation.Add(1, "x"));
        await engine.ExecuteAsync("b", CounterOperation.Add(2));
        await engine.ExecuteAsync("gone", CounterOperation.Add(3));
        await engine.ExecuteAsync("gone", CounterOperation.Delete());
        await engine.MarkPersistedAsync(await engine.CollectChangesAsync());
        Assert.Empty(await engine.CollectChangesAsync());

        var all = ByKey(await engine.CollectAllAsync());

        Assert.Equal(["a", "b"], all.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["x\tadd:1"], all["a"].RecentOperationIds!);
        Assert.Equal((2L, 1L), (all["b"].Data.Value, all["b"].Data.Version));
    }

    [Fact]
    public async Task CollectChangesAsync_ChangeAfterCollect_IsCollectedNextTime()
    {
        await using var engine = Engines.Started(Engines.Options(2));
        await engine.ExecuteAsync("a", CounterOperation.Add(1));
        var first = await engine.CollectChangesAsync();

        await engine.ExecuteAsync("a", CounterOperation.Add(10)); // while the snapshot is being written
        await engine.MarkPersistedAsync(first);

        var next = Assert.Single(await engine.CollectChangesAsync());
        Assert.Equal((11L, 2L), (next.Data.Value, next.Data.Version));
        await engine.MarkPersistedAsync([next]);
        Assert.Empty(await engine.CollectChangesAsync());
    }

    [Fact]
    public async Task CollectChangesAsync_WriteFailedAndNotMarked_CollectedAgain()
    {
        await using var engine = Engines.Started(Engines.Options(2));
        await engine.ExecuteAsync("a", CounterOperation.Add(1));

        var first = Assert.Single(await engine.CollectChangesAsync());
        var again = Assert.Single(await engine.CollectChangesAsync());

        Assert.Equal(first, again);
    }

    [Fact]
    public async Task CollectChangesAsync_Delete_CollectedAsTombstoneThenForgotten()
    {
        await using var engine = Engines.Started(Engines.Options(2));
        await engine.ExecuteAsync("gone", CounterOperation.Add(4));
        await engine.MarkPersistedAsync(await engine.CollectChangesAsync());
        await engine.ExecuteAsync("gone", CounterOperation.Delete());

        var tombstone = Assert.Single(await engine.CollectChangesAsync());

        Assert.Equal(("gone", false, 2L), (tombstone.Key, tombstone.Data.Exists, tombstone.Data.Version));
        Assert.Equal(1, engine.CounterCount);

        await engine.MarkPersistedAsync([tombstone]);

        Assert.Equal(0, engine.CounterCount);
        Assert.Empty(await engine.CollectChangesAsync());
        Assert.False(engine.TryGet("gone", out _));
    }

    [Fact]
    public async Task MarkPersistedAsync_TombstoneRecreatedSinceCollect_KeepsCounter()
    {
        await using var engine = Engines.Started(Engines.Options(2));
        await engine.ExecuteAsync("k", CounterOperation.Add(4));
        await engine.ExecuteAsync("k", CounterOperation.Delete());
        var tombstone = Assert.Single(await engine.CollectChangesAsync());

        await engine.ExecuteAsync("k", CounterOperation.Add(1));
        await engine.MarkPersistedAsync([tombstone]);

        Assert.True(engine.TryGet("k", out var counter));
        Assert.Equal((1L, 3L), (counter.Value, counter.Version));
        var next = Assert.Single(await engine.CollectChangesAsync());
        Assert.True(next.Data.Exists);
    }

    [Fact]
    public async Task Load_HigherVersionWinsInEitherOrder()
    {
        var engine = new CounterEngine(Engines.Options(2));
        engine.Load("snap-first", Data(5, 5), null, persisted: true);
        engine.Load("snap-first", Data(7, 7), null, persisted: false);
        engine.Load("journal-first", Data(7, 7), null, persisted: false);
        engine.Load("journal-first", Data(5, 5), null, persisted: true);
        engine.Start();
        await using var owned = engine;

        Assert.True(engine.TryGet("snap-first", out var a));
        Assert.True(engine.TryGet("journal-first", out var b));
        Assert.Equal((7L, 7L), (a.Value, a.Version));
        Assert.Equal((7L, 7L), (b.Value, b.Version));
        var changes = ByKey(await engine.CollectChangesAsync());
        Assert.Equal(7, changes["snap-first"].Data.Version);   // the table has only version 5
        Assert.Equal(7, changes["journal-first"].Data.Version);
    }

    [Fact]
    public async Task Load_PersistedFlag_DecidesWhetherTheCounterNeedsASnapshot()
    {
        var engine = new CounterEngine(Engines.Options(2));
        engine.Load("from-table", Data(3, 3), null, persisted: true);
        engine.Load("from-journal", Data(4, 4), null, persisted: false);
        engine.Load("deleted-in-journal", Data(0, 9, exists: false), null, persisted: false);
        engine.Start();
        await using var owned = engine;

        var changes = ByKey(await engine.CollectChangesAsync());

        Assert.Equal(["deleted-in-journal", "from-journal"], changes.Keys.Order(StringComparer.Ordinal));
        Assert.True(engine.TryGet("from-table", out var fromTable));
        Assert.Equal(3, fromTable.Value);
        Assert.False(engine.TryGet("deleted-in-journal", out _));
    }

    [Fact]
    public async Task Load_OperationIds_DeduplicationSurvivesRestart()
    {
        var engine = new CounterEngine(Engines.Options(2));
        engine.Load("k", Data(5, 5), ["op-4", "op-5"], persisted: true);
        engine.Load("k", Data(6, 6), ["op-5", "op-6"], persisted: false);
        engine.Start();
        await using var owned = engine;

        foreach (var id in new[] { "op-4", "op-5", "op-6" })
        {
            Assert.Equal(OperationStatus.Duplicate, (await engine.ExecuteAsync("k", CounterOperation.Add(1, id))).Status);
        }

        var applied = await engine.ExecuteAsync("k", CounterOperation.Add(1, "op-7"));
        Assert.Equal((7L, 7L), (applied.Counter.Value, applied.Counter.Version));
        Assert.Equal(["op-4", "op-5", "op-6", "op-7\tadd:1"], Assert.Single(await engine.CollectChangesAsync()).RecentOperationIds!);
    }

    [Fact]
    public async Task Load_FingerprintedEntries_ReusedIdForOtherRequestRefusedAfterRestart()
    {
        var engine = new CounterEngine(Engines.Options(2));
        engine.Load("k", Data(5, 1), ["op-A\tadd:5"], persisted: true);
        engine.Load("k", Data(6, 2), ["op-A\tadd:5", "op-B\treset"], persisted: false);
        engine.Start();
        await using var owned = engine;

        Assert.Equal(OperationStatus.Duplicate, (await engine.ExecuteAsync("k", CounterOperation.Add(5, "op-A"))).Status);
        Assert.Equal(OperationStatus.Mismatch, (await engine.ExecuteAsync("k", CounterOperation.Add(100, "op-A"))).Status);
        Assert.Equal(OperationStatus.Mismatch, (await engine.ExecuteAsync("k", CounterOperation.Add(1, "op-B"))).Status);
        Assert.Equal(["op-A\tadd:5", "op-B\treset"], Assert.Single(await engine.CollectChangesAsync()).RecentOperationIds!);
    }

    [Fact]
    public async Task Load_RecordOfOlderEpoch_NeverOverridesRowOfNewerEpoch_InEitherOrder()
    {
        // The old owner's journal holds version 7 (epoch 1); the new owner's row has version 6 (epoch 2): the row wins,
        // and the journal record's operation id is dropped with it, so a retry of that write is applied, not skipped.
        var engine = new CounterEngine(Engines.Options(2));
        engine.Load("row-first", Data(106, 6), ["new-6"], persisted: true, epoch: 2);
        engine.Load("row-first", Data(7, 7), ["old-7"], persisted: false, epoch: 1);
        engine.Load("journal-first", Data(7, 7), ["old-7"], persisted: false, epoch: 1);
        engine.Load("journal-first", Data(106, 6), ["new-6"], persisted: true, epoch: 2);
        engine.Load("same-version", Data(100, 1), ["new-1"], persisted: true, epoch: 2);
        engine.Load("same-version", Data(1, 1), ["old-1"], persisted: false, epoch: 1);
        engine.Start();
        await using var owned = engine;

        foreach (var key in new[] { "row-first", "journal-first" })
        {
            Assert.True(engine.TryGet(key, out var counter));
            Assert.Equal((106L, 6L), (counter.Value, counter.Version));
            Assert.Equal(OperationStatus.Applied, (await engine.ExecuteAsync(key, CounterOperation.Add(1, "old-7"))).Status);
            Assert.Equal(OperationStatus.Duplicate, (await engine.ExecuteAsync(key, CounterOperation.Add(1, "new-6"))).Status);
        }

        Assert.True(engine.TryGet("same-version", out var same));
        Assert.Equal((100L, 1L), (same.Value, same.Version));
    }

    [Fact]
    public async Task Load_RecordOfNewerEpoch_ReplacesRowOfOlderEpoch_AndNeedsASnapshot()
    {
        var engine = new CounterEngine(Engines.Options(2));
        engine.Load("k", Data(40, 40), ["old"], persisted: true, epoch: 1);
        engine.Load("k", Data(5, 40), ["new"], persisted: false, epoch: 3);
        engine.Start();
        await using var owned = engine;

        Assert.True(engine.TryGet("k", out var counter));
        Assert.Equal((5L, 40L), (counter.Value, counter.Version));
        var change = Assert.Single(await engine.CollectChangesAsync()); // same version as the row, another value: dirty
        Assert.Equal(["new"], change.RecentOperationIds!);
    }

    [Fact]
    public async Task Load_AfterStart_Throws()
    {
        await using var engine = Engines.Started();

        Assert.Throws<InvalidOperationException>(() => engine.Load("k", Data(1, 1), null, persisted: true));
    }
}

public sealed class EngineListTests
{
    private static async Task<CounterEngine> WithKeysAsync(IEnumerable<string> keys)
    {
        var engine = Engines.Started(Engines.Options(4));
        foreach (var key in keys)
        {
            await engine.ExecuteAsync(key, CounterOperation.Add(key.Length));
        }

        return engine;
    }

    [Fact]
    public async Task List_AllCounters_OrderedOrdinallyWithoutDeleted()
    {
        await using var engine = await WithKeysAsync(["b:2", "a:3", "a:1", "c:1", "a:2", "a:10", "B:1"]);
        await engine.ExecuteAsync("a:2", CounterOperation.Delete());

        var page = engine.List(null, 100, null);

        Assert.Equal(["B:1", "a:1", "a:10", "a:3", "b:2", "c:1"], page.Items.Select(c => c.Key));
        Assert.Null(page.ContinuationKey);
        Assert.Equal((3L, 1L), (page.Items[1].Value, page.Items[1].Version));
    }

    [Fact]
    public async Task List_Prefix_OnlyMatchingKeysCaseSensitive()
    {
        await using var engine = await WithKeysAsync(["b:2", "a:3", "a:1", "A:1", "ab", "a:10"]);

        var page = engine.List("a:", 100, null);

        Assert.Equal(["a:1", "a:10", "a:3"], page.Items.Select(c => c.Key));
    }

    [Fact]
    public async Task List_PagingWithContinuation_ReturnsEachKeyOnce()
    {
        var keys = Enumerable.Range(0, 250).Select(i => $"p:{i:x}").ToList();
        await using var engine = await WithKeysAsync(keys.Append("q:other"));
        await engine.ExecuteAsync("p:7", CounterOperation.Delete());
        var expected = keys.Where(k => k != "p:7").Order(StringComparer.Ordinal).ToList();

        var seen = new List<string>();
        string? after = null;
        var pages = 0;
        do
        {
            var page = engine.List("p:", 7, after);
            Assert.True(page.Items.Count is > 0 and <= 7);
            seen.AddRange(page.Items.Select(c => c.Key));
            after = page.ContinuationKey;
            pages++;
        }
        while (after is not null);

        Assert.Equal(expected, seen);
        Assert.Equal((expected.Count + 6) / 7, pages);
    }

    [Fact]
    public async Task List_PageSizeDividesCount_LastPageHasNoContinuation()
    {
        await using var engine = await WithKeysAsync(Enumerable.Range(0, 10).Select(i => $"k{i}"));

        var first = engine.List(null, 5, null);
        var second = engine.List(null, 5, first.ContinuationKey);

        Assert.Equal("k4", first.ContinuationKey);
        Assert.Equal(["k5", "k6", "k7", "k8", "k9"], second.Items.Select(c => c.Key));
        Assert.Null(second.ContinuationKey);
    }

    [Fact]
    public async Task List_PageSizeIntMax_ReturnsEverythingInOrder()
    {
        await using var engine = await WithKeysAsync(["c", "a", "b"]);

        var page = engine.List(null, int.MaxValue, null);

        Assert.Equal(["a", "b", "c"], page.Items.Select(c => c.Key));
        Assert.Null(page.ContinuationKey);
    }

    [Fact]
    public async Task List_PageSizeZero_Throws()
    {
        await using var engine = Engines.Started();

        Assert.Throws<ArgumentOutOfRangeException>(() => engine.List(null, 0, null));
    }

    [Fact]
    public async Task CollectChangesAsync_AfterStop_ReturnsEverythingAcceptedBeforeStop()
    {
        var engine = Engines.Started(Engines.Options(4));
        for (var i = 0; i < 10_000; i++)
        {
            await engine.PostAsync($"k{i % 100}", CounterOperation.Add(1));
        }

        await engine.StopAsync();
        var changes = await engine.CollectChangesAsync();

        Assert.Equal(100, changes.Count);
        Assert.All(changes, c => Assert.Equal((100L, 100L), (c.Data.Value, c.Data.Version)));
        await engine.MarkPersistedAsync(changes);
        Assert.Empty(await engine.CollectChangesAsync());
        await engine.DisposeAsync();
    }

    [Fact]
    public async Task StopAsync_CalledTwice_SecondCallAlsoWaitsForTheDrain()
    {
        var engine = Engines.Started(Engines.Options(2));
        for (var i = 0; i < 50_000; i++)
        {
            await engine.PostAsync("hot", CounterOperation.Add(1));
        }

        var first = engine.StopAsync();
        await engine.StopAsync();

        // The second call returned only after the owners drained: everything accepted is applied.
        Assert.True(engine.TryGet("hot", out var hot));
        Assert.Equal(50_000, hot.Value);
        await first;
        await engine.DisposeAsync();
    }
}
