using BenchmarkDotNet.Attributes;
using FuncMap.Batches;
using FuncMap.Counters;
using FuncMap.Engine;

namespace FuncMap.Benchmarks;

/// <summary>
/// 1M distinct keys, each added once per invocation by one producer per processor, fire-and-forget;
/// the time includes applying everything (a barrier at the end).
/// </summary>
[Config(typeof(BenchConfig))]
public class UniformFireAndForget
{
    private const int Ops = 1_000_000;
    private string[] _keys = [];
    private CounterEngine _engine = null!;
    private string[] _barrier = [];
    private ConcurrentDictionaryMap _concurrent = null!;
    private LockedDictionaryMap _locked = null!;
    private SingleChannelMap _single = null!;

    [GlobalSetup]
    public void Setup()
    {
        _keys = Workload.Keys(Workload.KeyCount);
        _engine = Workload.StartEngine();
        _barrier = Workload.BarrierKeys(_engine);
        _concurrent = new ConcurrentDictionaryMap();
        _locked = new LockedDictionaryMap();
        _single = new SingleChannelMap();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _engine.DisposeAsync();
        await _single.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public Task ConcurrentDictionary() => Workload.ProduceAsync(_keys.Length, (_, from, to) =>
    {
        for (var i = from; i < to; i++)
        {
            _concurrent.Add(_keys[i], 1);
        }

        return Task.CompletedTask;
    });

    [Benchmark(OperationsPerInvoke = Ops)]
    public Task LockDictionary() => Workload.ProduceAsync(_keys.Length, (_, from, to) =>
    {
        for (var i = from; i < to; i++)
        {
            _locked.Add(_keys[i], 1);
        }

        return Task.CompletedTask;
    });

    [Benchmark(OperationsPerInvoke = Ops)]
    public async Task SingleChannel()
    {
        await Workload.ProduceAsync(_keys.Length, async (_, from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                await _single.PostAsync(_keys[i], 1);
            }
        });
        await _single.BarrierAsync();
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public async Task Engine()
    {
        await Workload.ProduceAsync(_keys.Length, async (_, from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                await _engine.PostAsync(_keys[i], CounterOperation.Add(1));
            }
        });
        await Workload.BarrierAsync(_engine, _barrier);
    }

    internal long EngineValue(int i) => _engine.TryGet(_keys[i], out var c) ? c.Value : -1;

    internal long ConcurrentValue(int i) => _concurrent.Get(_keys[i]);
}

/// <summary>Every producer adds to the same key, fire-and-forget; the time includes applying everything.</summary>
[Config(typeof(BenchConfig))]
public class HotKeyFireAndForget
{
    private const int Ops = 1_000_000;
    private CounterEngine _engine = null!;
    private string[] _barrier = [];
    private ConcurrentDictionaryMap _concurrent = null!;
    private LockedDictionaryMap _locked = null!;
    private SingleChannelMap _single = null!;

    internal static int Count => Math.Min(Ops, Workload.KeyCount);

    [GlobalSetup]
    public void Setup()
    {
        _engine = Workload.StartEngine();
        _barrier = Workload.BarrierKeys(_engine);
        _concurrent = new ConcurrentDictionaryMap();
        _locked = new LockedDictionaryMap();
        _single = new SingleChannelMap();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _engine.DisposeAsync();
        await _single.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public Task ConcurrentDictionary() => Workload.ProduceAsync(Count, (_, from, to) =>
    {
        for (var i = from; i < to; i++)
        {
            _concurrent.Add(Workload.HotKey, 1);
        }

        return Task.CompletedTask;
    });

    [Benchmark(OperationsPerInvoke = Ops)]
    public Task LockDictionary() => Workload.ProduceAsync(Count, (_, from, to) =>
    {
        for (var i = from; i < to; i++)
        {
            _locked.Add(Workload.HotKey, 1);
        }

        return Task.CompletedTask;
    });

    [Benchmark(OperationsPerInvoke = Ops)]
    public async Task SingleChannel()
    {
        await Workload.ProduceAsync(Count, async (_, from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                await _single.PostAsync(Workload.HotKey, 1);
            }
        });
        await _single.BarrierAsync();
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public async Task Engine()
    {
        await Workload.ProduceAsync(Count, async (_, from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                await _engine.PostAsync(Workload.HotKey, CounterOperation.Add(1));
            }
        });
        await Workload.BarrierAsync(_engine, _barrier);
    }

    internal long EngineValue() => _engine.TryGet(Workload.HotKey, out var c) ? c.Value : -1;
}

/// <summary>64 concurrent callers, each awaiting the answer of every add before sending the next.</summary>
[Config(typeof(BenchConfig))]
public class RequestReply
{
    public const int Callers = 64;
    private const int Ops = 64_000;
    private string[] _keys = [];
    private CounterEngine _engine = null!;
    private SingleChannelMap _single = null!;

    internal static int Count => Math.Min(Ops, Workload.KeyCount);

