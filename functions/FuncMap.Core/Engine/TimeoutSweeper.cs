using System.Collections.Concurrent;
using System.Diagnostics;

namespace FuncMap.Engine;

/// <summary>
/// Enforces the operation timeout for every awaited operation with one periodic sweep, instead of a
/// timer per call. Operations are tracked in the order they were posted, which is (nearly) the order
/// of their deadlines, so a sweep only looks at the head of the queue: answered operations are dropped,
/// expired ones are failed with <see cref="EngineTimeoutException"/>, and the sweep stops at the first
/// one still in time. A timeout fires between the deadline and one sweep period after it.
/// </summary>
internal sealed class TimeoutSweeper : IAsyncDisposable
{
    private readonly ConcurrentQueue<(ICompletion Completion, long Deadline)> _tracked = new();
    private readonly TimeSpan _timeout;
    private readonly long _timeoutTicks;
    private readonly Action _onTimeout;
    private readonly PeriodicTimer _timer;
    private readonly Task _loop;

    public TimeoutSweeper(TimeSpan timeout, Action onTimeout)
    {
        _timeout = timeout;
        _timeoutTicks = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        _onTimeout = onTimeout;
        _timer = new PeriodicTimer(TimeSpan.FromTicks(Math.Clamp(timeout.Ticks / 20, TimeSpan.TicksPerMillisecond * 5, TimeSpan.TicksPerMillisecond * 250)));
        _loop = Task.Run(SweepLoopAsync);
    }

    /// <summary>Starts the clock on <paramref name="completion"/>.</summary>
    public void Track(ICompletion completion) => _tracked.Enqueue((completion, Stopwatch.GetTimestamp() + _timeoutTicks));

    public async ValueTask DisposeAsync()
    {
        _timer.Dispose();
        await _loop.ConfigureAwait(false);
    }

    private async Task SweepLoopAsync()
    {
        while (await _timer.WaitForNextTickAsync().ConfigureAwait(false))
        {
            Sweep(Stopwatch.GetTimestamp());
        }
    }

    internal void Sweep(long now)
    {
        while (_tracked.TryPeek(out var head))
        {
            if (!head.Completion.IsCompleted && head.Deadline > now)
            {
                return;
            }

            _tracked.TryDequeue(out _);
            if (!head.Completion.IsCompleted && head.Completion.Fail(new EngineTimeoutException(_timeout)))
            {
                _onTimeout();
            }
        }
    }
}
