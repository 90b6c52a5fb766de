using FuncMap.Engine;

namespace FuncMap.Local.Storage;

/// <summary>
/// The last <see cref="ICounterLoader"/> (order <see cref="int.MaxValue"/>): when it runs, the restore and the
/// journal replay are done and the engine starts next. Snapshots and ingestion wait for it.
/// </summary>
public sealed class StartGate : ICounterLoader
{
    private readonly TaskCompletionSource _loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <inheritdoc />
    public int Order => int.MaxValue;

    /// <summary>Completes once every loader before this one ran.</summary>
    public Task WhenLoaded => _loaded.Task;

    /// <inheritdoc />
    public Task LoadAsync(CounterEngine engine, CancellationToken cancellationToken)
    {
        _loaded.TrySetResult();
        return Task.CompletedTask;
    }
}
