using FuncMap.Counters;

namespace FuncMap.Benchmarks;

/// <summary>
/// Bytes per counter after a full compacting GC: the engine and ConcurrentDictionary + StrongBox,
/// each loaded with the same keys into a fresh map. The keys are allocated before the first
/// measurement, so the difference excludes them; "with key" adds one key string's own size.
/// </summary>
public static class MemoryMode
{
    public static async Task<int> RunAsync(int count, TextWriter output)
    {
        var keys = Workload.Keys(count);
        var keyBytes = KeyStringBytes(keys[0].Length);

        var before = Measure();
        var engine = Workload.StartEngine();
        var barrier = Workload.BarrierKeys(engine);
        foreach (var key in keys)
        {
            await engine.PostAsync(key, CounterOperation.Add(1));
        }

        await Workload.BarrierAsync(engine, barrier);
        var engineBytes = Measure() - before;
        if (engine.CounterCount != count)
        {
            throw new InvalidOperationException($"The engine holds {engine.CounterCount} counters, expected {count}.");
        }

        await engine.DisposeAsync();
        engine = null;

        before = Measure();
        var map = new ConcurrentDictionaryMap();
        foreach (var key in keys)
        {
            map.Add(key, 1);
        }

        var mapBytes = Measure() - before;
        GC.KeepAlive(map);
        GC.KeepAlive(keys);

        output.WriteLine($"Memory at {count:N0} counters, {keys[0].Length}-character keys ({keyBytes} bytes per key string), after GC.Collect(2, Forced, blocking, compacting):");
        output.WriteLine();
        output.WriteLine("| map | bytes/counter excluding key | bytes/counter with key |");
        output.WriteLine("|---|---:|---:|");
        output.WriteLine($"| CounterEngine (default shard count) | {(double)engineBytes / count:0.0} | {(double)engineBytes / count + keyBytes:0.0} |");
        output.WriteLine($"| ConcurrentDictionary<string, StrongBox<long>> | {(double)mapBytes / count:0.0} | {(double)mapBytes / count + keyBytes:0.0} |");
        return 0;
    }

    private static long Measure()
    {
        for (var i = 0; i < 2; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>A string's own size on 64-bit: 8 header + 8 method table + 4 length + 2 per char + 2 terminator, rounded to 8.</summary>
    private static int KeyStringBytes(int length) => (20 + 2 * length + 2 + 7) / 8 * 8;
}
