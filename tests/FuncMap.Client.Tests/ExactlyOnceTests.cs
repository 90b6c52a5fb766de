using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace FuncMap.Client.Tests;

/// <summary>
/// Exactly once under faults: many concurrent callers through a <see cref="FaultInjectingHandler"/> below the resilience
/// handler that (a) drops answers after the server applied the request, (b) resets connections mid-request, (c) answers
/// 503 with <c>Retry-After</c> after the server applied it, (d) answers later than the attempt timeout. The totals must
/// equal the logical operations exactly, and (for single adds) every counter's version must equal the adds sent to it:
/// no attempt was applied twice, even where deltas cancel out.
/// </summary>
public static class ExactlyOnceScenarios
{
    /// <summary>
    /// 16 callers × 25 adds over 64 keys, deltas −2…4. About 6 identified adds reach each counter, well inside the
    /// server's window of 64 ids per counter, so a retry is always recognised (see FuncMapClient's remarks).
    /// </summary>
    public static async Task AddAsyncAsync(Uri baseAddress, string? accessKey, bool wait)
    {
        const int Callers = 16, AddsPerCaller = 25, KeyCount = 64;
        var faults = FaultInjectingHandler.Mixed();
        await using var test = new TestClient(baseAddress, accessKey, faults);
        var prefix = Keys.Prefix("once-add");
        var expected = new long[KeyCount];
        var versions = new long[KeyCount];
        for (var c = 0; c < Callers; c++)
        {
            for (var i = 0; i < AddsPerCaller; i++)
            {
                var (k, delta) = AddOf(c, i);
                expected[k] += delta;
                versions[k]++;
            }
        }

        await Parallel.ForEachAsync(Enumerable.Range(0, Callers), new ParallelOptions { MaxDegreeOfParallelism = Callers }, async (c, ct) =>
        {
            for (var i = 0; i < AddsPerCaller; i++)
            {
                var (k, delta) = AddOf(c, i);
                await test.Client.AddAsync(prefix + k, delta, wait, ct);
            }
        });

        AssertEveryFaultInjected(faults);
        for (var k = 0; k < KeyCount; k++)
        {
            var counter = await test.Client.GetAsync(prefix + k);
            Assert.True(counter is not null, $"counter {k} is missing");
            Assert.Equal((expected[k], versions[k]), (counter.Value, counter.Version));
        }

        static (int Key, long Delta) AddOf(int caller, int i) => ((caller * 7 + i * 3) % KeyCount, (i % 7) - 2);
    }

