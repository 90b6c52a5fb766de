using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace FuncMap.Client.Tests;

/// <summary><see cref="CounterBuffer"/> against the real local host over HTTP (and against no host, for what cannot be sent).</summary>
[Collection(LocalHostGroup.Name)]
public sealed class CounterBufferTests(KestrelHost host)
{
    /// <summary>A flush interval long enough that only the test's own flushes send anything.</summary>
    private static readonly TimeSpan Never = TimeSpan.FromHours(1);

    [Fact]
    public async Task FlushAsync_ManyKeys_SendsSumsInBatchesOfTheMaxSize()
    {
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey);
        await using var buffer = new CounterBuffer(test.Client, new CounterBufferOptions { FlushInterval = Never, MaxPendingKeys = 1000, MaxBatchItems = 7 });
        var prefix = Keys.Prefix("bufbatch");
        for (var i = 0; i < 300; i++)
        {
            buffer.Increment(prefix + (i % 20), i % 3);
        }

        var result = await buffer.FlushAsync();

        Assert.True(result.IsComplete);
        Assert.Equal((3, 300L), (result.Batches, result.Increments)); // 20 keys in batches of 7: 7 + 7 + 6
        Assert.Equal(0, buffer.HeldKeys);
        for (var k = 0; k < 20; k++)
        {
            var expected = Enumerable.Range(0, 300).Where(i => i % 20 == k).Sum(i => (long)(i % 3));
            Assert.Equal(expected, (await test.Client.GetAsync(prefix + k))!.Value);
        }
    }

    /// <summary>
    /// A key's pending sum that would leave Int64 is sealed into its own batch: the server applies long.MaxValue and
    /// refuses the next add for the counter's overflow, instead of a wrapped sum (long.MinValue) or a refused batch.
    /// </summary>
    [Fact]
    public async Task Increment_SumWouldLeaveInt64_SealsTheSumSoFarAndTheServerRefusesOnlyTheOverflowingAdd()
    {
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey);
        await using var buffer = new CounterBuffer(test.Client, new CounterBufferOptions { FlushInterval = Never });
        var key = Keys.Prefix("bufover") + "a";

        buffer.Increment(key, long.MaxValue);
        buffer.Increment(key, 1);
        var result = await buffer.FlushAsync();

        Assert.Equal(2, result.Batches);
        var refused = Assert.Single(result.Refused);
        Assert.Equal((key, 1L, "counter.overflow"), (refused.Key, refused.Delta, refused.Reason));
        Assert.Equal(long.MaxValue, (await test.Client.GetAsync(key))!.Value);
    }

    [Fact]
    public async Task Increment_FullInThrowMode_RefusesANewKey()
    {
        await using var test = new TestClient(TestClient.Nowhere(), KestrelHost.AccessKey, resilience: static r => r.Retry.MaxRetryAttempts = 1);
        await using var buffer = new CounterBuffer(test.Client, new CounterBufferOptions
        {
            FlushInterval = Never, MaxPendingKeys = 2, Capacity = 2, FullMode = CounterBufferFullMode.Throw, DisposeTimeout = TimeSpan.Zero,
        });
        buffer.Increment("a", 1);
        buffer.Increment("b", 1);

        Assert.Throws<CounterBufferFullException>(() => buffer.Increment("c", 1));
        Assert.Equal(2, buffer.HeldKeys);
    }

    /// <summary>
    /// Full in Wait mode: the second key's increment blocks until the first key's batch (answered 300 ms late) is
    /// acknowledged; it returns only after the server applied the first.
    /// </summary>
    [Fact]
    public async Task Increment_FullInWaitMode_ReturnsOnlyAfterTheHeldBatchIsAcknowledged()
    {
        var slow = new SlowAnswers(TimeSpan.FromMilliseconds(300));
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey, slow);
        await using var buffer = new CounterBuffer(test.Client, new CounterBufferOptions
        {
            FlushInterval = Never, MaxPendingKeys = 1, Capacity = 1, FullMode = CounterBufferFullMode.Wait,
        });
        var prefix = Keys.Prefix("bufwait");

        buffer.Increment(prefix + "a", 1); // one key pending: the flush starts
        await Task.Run(() => buffer.Increment(prefix + "b", 1));

        Assert.Equal(1, slow.Answered);
        Assert.Equal(1, (await test.Client.GetAsync(prefix + "a"))!.Value);
        Assert.True((await buffer.FlushAsync()).IsComplete);
        Assert.Equal(1, (await test.Client.GetAsync(prefix + "b"))!.Value);
    }

    /// <summary>Forwards each request and hands its answer back late, counting the answers handed back.</summary>
    private sealed class SlowAnswers(TimeSpan delay) : DelegatingHandler
    {
        private int _answered;

        public int Answered => Volatile.Read(ref _answered);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            await Task.Delay(delay, cancellationToken);
            Interlocked.Increment(ref _answered);
            return response;
        }
    }

    /// <summary>Nothing answers: close gives up when its time is out and reports every sum it could not send.</summary>
    [Fact]
    public async Task CloseAsync_NoServer_ReportsWhatCouldNotBeSent()
    {
        await using var test = new TestClient(TestClient.Nowhere(), KestrelHost.AccessKey, resilience: static r => r.Retry.MaxRetryAttempts = 1);
        var buffer = new CounterBuffer(test.Client, new CounterBufferOptions { FlushInterval = Never, RetryDelay = TimeSpan.FromMilliseconds(50) });
        buffer.Increment("a", 2);
        buffer.Increment("a", 3);
        buffer.Increment("b", -1);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        var result = await buffer.CloseAsync(timeout.Token);
        await buffer.DisposeAsync();

        Assert.Equal(0, result.Batches);
        Assert.Equal([("a", 5L, 2L), ("b", -1L, 1L)], result.Unsent.Select(static u => (u.Key, u.Delta, u.Increments)).OrderBy(static u => u.Key));
        Assert.NotNull(result.LastError);
        Assert.Throws<ObjectDisposedException>(() => buffer.Increment("a", 1));
    }

    [Fact]
    public async Task Increment_InvalidKey_ThrowsAndHoldsNothing()
    {
        await using var test = new TestClient(TestClient.Nowhere(), KestrelHost.AccessKey);
        await using var buffer = new CounterBuffer(test.Client, new CounterBufferOptions { FlushInterval = Never, DisposeTimeout = TimeSpan.Zero });

        Assert.Throws<ArgumentException>(() => buffer.Increment("..", 1));
        Assert.Equal(0, buffer.HeldKeys);
    }

    /// <summary>Registered in a container, the buffer flushes on its own interval and reports its increments in its metrics.</summary>
    [Fact]
    public async Task AddFuncMapCounterBuffer_FlushesOnItsIntervalAndCountsFlushedIncrements()
    {
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey,
            services: static s => s.AddFuncMapCounterBuffer(static o => o.FlushInterval = TimeSpan.FromMilliseconds(50)));
        using var flushed = new MetricCollector<long>(test.Services.GetRequiredService<IMeterFactory>(), ClientInstruments.MeterName, ClientInstruments.FlushedIncrements);
        var buffer = test.Services.GetRequiredService<CounterBuffer>();
        var key = Keys.Prefix("bufdi") + "a";
        for (var i = 0; i < 10; i++)
        {
            buffer.Increment(key, 2);
        }

        await flushed.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(30));

        Assert.Equal(10, flushed.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(20, (await test.Client.GetAsync(key))!.Value);
    }
}
