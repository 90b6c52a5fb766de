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
    private volatile ReadinessState _state = ReadinessState.Starting;

    /// <summary>The current state.</summary>
    public ReadinessState State => _state;

    /// <summary>True while the engine serves.</summary>
    public bool IsReady => _state == ReadinessState.Ready;

    /// <summary>Completes when the host becomes ready; faults when startup failed.</summary>
    public Task WhenReady => _ready.Task;

    internal void MarkReady()
    {
        _state = ReadinessState.Ready;
        _ready.TrySetResult();
    }

    internal void MarkStopping()
    {
        _state = ReadinessState.Stopping;
        _ready.TrySetCanceled();
    }

    internal void MarkFailed(Exception exception)
    {
        _state = ReadinessState.Failed;
        _ready.TrySetException(exception);
    }
}