    [GlobalSetup]
    public void Setup()
    {
        _keys = Workload.Keys(Workload.KeyCount);
        _engine = Workload.StartEngine();
        _single = new SingleChannelMap();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _engine.DisposeAsync();
        await _single.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public Task SingleChannel() => CallersAsync(async (from, to) =>
    {
        for (var i = from; i < to; i++)
        {
            await _single.ExecuteAsync(_keys[i], 1);
        }
    });

    [Benchmark(OperationsPerInvoke = Ops)]
    public Task Engine() => CallersAsync(async (from, to) =>
    {
        for (var i = from; i < to; i++)
        {
            await _engine.ExecuteAsync(_keys[i], CounterOperation.Add(1));
        }
    });

    internal static Task CallersAsync(Func<int, int, Task> caller)
    {
        var tasks = new Task[Callers];
        var each = Count / Callers;
        for (var c = 0; c < Callers; c++)
        {
            var from = c * each;
            tasks[c] = Task.Run(() => caller(from, from + each));
        }

        return Task.WhenAll(tasks);
    }

    internal long EngineValue(int i) => _engine.TryGet(_keys[i], out var c) ? c.Value : -1;
}

/// <summary>
/// Increment batches of 100 items over uniform keys, as the queue and <c>POST /batch</c> deliver them:
/// 16 concurrent submitters, each awaiting its batch (ApplyBatchAsync, one add per key with the batch id).
/// </summary>
[Config(typeof(BenchConfig))]
public class BatchSubmission
{
    public const int BatchSize = 100;
    private const int Batches = 1_000;
    private const int Submitters = 16;
    private const int Ops = Batches * BatchSize;
    private KeyDelta[][] _deltas = [];
    private CounterEngine _engine = null!;
    private ConcurrentDictionaryMap _concurrent = null!;
    private int _invocation;

    internal static int BatchCount => Math.Min(Batches, Workload.KeyCount / BatchSize);

    [GlobalSetup]
    public void Setup()
    {
        var keys = Workload.Keys(Workload.KeyCount);
        var random = new Random(7);
        _deltas = new KeyDelta[BatchCount][];
        for (var b = 0; b < _deltas.Length; b++)
        {
            // Aggregated as the parser does: one delta per distinct key (a batch id counts once per key).
            var items = Enumerable.Range(0, BatchSize).Select(_ => new IncrementItem(keys[random.Next(keys.Length)], 1)).ToList();
            _deltas[b] = [.. IncrementBatchParser.Aggregate("setup", items).Batch!.Deltas];
        }

        _engine = Workload.StartEngine();
        _concurrent = new ConcurrentDictionaryMap();
    }

    [GlobalCleanup]
    public ValueTask CleanupAsync() => _engine.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = Ops)]
    public Task ConcurrentDictionary() => Workload.ProduceAsync(_deltas.Length, (_, from, to) =>
    {
        for (var b = from; b < to; b++)
        {
            foreach (var (key, delta) in _deltas[b])
            {
                _concurrent.Add(key, delta);
            }
        }

        return Task.CompletedTask;
    });

    [Benchmark(OperationsPerInvoke = Ops)]
    public Task Engine()
    {
        // A new batch id per delivery: each invocation is new traffic, not a redelivery.
        var invocation = Interlocked.Increment(ref _invocation);
        var tasks = new Task[Submitters];
        for (var s = 0; s < Submitters; s++)
        {
            var submitter = s;
            tasks[s] = Task.Run(async () =>
            {
                for (var b = submitter; b < _deltas.Length; b += Submitters)
                {
                    await _engine.ApplyBatchAsync(new IncrementBatch($"i{invocation}-b{b}", BatchSize, _deltas[b]));
                }
            });
        }

        return Task.WhenAll(tasks);
    }

    internal CounterEngine EngineForChecks => _engine;
}

/// <summary>The engine alone at 1, 2, 4 and 8 shards: uniform fire-and-forget and request/reply.</summary>
[Config(typeof(BenchConfig))]
public class ShardCount
{
    private const int UniformOps = 1_000_000;
    private const int ReplyOps = 64_000;
    private string[] _keys = [];
    private CounterEngine _engine = null!;
    private string[] _barrier = [];

    [Params(1, 2, 4, 8)]
    public int Shards { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _keys = Workload.Keys(Workload.KeyCount);
        _engine = Workload.StartEngine(Shards);
        _barrier = Workload.BarrierKeys(_engine);
    }

    [GlobalCleanup]
    public ValueTask CleanupAsync() => _engine.DisposeAsync();

    [Benchmark(OperationsPerInvoke = UniformOps)]
    public async Task Uniform()
    {
        await Workload.ProduceAsync(_keys.Length, async (_, from, to) =>
        {
            for (var i = from; i < to; i++)
            {
                await _engine.PostAsync(_keys[i], CounterOperation.Add(1));
            }
        });
        await Workload.BarrierAsync(_engine, _barrier);
    }

    [Benchmark(OperationsPerInvoke = ReplyOps)]
    public Task Reply() => RequestReply.CallersAsync(async (from, to) =>
    {
        for (var i = from; i < to; i++)
        {
            await _engine.ExecuteAsync(_keys[i], CounterOperation.Add(1));
        }
    });
}
