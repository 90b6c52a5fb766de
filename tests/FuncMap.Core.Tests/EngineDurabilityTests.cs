using FuncMap.Counters;

namespace FuncMap.Core.Tests;

/// <summary>
/// With a log, readers see only what is durable, and what the log refused is rolled back in the owner: it is never
/// served, its version number is never seen with its value, and its operation id is not taken for a duplicate.
/// </summary>
public sealed class EngineDurabilityTests
{
    [Fact]
    public async Task TryGet_GroupInFlight_ShowsTheDurableStateUntilTheGroupIsDurable()
    {
        var durable = new TaskCompletionSource();
        var log = new ScriptedLog { Next = call => call == 2 ? durable.Task : Task.CompletedTask };
        await using var engine = Engines.Started(Engines.Options(1), log);
        await engine.ExecuteAsync("k", CounterOperation.Add(5));

        var add = engine.ExecuteAsync("k", CounterOperation.Add(100));
        await log.NextAppendAsync();
        await log.NextAppendAsync(); // the +100 is appended, not durable

        Assert.True(engine.TryGet("k", out var during));
        Assert.Equal((5L, 1L), (during.Value, during.Version));
        Assert.Equal([5L], engine.List(null, 10, null).Items.Select(static c => c.Value));
        Assert.False(add.IsCompleted);

        durable.SetResult();
        var answered = await add.WaitAsync(Engines.Guard);
        Assert.True(engine.TryGet("k", out var after)); // answered after publication: the caller reads its own write
        Assert.Equal((105L, 2L), (answered.Counter.Value, answered.Counter.Version));
        Assert.Equal((105L, 2L), (after.Value, after.Version));
    }

    [Fact]
    public async Task ExecuteAsync_GroupRefused_NeverServedAndRolledBackWithItsOperationId()
    {
        var log = new ScriptedLog { Next = call => call == 2 ? Task.FromException(new IOException("No space left on device")) : Task.CompletedTask };
        await using var engine = Engines.Started(Engines.Options(1), log);
        await engine.ExecuteAsync("k", CounterOperation.Add(5));

        var refused = await Assert.ThrowsAsync<IOException>(() => engine.ExecuteAsync("k", CounterOperation.Add(100, "op-x")));
        Assert.True(engine.TryGet("k", out var afterRefusal));
        var next = await engine.ExecuteAsync("k", CounterOperation.Add(1));
        var retry = await engine.ExecuteAsync("k", CounterOperation.Add(100, "op-x"));

        Assert.Equal("No space left on device", refused.Message);
        Assert.Equal((5L, 1L), (afterRefusal.Value, afterRefusal.Version));
        // The next write builds on the durable state: version 2 now has the value the log holds for it.
        Assert.Equal((OperationStatus.Applied, 6L, 2L), (next.Status, next.Counter.Value, next.Counter.Version));
        // The refused id was taken back out of the window: its retry is applied, not answered as a replay.
        Assert.Equal((OperationStatus.Applied, 106L, 3L), (retry.Status, retry.Counter.Value, retry.Counter.Version));
        Assert.Equal([(5L, 1L), (6L, 2L), (106L, 3L)], log.Recorded.Where(static r => r.Key == "k").Select(static r => (r.After.Value, r.After.Version)).Except([(105L, 2L)]));
    }

    [Fact]
    public async Task ExecuteAsync_RefusedAddOnANewKey_TheKeyNeverExists()
    {
        var log = new ScriptedLog { Next = _ => Task.FromException(new IOException("EIO")) };
        await using var engine = Engines.Started(Engines.Options(1), log);

        await Assert.ThrowsAsync<IOException>(() => engine.ExecuteAsync("new", CounterOperation.Add(3)));
        log.Next = _ => Task.CompletedTask;
        var other = await engine.ExecuteAsync("other", CounterOperation.Add(1)); // a drain after the refusal: the owner rolled back

        Assert.False(engine.TryGet("new", out _));
        Assert.Empty(engine.List("new", 10, null).Items);
        Assert.Equal(1L, other.Counter.Value);
        Assert.Equal(1L, engine.CounterCount); // the refused key's cell is gone, not a tombstone
    }

