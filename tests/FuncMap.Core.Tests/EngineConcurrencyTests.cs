using FuncMap.Counters;
using FuncMap.Engine;

namespace FuncMap.Core.Tests;

public sealed class EngineConcurrencyTests
{
    /// <summary>Waits until every shard applied everything posted before: a NotFound reset per shard travels behind it.</summary>
    internal static async Task BarrierAsync(CounterEngine engine)
    {
        var pending = new Task[engine.ShardCount];
        for (var shard = 0; shard < engine.ShardCount; shard++)
        {
            var key = Enumerable.Range(0, 10_000).Select(i => $"barrier:{i}").First(k => engine.ShardOf(k) == shard);
            pending[shard] = engine.ExecuteAsync(key, CounterOperation.Reset());
        }

        await Task.WhenAll(pending).WaitAsync(Engines.Guard);
    }

    [Fact]
    public async Task PostAsync_FourProducersManyKeysAndHotKeyWithReadersAndCallers_ExactTotalsAndVersions()
    {
        const int Producers = 4;
        const int PerProducer = 50_000;
        const int KeyCount = 1_000;
        const int CallerOps = 2_000;
        var keys = Enumerable.Range(0, KeyCount).Select(i => $"k:{i}").ToArray();
        static (int Key, long Delta) Plan(int producer, int i) =>
            i % 4 == 0 ? (-1, producer + 1) : ((i * 31 + producer * 7) % KeyCount, (i % 5) - 1);

        var expectedValue = new long[KeyCount];
        var expectedVersion = new long[KeyCount];
        long hotValue = 0, hotVersion = 0;
        for (var p = 0; p < Producers; p++)
        {
            for (var i = 0; i < PerProducer; i++)
            {
                var (key, delta) = Plan(p, i);
                if (key < 0)
                {
                    hotValue += delta;
                    hotVersion++;
                }
                else
                {
                    expectedValue[key] += delta;
                    expectedVersion[key]++;
                }
            }
        }

        await using var engine = Engines.Started(Engines.Options(4));
        using var done = new CancellationTokenSource();

        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < PerProducer; i++)
            {
                var (key, delta) = Plan(p, i);
                await engine.PostAsync(key < 0 ? "hot" : keys[key], CounterOperation.Add(delta));
            }
        })).ToArray();

        // Callers that wait for each answer on the hot key: their own versions only ever grow.
        var callers = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            long last = 0;
            for (var i = 0; i < CallerOps; i++)
            {
                var result = await engine.ExecuteAsync("hot", CounterOperation.Add(1));
                Assert.Equal(OperationStatus.Applied, result.Status);
                Assert.True(result.Counter.Version > last, $"version went from {last} to {result.Counter.Version}");
                last = result.Counter.Version;
            }
        })).ToArray();

        // Readers: the hot key only grows (every delta on it is positive), in value and in version.
        var readers = Enumerable.Range(0, 2).Select(r => Task.Run(() =>
        {
            long lastValue = 0, lastVersion = 0;
            var reads = 0;
            while (!done.IsCancellationRequested)
            {
                if (engine.TryGet("hot", out var hot))
                {
                    Assert.True(hot.Value >= lastValue && hot.Version >= lastVersion, "hot counter went back");
                    (lastValue, lastVersion) = (hot.Value, hot.Version);
                }

                engine.TryGet(keys[reads++ % KeyCount], out _);
            }
        })).ToArray();

        await Task.WhenAll(producers.Concat(callers)).WaitAsync(Engines.Guard);
        await BarrierAsync(engine);
        await done.CancelAsync();
        await Task.WhenAll(readers).WaitAsync(Engines.Guard);

        Assert.True(engine.TryGet("hot", out var hotCounter));
        Assert.Equal(hotValue + 2 * CallerOps, hotCounter.Value);
        Assert.Equal(hotVersion + 2 * CallerOps, hotCounter.Version);
        for (var k = 0; k < KeyCount; k++)
        {
            Assert.True(engine.TryGet(keys[k], out var counter), keys[k]);
            Assert.Equal((expectedValue[k], expectedVersion[k]), (counter.Value, counter.Version));
        }

        Assert.Equal(KeyCount + 1, engine.CounterCount);
    }

    [Fact]
    public async Task PostAsync_OneProducerPerKey_AppliedInPostOrder()
    {
        // Each producer posts add(1), reset, add(2), reset, add(3), ... on its own key. Applied in order,
        // an odd version v shows value (v + 1) / 2 and an even version shows 0; any reordering breaks that.
        const int Rounds = 20_000;
        await using var engine = Engines.Started(Engines.Options(4));
        using var done = new CancellationTokenSource();
        var keys = Enumerable.Range(0, 4).Select(i => $"ordered:{i}").ToArray();

        static void AssertInOrder(CounterSnapshot c)
        {
            var expected = c.Version % 2 == 1 ? (c.Version + 1) / 2 : 0;
            Assert.True(c.Value == expected, $"{c.Key}: version {c.Version} shows {c.Value}, expected {expected}");
        }

        var producers = keys.Select(key => Task.Run(async () =>
        {
            for (var i = 1; i <= Rounds; i++)
            {
                if (i > 1)
                {
                    await engine.PostAsync(key, CounterOperation.Reset());
                }

                await engine.PostAsync(key, CounterOperation.Add(i));
            }
        })).ToArray();

        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            var n = 0;
            while (!done.IsCancellationRequested)
            {
                if (engine.TryGet(keys[n++ % keys.Length], out var counter))
                {
                    AssertInOrder(counter);
                }
            }
        })).ToArray();

        await Task.WhenAll(producers).WaitAsync(Engines.Guard);
        await BarrierAsync(engine);
        await done.CancelAsync();
        await Task.WhenAll(readers).WaitAsync(Engines.Guard);

        foreach (var key in keys)
        {
            Assert.True(engine.TryGet(key, out var counter));
            Assert.Equal((Rounds, 2L * Rounds - 1), (counter.Value, counter.Version));
        }
    }

    [Fact]
    public async Task ExecuteAsync_SequentialCallerInterleavedWithPosts_SeesItsOwnOrder()
    {
        await using var engine = Engines.Started(Engines.Options(2));
        var poster = Task.Run(async () =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                await engine.PostAsync("shared", CounterOperation.Add(1));
            }
        });

        long lastVersion = 0, lastValue = 0;
        for (var i = 0; i < 2_000; i++)
        {
            var result = await engine.ExecuteAsync("shared", CounterOperation.Add(1));
            Assert.True(result.Counter.Version > lastVersion && result.Counter.Value > lastValue);
            (lastVersion, lastValue) = (result.Counter.Version, result.Counter.Value);
        }

        await poster.WaitAsync(Engines.Guard);
        await BarrierAsync(engine);
        Assert.True(engine.TryGet("shared", out var counter));
        Assert.Equal((22_000L, 22_000L), (counter.Value, counter.Version));
    }

    [Fact]
    public async Task TryGet_WhileOwnerPublishes_NeverSeesATornPair()
    {
        // The writer keeps value == version (add(1) on a fresh key); a torn read would break it.
        const int Writes = 200_000;
        await using var engine = Engines.Started(Engines.Options(1));
        using var done = new CancellationTokenSource();
        var torn = 0;
        var seen = 0;

        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                if (engine.TryGet("torn", out var counter))
                {
                    Interlocked.Increment(ref seen);
                    if (counter.Value != counter.Version)
                    {
                        Interlocked.Increment(ref torn);
                    }
                }
            }
        })).ToArray();

        for (var i = 0; i < Writes; i++)
        {
            await engine.PostAsync("torn", CounterOperation.Add(1));
        }

        await BarrierAsync(engine);
        await done.CancelAsync();
        await Task.WhenAll(readers).WaitAsync(Engines.Guard);

        Assert.Equal(0, torn);
        Assert.True(engine.TryGet("torn", out var final));
        Assert.Equal((Writes, (long)Writes), (final.Value, final.Version));
    }

    [Fact]
    public async Task StopAsync_After100kFireAndForgetPosts_LosesNothingAccepted()
    {
        const int Producers = 4;
        const int PerProducer = 25_000;
        var engine = Engines.Started(Engines.Options(4));

        await Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < PerProducer; i++)
            {
                await engine.PostAsync($"s:{i % 100}", CounterOperation.Add(p + 1));
            }
        }))).WaitAsync(Engines.Guard);

        await engine.StopAsync().WaitAsync(Engines.Guard);

        for (var k = 0; k < 100; k++)
        {
            Assert.True(engine.TryGet($"s:{k}", out var counter));
            Assert.Equal((PerProducer / 100 * 10L, (long)(PerProducer / 100 * Producers)), (counter.Value, counter.Version));
        }

        await engine.DisposeAsync();
    }

    [Fact]
    public async Task PostAsync_AfterStop_ThrowsStopped()
    {
        var engine = Engines.Started();
        await engine.StopAsync();

        await Assert.ThrowsAsync<EngineStoppedException>(() => engine.PostAsync("k", CounterOperation.Add(1)).AsTask());
        await Assert.ThrowsAsync<EngineStoppedException>(() => engine.ExecuteAsync("k", CounterOperation.Add(1)));
    }
}
