using System.Collections.Concurrent;
using System.Threading.Channels;
using FuncMap.Engine;

namespace FuncMap.Core.Tests;

/// <summary>Builds engines for tests, with generous bounds so that only the test decides what times out.</summary>
internal static class Engines
{
    /// <summary>A guard for awaits in tests: a hang fails the test instead of the run.</summary>
    public static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);

    public static CounterEngineOptions Options(int shards = 4) => new()
    {
        ShardCount = shards,
        BackpressureWait = TimeSpan.FromSeconds(60),
        OperationTimeout = TimeSpan.FromSeconds(60),
    };

    public static CounterEngine Started(CounterEngineOptions? options = null, IOperationLog? log = null, TimeProvider? time = null)
    {
        var engine = new CounterEngine(options ?? Options(), log, time);
        engine.Start();
        return engine;
    }
}

/// <summary>A clock that stands still unless the test moves it.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>
/// An operation log the test controls: every <see cref="Append"/> is reported to <see cref="NextAppendAsync"/>
/// and returns the task that <see cref="Next"/> produces (completed, by default).
/// </summary>
internal sealed class ScriptedLog : IOperationLog
{
    private readonly Channel<AppendCall> _appends = Channel.CreateUnbounded<AppendCall>();

    public Func<int, Task> Next { get; set; } = static _ => Task.CompletedTask;

    public ConcurrentQueue<AppliedOperation> Recorded { get; } = new();

    public int Calls => _calls;

    private int _calls;

    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>The generation passed with each Append call, in call order.</summary>
    public ConcurrentQueue<long> Generations { get; } = new();

    private long _generation;

    /// <summary>Changes <see cref="Generation"/>, as a log does when it fails.</summary>
    public void Fail() => Interlocked.Increment(ref _generation);

    public Task Append(int shard, ReadOnlySpan<AppliedOperation> operations, long generation)
    {
        Generations.Enqueue(generation);
        foreach (var operation in operations)
        {
            Recorded.Enqueue(operation);
        }

        var call = Interlocked.Increment(ref _calls);
        var task = Next(call);
        _appends.Writer.TryWrite(new AppendCall(call, shard, operations.ToArray()));
        return task;
    }

    /// <summary>Waits for the next Append call.</summary>
    public async Task<AppendCall> NextAppendAsync() =>
        await _appends.Reader.ReadAsync().AsTask().WaitAsync(Engines.Guard);
}

internal sealed record AppendCall(int Number, int Shard, AppliedOperation[] Operations);

/// <summary>A log whose Append blocks the owner loop until released, to stall a shard deterministically.</summary>
internal sealed class BlockingLog : IOperationLog, IDisposable
{
    private readonly ManualResetEventSlim _release = new(false);
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Entered => _entered.Task;

    public long Generation => 0;

    public Task Append(int shard, ReadOnlySpan<AppliedOperation> operations, long generation)
    {
        _entered.TrySetResult();
        if (!_release.Wait(Engines.Guard))
        {
            throw new TimeoutException("The test never released the log.");
        }

        return Task.CompletedTask;
    }

    public void Release() => _release.Set();

    public void Dispose() => _release.Dispose();
}
