namespace FuncMap.Local;

/// <summary>Where the host is in its lifecycle, as readiness sees it.</summary>
public enum ReadinessState
{
    /// <summary>Counter loaders are running; the engine has not started.</summary>
    Starting,

    /// <summary>The engine runs and serves.</summary>
    Ready,

    /// <summary>The host is shutting down.</summary>
    Stopping,

    /// <summary>A loader failed: the host does not serve and is stopping.</summary>
    Failed,
}

/// <summary>
/// The readiness of the local host: ready once every <c>ICounterLoader</c> ran and the engine started.
/// Until then <c>/readyz</c> is red and <c>/api</c> answers 503 + <c>Retry-After</c>.
/// </summary>
public sealed class EngineReadiness
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _state = (int)ReadinessState.Starting;

    /// <summary>The current state.</summary>
    public ReadinessState State => (ReadinessState)Volatile.Read(ref _state);

    /// <summary>True while the engine serves.</summary>
    public bool IsReady => State == ReadinessState.Ready;

    /// <summary>Completes when the host becomes ready; faults when startup failed.</summary>
    public Task WhenReady => _ready.Task;

    /// <summary>
    /// Marks the host ready, only from <see cref="ReadinessState.Starting"/>: a startup that completes after the host
    /// began stopping leaves it <see cref="ReadinessState.Stopping"/>, so it never reads as serving while it drains.
    /// </summary>
    internal void MarkReady()
    {
        if (Interlocked.CompareExchange(ref _state, (int)ReadinessState.Ready, (int)ReadinessState.Starting) == (int)ReadinessState.Starting)
        {
            _ready.TrySetResult();
        }
    }

    /// <summary>
    /// Marks the host stopping, unless its startup failed: a failed host stops too (it asks the lifetime to), and its
    /// state stays <see cref="ReadinessState.Failed"/> so that readiness and whoever reads <see cref="State"/> still see why.
    /// </summary>
    internal void MarkStopping()
    {
        var state = Volatile.Read(ref _state);
        while (state != (int)ReadinessState.Failed)
        {
            var seen = Interlocked.CompareExchange(ref _state, (int)ReadinessState.Stopping, state);
            if (seen == state)
            {
                break;
            }

            state = seen;
        }

        _ready.TrySetCanceled();
    }

    internal void MarkFailed(Exception exception)
    {
        Volatile.Write(ref _state, (int)ReadinessState.Failed);
        _ready.TrySetException(exception);
    }
}
