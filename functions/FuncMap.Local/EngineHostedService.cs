using System.Diagnostics;
using FuncMap.Engine;

namespace FuncMap.Local;

/// <summary>
/// Runs the engine's lifecycle: on start, every registered <see cref="ICounterLoader"/> in ascending
/// <see cref="ICounterLoader.Order"/> (snapshot restore, then journal replay), then
/// <see cref="CounterEngine.Start"/>, then readiness. Loading runs in the background so that the server
/// answers <c>/healthz</c> (and 503 on <c>/readyz</c> and <c>/api</c>) while it loads. A failing loader
/// stops the host with exit code 1 (a refusal it expects, <see cref="HostExit.IsExpected"/>, is said once, in the host's
/// one line on stderr; anything else is logged with its stack trace). On stop: readiness goes red, then the engine drains
/// its mailboxes. A host that is disposed without a stop (its start failed elsewhere: a taken port) cancels the loading
/// and waits for it, so that nothing is loaded, started or reported ready after the journal and storage closed.
/// </summary>
public sealed class EngineHostedService(
    CounterEngine engine,
    IEnumerable<ICounterLoader> loaders,
    EngineReadiness readiness,
    IHostApplicationLifetime lifetime,
    ILogger<EngineHostedService> logger) : IHostedLifecycleService, IDisposable, IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _startup;
    private int _stopRequested;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _startup = Task.Run(() => LoadAndStartAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Says that the host stops before any hosted service stops: the snapshot service drains the engine (for its final
    /// snapshot) before this service's <see cref="StopAsync"/> runs, so the line must come first to be read in order.
    /// </summary>
    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        Log.EngineStopping(logger);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        readiness.MarkStopping();
        if (Interlocked.Exchange(ref _stopRequested, 1) == 1)
        {
            // A host may stop its services twice (WebApplicationFactory does, disposing in between):
            // the engine's StopAsync is idempotent and waits for the drain every time.
            await engine.StopAsync();
            return;
        }

        await _stopping.CancelAsync();
        if (_startup is not null)
        {
            // LoadAndStartAsync handles its own failures; this only waits for it to end.
            await _startup.WaitAsync(cancellationToken);
        }

        await engine.StopAsync();
    }

    /// <inheritdoc />
    public void Dispose() => _stopping.Dispose();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_startup is not null && !_startup.IsCompleted)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
            await _startup.ConfigureAwait(false); // LoadAndStartAsync handles its own failures
        }

        Dispose();
    }

    private async Task LoadAndStartAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var loader in loaders.OrderBy(static l => l.Order))
            {
                var name = loader.GetType().Name;
                Log.LoaderRunning(logger, name, loader.Order);
                var started = Stopwatch.GetTimestamp();
                await loader.LoadAsync(engine, cancellationToken);
                Log.LoaderCompleted(logger, name, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            engine.Start();
            readiness.MarkReady();
            Log.EngineReady(logger, engine.ShardCount, engine.IsJournaled, engine.CounterCount);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.StartupCancelled(logger);
        }
        catch (Exception ex) when (HostExit.IsExpected(ex))
        {
            // Said once, by the host's one line on stderr as it exits (HostExit): no stack trace, no repetition.
            Log.StartupRefused(logger, ex.GetType().Name);
            HostExit.RecordStartFailure(ex);
            readiness.MarkFailed(ex);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
        catch (Exception ex)
        {
            Log.StartupFailed(logger, ex);
            readiness.MarkFailed(ex);
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }
}
