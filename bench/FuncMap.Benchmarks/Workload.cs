using FuncMap.Counters;
using FuncMap.Engine;

namespace FuncMap.Benchmarks;

/// <summary>Pre-generated inputs and the helpers every benchmark shares.</summary>
public static class Workload
{
    /// <summary>Distinct keys of the uniform workloads (the smoke run lowers it).</summary>
    public static int KeyCount { get; set; } = 1_000_000;

    /// <summary>Fire-and-forget producers: one per processor.</summary>
    public static int Producers => Environment.ProcessorCount;

    /// <summary>The hot key (16 characters like the others).</summary>
    public const string HotKey = "hot:key:00000001";

    /// <summary><paramref name="count"/> distinct valid 16-character keys in random order.</summary>
    public static string[] Keys(int count, int seed = 42)
    {
        var random = new Random(seed);
        const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        var keys = new string[count];
        for (var i = 0; i < count; i++)
        {
            // "c:" + 8 digits keeps them distinct; 6 random characters spread the hash input.
            keys[i] = string.Create(16, (i, random), static (span, state) =>
            {
                span[0] = 'c';
                span[1] = ':';
                state.i.TryFormat(span[2..10], out _, "D8", System.Globalization.CultureInfo.InvariantCulture);
                for (var j = 10; j < 16; j++)
                {
                    span[j] = Alphabet[state.random.Next(Alphabet.Length)];
                }
            });
        }

        random.Shuffle(keys);
        return keys;
    }

    /// <summary>An engine as the benchmarks run it: long waits, so that only throughput is measured, not the backpressure policy.</summary>
    public static CounterEngine StartEngine(int shardCount = 0)
    {
        var engine = new CounterEngine(new CounterEngineOptions
        {
            ShardCount = shardCount,
            BackpressureWait = TimeSpan.FromSeconds(60),
            OperationTimeout = TimeSpan.FromSeconds(60),
        });
        engine.Start();
        return engine;
    }

    /// <summary>One key per shard, for <see cref="BarrierAsync"/>.</summary>
    public static string[] BarrierKeys(CounterEngine engine)
    {
        var keys = new string[engine.ShardCount];
        for (int i = 0, found = 0; found < keys.Length; i++)
        {
            var key = $"barrier:{i}";
            var shard = engine.ShardOf(key);
            if (keys[shard] is null)
            {
                keys[shard] = key;
                found++;
            }
        }

        return keys;
    }

    /// <summary>Completes when every shard applied everything posted before: a reset of a missing key (NotFound) queues behind it.</summary>
    public static Task BarrierAsync(CounterEngine engine, string[] barrierKeys)
    {
        var pending = new Task[barrierKeys.Length];
        for (var i = 0; i < pending.Length; i++)
        {
            pending[i] = engine.ExecuteAsync(barrierKeys[i], CounterOperation.Reset());
        }

        return Task.WhenAll(pending);
    }

    /// <summary>Runs <paramref name="body"/>(producer, from, to) on <see cref="Producers"/> thread-pool tasks over [0, count).</summary>
    public static Task ProduceAsync(int count, Func<int, int, int, Task> body)
    {
        var producers = Producers;
        var tasks = new Task[producers];
        for (var p = 0; p < producers; p++)
        {
            var from = (int)((long)count * p / producers);
            var to = (int)((long)count * (p + 1) / producers);
            var producer = p;
            tasks[p] = Task.Run(() => body(producer, from, to));
        }

        return Task.WhenAll(tasks);
    }
}