    /// <summary>
    /// 8 threads × 25,000 increments (a quarter on one hot key, the rest over 400 keys, deltas −3…5) into one buffer that
    /// flushes every 20 ms in batches of at most 16 keys (about 25 batches a flush), every batch through the faults; after close, every total is exact
    /// and the metrics count every increment flushed and none refused.
    /// </summary>
    public static async Task CounterBufferAsync(Uri baseAddress, string? accessKey)
    {
        const int Threads = 8, IncrementsPerThread = 25_000, KeyCount = 400;
        var faults = FaultInjectingHandler.Mixed();
        await using var test = new TestClient(baseAddress, accessKey, faults, services: static s => s.AddFuncMapCounterBuffer(static o =>
        {
            o.FlushInterval = TimeSpan.FromMilliseconds(20);
            o.MaxPendingKeys = 16;
            o.MaxBatchItems = 16;
            o.RetryDelay = TimeSpan.FromMilliseconds(10);
        }));
        var meters = test.Services.GetRequiredService<IMeterFactory>();
        using var flushed = new MetricCollector<long>(meters, ClientInstruments.MeterName, ClientInstruments.FlushedIncrements);
        using var refused = new MetricCollector<long>(meters, ClientInstruments.MeterName, ClientInstruments.RefusedIncrements);
        var buffer = test.Services.GetRequiredService<CounterBuffer>();
        var prefix = Keys.Prefix("once-buf");
        var expected = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var t = 0; t < Threads; t++)
        {
            for (var i = 0; i < IncrementsPerThread; i++)
            {
                var (key, delta) = IncrementOf(prefix, t, i);
                expected[key] = expected.GetValueOrDefault(key) + delta;
            }
        }

        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            for (var i = 0; i < IncrementsPerThread; i++)
            {
                var (key, delta) = IncrementOf(prefix, t, i);
                buffer.Increment(key, delta);
            }
        })).ToList();
        threads.ForEach(static t => t.Start());
        threads.ForEach(static t => t.Join());
        var closed = await buffer.CloseAsync();

        Assert.True(closed.IsComplete, $"{closed.Refused.Count} refused, {closed.Unsent.Count} unsent: {closed.LastError}");
        AssertEveryFaultInjected(faults);
        Assert.Equal(Threads * (long)IncrementsPerThread, flushed.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(0, refused.GetMeasurementSnapshot().EvaluateAsCounter());
        foreach (var (key, total) in expected)
        {
            Assert.Equal((key, total), (key, (await test.Client.GetAsync(key))?.Value ?? 0));
        }

        static (string Key, long Delta) IncrementOf(string prefix, int thread, int i) =>
            (i % 4 == 0 ? prefix + "hot" : prefix + ((thread * 31 + i) % KeyCount), (i % 9) - 3);
    }

    /// <summary>The test proves something only if every kind of fault happened.</summary>
    private static void AssertEveryFaultInjected(FaultInjectingHandler faults)
    {
        foreach (var fault in new[] { Fault.DropResponseAfterApplied, Fault.ResetMidRequest, Fault.ServiceUnavailableAfterApplied, Fault.AnswerAfterAttemptTimeout })
        {
            Assert.True(faults.Injected(fault) > 0, $"no {fault} was injected");
        }
    }
}

/// <summary>The exactly-once scenarios against the local host in this process, on Kestrel.</summary>
[Collection(LocalHostGroup.Name)]
public sealed class LocalExactlyOnceTests(KestrelHost host)
{
    [Fact]
    public Task AddAsync_ConcurrentCallersUnderFaults_EveryAddAppliedOnce() =>
        ExactlyOnceScenarios.AddAsyncAsync(host.BaseAddress, KestrelHost.AccessKey, wait: false);

    [Fact]
    public Task CounterBuffer_ConcurrentIncrementsUnderFaults_TotalsExact() =>
        ExactlyOnceScenarios.CounterBufferAsync(host.BaseAddress, KestrelHost.AccessKey);
}

/// <summary>
/// The same scenarios against any running host at <c>FUNCMAP_BASE_URL</c> (the local host, the Functions app under a
/// Functions host, a deployment), with <c>FUNCMAP_FUNCTION_KEY</c> as its key; skipped with the reason when it is not
/// set. Adds use <c>?wait=true</c>: on the Functions app a plain add is shown only after its fold.
/// </summary>
public sealed class RemoteExactlyOnceTests
{
    public const string BaseUrlVariable = "FUNCMAP_BASE_URL";
    public const string KeyVariable = "FUNCMAP_FUNCTION_KEY";

    private static Uri BaseAddress => new(Environment.GetEnvironmentVariable(BaseUrlVariable)!);

    private static string? Key => Environment.GetEnvironmentVariable(KeyVariable);

    [RemoteHostFact]
    public Task AddAsync_ConcurrentCallersUnderFaults_EveryAddAppliedOnce() =>
        ExactlyOnceScenarios.AddAsyncAsync(BaseAddress, Key, wait: true);

    [RemoteHostFact]
    public Task CounterBuffer_ConcurrentIncrementsUnderFaults_TotalsExact() =>
        ExactlyOnceScenarios.CounterBufferAsync(BaseAddress, Key);
}

/// <summary>A fact that runs only when <c>FUNCMAP_BASE_URL</c> is set, and says so when skipped.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RemoteHostFactAttribute : FactAttribute
{
    public RemoteHostFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(RemoteExactlyOnceTests.BaseUrlVariable)))
        {
            Skip = $"{RemoteExactlyOnceTests.BaseUrlVariable} is not set: set it to a running host's base URL (and {RemoteExactlyOnceTests.KeyVariable} if it needs a key) to run these against it.";
        }
    }
}