    [Fact]
    public async Task ExecuteAsync_RefusedDeleteAndReset_TheCounterKeepsItsDurableValue()
    {
        var refuse = false;
        var log = new ScriptedLog { Next = _ => Volatile.Read(ref refuse) ? Task.FromException(new IOException("EROFS")) : Task.CompletedTask };
        await using var engine = Engines.Started(Engines.Options(1), log);
        await engine.ExecuteAsync("k", CounterOperation.Add(9));

        Volatile.Write(ref refuse, true);
        await Assert.ThrowsAsync<IOException>(() => engine.ExecuteAsync("k", CounterOperation.Delete("del-1")));
        await Assert.ThrowsAsync<IOException>(() => engine.ExecuteAsync("k", CounterOperation.Reset()));
        Volatile.Write(ref refuse, false);
        var delete = await engine.ExecuteAsync("k", CounterOperation.Delete("del-1"));

        Assert.Equal((OperationStatus.Applied, 2L), (delete.Status, delete.Counter.Version)); // applied, not a replay of the refused delete
        Assert.False(engine.TryGet("k", out _));
    }

    [Fact]
    public async Task ExecuteAsync_RefusedIdPushedTheOldestOutOfAFullWindow_TheOldestIsRememberedAgain()
    {
        var refuse = false;
        var log = new ScriptedLog { Next = _ => Volatile.Read(ref refuse) ? Task.FromException(new IOException("EIO")) : Task.CompletedTask };
        await using var engine = Engines.Started(Engines.Options(1), log);
        for (var i = 0; i < OperationWindow.Capacity; i++)
        {
            await engine.ExecuteAsync("k", CounterOperation.Add(1, $"id-{i}"));
        }

        Volatile.Write(ref refuse, true);
        await Assert.ThrowsAsync<IOException>(() => engine.ExecuteAsync("k", CounterOperation.Add(1, "id-new")));
        Volatile.Write(ref refuse, false);
        var oldest = await engine.ExecuteAsync("k", CounterOperation.Add(1, "id-0"));

        Assert.Equal((OperationStatus.Duplicate, 64L), (oldest.Status, oldest.Counter.Value));
    }

    [Fact]
    public async Task Append_OnTopOfAGroupInFlight_CarriesTheGenerationOfTheFirst_ThenTheNewOneAfterTheRollback()
    {
        var first = new TaskCompletionSource();
        var log = new ScriptedLog { Next = call => call == 1 ? first.Task : call == 2 ? Task.FromException(new IOException("refused: stale generation")) : Task.CompletedTask };
        await using var engine = Engines.Started(Engines.Options(1), log);

        var a = engine.ExecuteAsync("k", CounterOperation.Add(1));
        await log.NextAppendAsync();
        log.Fail(); // the log failed while the first group was in flight: its generation changed
        var b = engine.ExecuteAsync("k", CounterOperation.Add(10));
        await log.NextAppendAsync();
        first.SetException(new IOException("fsync failed"));
        await Assert.ThrowsAsync<IOException>(() => a.WaitAsync(Engines.Guard));
        await Assert.ThrowsAsync<IOException>(() => b.WaitAsync(Engines.Guard));
        var c = await engine.ExecuteAsync("k", CounterOperation.Add(100));

        // b was built on a, so it was appended under a's generation (which the log then refuses); c, after the
        // rollback, under the new one, on the durable state.
        Assert.Equal([0L, 0L, 1L], log.Generations);
        Assert.Equal((100L, 1L), (c.Counter.Value, c.Counter.Version));
    }

