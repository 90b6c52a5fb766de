using System.Net;

namespace FuncMap.Client.Tests;

/// <summary><see cref="FuncMapClient"/>'s surface against the real local host over HTTP.</summary>
[Collection(LocalHostGroup.Name)]
public sealed class FuncMapClientTests(KestrelHost host)
{
    [Fact]
    public async Task AddAsync_Wait_ReturnsTheCounterWithTheAccessKeySent()
    {
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey);
        var key = Keys.Prefix("add") + "a";

        var first = await test.Client.AddAsync(key, 3, wait: true);
        var second = await test.Client.AddAsync(key, -1, wait: true);

        Assert.Equal(3, first.Counter!.Value);
        Assert.Equal(2, second.Counter!.Value);
        Assert.Equal(2, second.Counter.Version);
        Assert.False(second.Replayed);
        Assert.Equal(32, second.OperationId.Length);
    }

    [Fact]
    public async Task AddAsync_BaseAddressEndingInApi_ReachesTheSameRoutes()
    {
        await using var test = new TestClient(new Uri(host.BaseAddress, "api"), KestrelHost.AccessKey);
        var key = Keys.Prefix("api") + "a";

        await test.Client.AddAsync(key, 5);

        Assert.Equal(5, (await test.Client.GetAsync(key))!.Value);
    }

    [Fact]
    public async Task AddAsync_WithoutAccessKey_ThrowsUnauthorizedWithItsRule()
    {
        await using var test = new TestClient(host.BaseAddress, accessKey: null);

        var error = await Assert.ThrowsAsync<FuncMapException>(() => test.Client.AddAsync(Keys.Prefix("nokey") + "a", 1));

        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Equal("accessKey.missing", error.Rule);
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task AddAsync_ResultWouldOverflow_ThrowsConflictWithRuleAndChangesNothing()
    {
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey);
        var key = Keys.Prefix("overflow") + "a";
        await test.Client.AddAsync(key, long.MaxValue, wait: true);

        var error = await Assert.ThrowsAsync<FuncMapException>(() => test.Client.AddAsync(key, 1, wait: true));

        Assert.Equal(HttpStatusCode.Conflict, error.StatusCode);
        Assert.Equal("counter.overflow", error.Rule);
        Assert.Equal(long.MaxValue, (await test.Client.GetAsync(key))!.Value);
    }

    [Fact]
    public async Task AddAsync_InvalidKey_ThrowsBeforeSending()
    {
        await using var test = new TestClient(TestClient.Nowhere(), KestrelHost.AccessKey);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => test.Client.AddAsync("a/b", 1));

        Assert.Contains("key.charset", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetAsync_MissingCounter_ReturnsNull()
    {
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey);

        Assert.Null(await test.Client.GetAsync(Keys.Prefix("missing") + "a"));
    }

    [Fact]
    public async Task ResetAndDeleteAsync_Wait_ResetThenRemove_AndAMissingCounterIsNotFound()
    {
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey);
        var key = Keys.Prefix("reset") + "a";
        await test.Client.AddAsync(key, 7, wait: true);

        var reset = await test.Client.ResetAsync(key, wait: true);
        var deleted = await test.Client.DeleteAsync(key, wait: true);
        var again = await Assert.ThrowsAsync<FuncMapException>(() => test.Client.DeleteAsync(key, wait: true));

        Assert.Equal(0, reset.Counter!.Value);
        Assert.Null(deleted.Counter);
        Assert.Null(await test.Client.GetAsync(key));
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Equal("counter.notFound", again.Rule);
    }

    [Fact]
    public async Task ListAsync_SeveralPages_YieldsEveryCounterOfThePrefixInKeyOrder()
    {
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey);
        var prefix = Keys.Prefix("list");
        var items = Enumerable.Range(0, 25).Select(i => new CounterIncrement($"{prefix}{i:D2}", i + 1)).ToArray();
        await test.Client.SendBatchAsync(items);

        var listed = new List<Counter>();
        await foreach (var counter in test.Client.ListAsync(prefix, pageSize: 10))
        {
            listed.Add(counter);
        }

        Assert.Equal(items.Select(static i => i.Key), listed.Select(static c => c.Key));
        Assert.Equal(items.Select(static i => i.Delta), listed.Select(static c => c.Value));
    }

    [Fact]
    public async Task SendBatchAsync_SameIdTwice_CountsOnceAndMarksTheReplay()
    {
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey);
        var prefix = Keys.Prefix("batch");
        CounterIncrement[] items = [new(prefix + "a", 2), new(prefix + "b", 3), new(prefix + "a", 4)];
        var id = FuncMapClient.NewOperationId();

        var first = await test.Client.SendBatchAsync(items, id);
        var second = await test.Client.SendBatchAsync(items, id);

        Assert.Equal((3, 2, false), (first.Items, first.Keys, first.Replayed));
        Assert.True(second.Replayed);
        Assert.Equal(6, (await test.Client.GetAsync(prefix + "a"))!.Value);
        Assert.Equal(3, (await test.Client.GetAsync(prefix + "b"))!.Value);
    }

    [Fact]
    public async Task SendBatchAsync_KeyTotalOutsideInt64_ThrowsBadRequestWithEveryError()
    {
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey);
        var key = Keys.Prefix("batchover") + "a";

        var error = await Assert.ThrowsAsync<FuncMapException>(() => test.Client.SendBatchAsync([new(key, long.MaxValue), new(key, 1)]));

        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Equal("batch.overflow", error.Rule);
        Assert.Equal("batch.overflow", Assert.Single(error.Errors).Rule);
        Assert.Null(await test.Client.GetAsync(key));
    }

    /// <summary>
    /// The first attempt is applied and answered 503 with <c>Retry-After: 1</c>: the retry waits the second (the
    /// pipeline's own delay is 10 ms), carries the same <c>Idempotency-Key</c>, and is answered as a replay.
    /// </summary>
    [Fact]
    public async Task AddAsync_FirstAnswerIs503RetryAfter_RetriesWithTheSameKeyAfterTheDelayAndCountsOnce()
    {
        var faults = new FaultInjectingHandler(static (_, _, attempt) => attempt == 1 ? Fault.ServiceUnavailableAfterApplied : Fault.None);
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey, faults, static r => r.AttemptTimeout.Timeout = TimeSpan.FromSeconds(15));
        var key = Keys.Prefix("retryafter") + "a";

        var result = await test.Client.AddAsync(key, 5, wait: true);

        var attempts = faults.Attempts.ToArray();
        Assert.Equal(2, attempts.Length);
        Assert.All(attempts, a => Assert.Equal(result.OperationId, a.IdempotencyKey));
        Assert.True(TimeProvider.System.GetElapsedTime(attempts[0].Timestamp, attempts[1].Timestamp) >= TimeSpan.FromSeconds(1));
        Assert.True(result.Replayed);
        Assert.Equal(5, result.Counter!.Value);
        Assert.Equal(1, result.Counter.Version);
    }

    [Fact]
    public async Task AddAsync_EveryAttemptFails_ThrowsWithTheLastStatusAndRetryAfter()
    {
        var faults = new FaultInjectingHandler(static (_, _, _) => Fault.ServiceUnavailableAfterApplied);
        await using var test = new TestClient(host.BaseAddress, KestrelHost.AccessKey, faults, static r => r.Retry.MaxRetryAttempts = 1);

        var error = await Assert.ThrowsAsync<FuncMapException>(() => test.Client.AddAsync(Keys.Prefix("fails") + "a", 1));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Equal("test.unavailable", error.Rule);
        Assert.Equal(TimeSpan.FromSeconds(1), error.RetryAfter);
        Assert.True(error.IsTransient);
        Assert.Equal(2, faults.Attempts.Count);
    }

    [Fact]
    public async Task AnyCall_NoServer_ThrowsTransientWithoutStatus()
    {
        await using var test = new TestClient(TestClient.Nowhere(), KestrelHost.AccessKey, resilience: static r => r.Retry.MaxRetryAttempts = 1);

        var error = await Assert.ThrowsAsync<FuncMapException>(() => test.Client.GetAsync("a"));

        Assert.Null(error.StatusCode);
        Assert.True(error.IsTransient);
        Assert.IsType<HttpRequestException>(error.InnerException);
    }
}
