using FuncMap.Counters;
using FuncMap.Engine;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace FuncMap.Local.Tests;

public sealed class EngineHostedServiceTests
{
    [Fact]
    public async Task StopAsync_SecondCallAfterDispose_DrainsWithoutThrowing()
    {
        var engine = new CounterEngine(new CounterEngineOptions { ShardCount = 2 });
        var readiness = new EngineReadiness();
        var service = new EngineHostedService(engine, [], readiness, new NullLifetime(), NullLogger<EngineHostedService>.Instance);
        await service.StartAsync(CancellationToken.None);
        await readiness.WhenReady.WaitAsync(TimeSpan.FromSeconds(30));
        await engine.PostAsync("k", CounterOperation.Add(5));

        await service.StopAsync(CancellationToken.None);
        service.Dispose();
        await service.StopAsync(CancellationToken.None);

        Assert.True(engine.TryGet("k", out var counter));
        Assert.Equal(5, counter.Value);
        await engine.DisposeAsync();
    }

    /// <summary>
    /// A loader that fails makes the host stop itself (StopApplication, then StopAsync): its readiness must stay Failed,
    /// not turn into Stopping, or a caller that saw the failure reads a state that hides it (a race the restore test hit).
    /// </summary>
    [Fact]
    public async Task StopAsync_AfterLoaderFailed_StateStaysFailed()
    {
        var engine = new CounterEngine(new CounterEngineOptions { ShardCount = 2 });
        var readiness = new EngineReadiness();
        var service = new EngineHostedService(engine, [new FailingLoader()], readiness, new NullLifetime(), NullLogger<EngineHostedService>.Instance);
        await service.StartAsync(CancellationToken.None);
        await Assert.ThrowsAsync<InvalidDataException>(() => readiness.WhenReady.WaitAsync(TimeSpan.FromSeconds(30)));

        await service.StopAsync(CancellationToken.None);

        Assert.Equal(ReadinessState.Failed, readiness.State);
        service.Dispose();
        await engine.DisposeAsync();
    }

    /// <summary>A startup that completes after the stop began must not make a draining host read as ready.</summary>
    [Fact]
    public void MarkReady_AfterStopping_StaysStopping()
    {
        var readiness = new EngineReadiness();
        readiness.MarkStopping();

        readiness.MarkReady();

        Assert.Equal(ReadinessState.Stopping, readiness.State);
        Assert.False(readiness.IsReady);
        Assert.True(readiness.WhenReady.IsCanceled);
    }

    private sealed class FailingLoader : ICounterLoader
    {
        public int Order => 100;

        public Task LoadAsync(CounterEngine engine, CancellationToken cancellationToken) =>
            Task.FromException(new InvalidDataException("row (00, k): column Value is Double"));
    }

    private sealed class NullLifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => CancellationToken.None;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication()
        {
        }
    }
}