    [Fact]
    public async Task CollectChangesAsync_GroupInFlight_AnswersOnceDurable_AndFailsWhenRefused()
    {
        var durable = new TaskCompletionSource();
        var log = new ScriptedLog { Next = call => call == 1 ? durable.Task : Task.CompletedTask };
        await using var engine = Engines.Started(Engines.Options(1), log);

        var add = engine.ExecuteAsync("k", CounterOperation.Add(4, "op-4"));
        await log.NextAppendAsync();
        var collect = engine.CollectChangesAsync();
        // Answered by the owner after it handled the collect (one mailbox, in order): the collect is still waiting.
        await engine.ExecuteAsync("other", CounterOperation.Add(1));
        Assert.False(collect.IsCompleted);
        durable.SetResult();
        var changes = await collect.WaitAsync(Engines.Guard);
        await add.WaitAsync(Engines.Guard);

        log.Next = _ => Task.FromException(new IOException("EIO"));
        var refusedAdd = engine.ExecuteAsync("k", CounterOperation.Add(1, "op-1"));
        var refusedCollect = engine.CollectChangesAsync();
        await Assert.ThrowsAsync<IOException>(() => refusedAdd.WaitAsync(Engines.Guard));
        await Assert.ThrowsAsync<IOException>(() => refusedCollect.WaitAsync(Engines.Guard));
        log.Next = _ => Task.CompletedTask;
        var after = await engine.CollectChangesAsync().WaitAsync(Engines.Guard);

        var change = Assert.Single(changes);
        Assert.Equal((4L, 1L), (change.Data.Value, change.Data.Version));
        Assert.Equal(["op-4\tadd:4"], change.RecentOperationIds!);
        var rolledBack = Assert.Single(after, static c => c.Key == "k"); // still dirty (never marked), and without the refused add or its id
        Assert.Equal((4L, 1L), (rolledBack.Data.Value, rolledBack.Data.Version));
        Assert.Equal(["op-4\tadd:4"], rolledBack.RecentOperationIds!);
    }

    [Fact]
    public async Task StopAsync_GroupRefusedWhileStopping_CollectAfterTheStopHoldsOnlyTheDurableState()
    {
        var second = new TaskCompletionSource();
        var log = new ScriptedLog { Next = call => call == 2 ? second.Task : Task.CompletedTask };
        var engine = Engines.Started(Engines.Options(1), log);
        await engine.ExecuteAsync("k", CounterOperation.Add(2));
        var refused = engine.ExecuteAsync("k", CounterOperation.Add(40));
        await log.NextAppendAsync();
        await log.NextAppendAsync();

        var stop = engine.StopAsync();
        second.SetException(new IOException("EIO"));
        await stop.WaitAsync(Engines.Guard);
        var changes = await engine.CollectChangesAsync();

        await Assert.ThrowsAsync<IOException>(() => refused);
        var change = Assert.Single(changes);
        Assert.Equal((2L, 1L), (change.Data.Value, change.Data.Version));
        await engine.DisposeAsync();
    }

    [Fact]
    public async Task ConcurrentWriters_EveryOtherGroupRefused_TheDurableTotalEqualsTheAcknowledgedAdds()
    {
        // Refuse every third append: the counter must end at exactly the sum of the adds that were answered.
        var log = new ScriptedLog { Next = call => call % 3 == 0 ? Task.FromException(new IOException("EIO")) : Task.CompletedTask };
        await using var engine = Engines.Started(Engines.Options(2), log);
        const int Writers = 8, Adds = 200;
        var acknowledged = new long[Writers];
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < Adds; i++)
            {
                try
                {
                    await engine.ExecuteAsync(w % 2 == 0 ? "hot" : $"key-{w}", CounterOperation.Add(w + 1));
                    acknowledged[w] += w + 1;
                }
                catch (IOException)
                {
                }
            }
        })));

        var hot = Enumerable.Range(0, Writers).Where(static w => w % 2 == 0).Sum(w => acknowledged[w]);
        Assert.True(engine.TryGet("hot", out var counter));
        Assert.Equal(hot, counter.Value);
        foreach (var w in Enumerable.Range(0, Writers).Where(static w => w % 2 == 1))
        {
            Assert.Equal(acknowledged[w], engine.TryGet($"key-{w}", out var c) ? c.Value : 0);
        }
    }
}
