using System.Text;
using FuncMap.Functions.Accepts;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Functions.Http;
using FuncMap.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging.Abstractions;
using FuncMap.Testing;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

/// <summary>
/// The HTTP functions called directly, with the Durable client double running real <see cref="Counter"/> entities and
/// plain adds accepted into a real Azurite table and folded by a running <see cref="AcceptFolder"/>.
/// </summary>
[Collection(AzuriteTests.Name)]
public sealed class CounterHttpFunctionsTests : IAsyncLifetime, IDisposable
{
    private readonly FakeEntityClient _entities = new() { RunCounters = true };
    private readonly EntityClientSource _clients = new();
    private readonly AcceptLog _acceptLog;
    private readonly AcceptFolder _folder;
    private readonly List<AcceptLog> _otherLogs = [];

    public CounterHttpFunctionsTests(AzuriteFixture azurite)
    {
        _acceptLog = new AcceptLog(azurite.Table(AzuriteFixture.UniqueTableName("accepted")), TimeProvider.System, NullLogger<AcceptLog>.Instance);
        // Folds only when a write waits for one (BarrierAsync), so a test sees the rows a 202 left.
        _folder = new AcceptFolder(_acceptLog, _clients, Options.Create(new FuncMapFunctionsOptions { FoldInterval = TimeSpan.FromHours(1) }), new FunctionsMetrics(new TestMeterFactory()),
            TimeProvider.System, NullLogger<AcceptFolder>.Instance);
    }

    public Task InitializeAsync() => _folder.StartAsync(CancellationToken.None);

    public void Dispose() => _folder.Dispose();

    public async Task DisposeAsync()
    {
        await _folder.StopAsync(CancellationToken.None);
        await _acceptLog.DisposeAsync();
        foreach (var log in _otherLogs)
        {
            await log.DisposeAsync();
        }
    }

    private CounterHttpFunctions CreateFunctions(TimeSpan? waitTimeout = null, AcceptLog? acceptLog = null) => new(
        Options.Create(new FuncMapFunctionsOptions { WaitTimeout = waitTimeout ?? TimeSpan.FromSeconds(5), BatchWaitTimeout = waitTimeout ?? TimeSpan.FromSeconds(5) }),
        Options.Create(new FuncMapHttpOptions()),
        acceptLog ?? _acceptLog,
        _folder,
        _clients,
        TimeProvider.System,
        NullLogger<CounterHttpFunctions>.Instance);

    [Fact]
    public async Task AddAsync_WithoutWait_202OnceInTheAcceptLogThenFoldedIntoTheEntity()
    {
        var accepted = Assert.IsType<Accepted<WriteAccepted>>(await AddAsync("plain", 3, query: ""));

        Assert.Equal(("plain", null, "/api/counters/plain"), (accepted.Value!.Key, accepted.Value.OperationId, accepted.Location));
        Assert.Equal(3, AcceptFoldTests.ItemsIn(await ReadAcceptedAsync()).Single(i => i.Key == "plain").Delta);
        Assert.DoesNotContain(_entities.Signals, s => s.Operation == CounterOperations.Add);
    }

    [Fact]
    public async Task AddAsync_202ThenWithWait_TheWaitingAddSeesTheAcceptedOne()
    {
        await AddAsync("ryw", 3, query: "");
        await AddAsync("ryw", 4, query: "");

        var after = Assert.IsType<Ok<CounterResponse>>(await AddAsync("ryw", 0));

        Assert.Equal((7L, 2L), (after.Value!.Value, after.Value.Version));
    }

    [Fact]
    public async Task ResetAsync_After202Adds_ResetComesAfterThem()
    {
        await AddAsync("rst", 5, query: "");

        var reset = await CreateFunctions().ResetAsync(Request("POST", "?wait=true"), new FakeDurableTaskClient(_entities), "rst", CancellationToken.None);

        var counter = Assert.IsType<Ok<CounterResponse>>(reset.Result);
        Assert.Equal((0L, 2L), (counter.Value!.Value, counter.Value.Version));
    }

    [Fact]
    public async Task AddAsync_WithoutWaitStorageDown_503StorageUnavailableWithRetryAfter()
    {
        var down = new AcceptLog(AcceptFoldTests.DeadTable(), TimeProvider.System, NullLogger<AcceptLog>.Instance);
        _otherLogs.Add(down);

        var result = await AddAsync("down", 1, query: "", functions: CreateFunctions(acceptLog: down));

        var unavailable = Assert.IsType<ServiceUnavailableResult>(result);
        Assert.Equal("storage.unavailable", unavailable.Value.Extensions["rule"]);
        Assert.Equal(1, unavailable.RetryAfterSeconds);
        Assert.Empty(_entities.Signals);
    }

    private async Task<List<Azure.Data.Tables.TableEntity>> ReadAcceptedAsync()
    {
        var rows = new List<Azure.Data.Tables.TableEntity>();
        await foreach (var row in _acceptLog.Table.QueryAsync<Azure.Data.Tables.TableEntity>())
        {
            rows.Add(row);
        }

        return rows;
    }

    private static HttpRequest Request(string method, string query = "", string? json = null, string? idempotencyKey = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Request.QueryString = new QueryString(query);
        if (json is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            context.Request.Body = new MemoryStream(bytes);
            context.Request.ContentLength = bytes.Length;
            context.Request.ContentType = "application/json";
        }
        else
        {
            context.Request.ContentLength = 0;
        }

        if (idempotencyKey is not null)
        {
            context.Request.Headers[CounterRequests.IdempotencyKeyHeader] = idempotencyKey;
        }

        return context.Request;
    }

    private async Task<IResult> AddAsync(string key, long delta, string query = "?wait=true", CounterHttpFunctions? functions = null)
    {
        var result = await (functions ?? CreateFunctions()).AddAsync(
            Request("POST", query, $$"""{"delta": {{delta}}}"""), new FakeDurableTaskClient(_entities), key, CancellationToken.None);
        return result.Result;
    }

    [Fact]
    public async Task AddAsync_WithWait_AnswersWithTheOwnersReplyWithoutAnOrchestration()
    {
        var first = Assert.IsType<Ok<CounterResponse>>(await AddAsync("page:home", 5));
        var second = Assert.IsType<Ok<CounterResponse>>(await AddAsync("page:home", -7));

        Assert.Equal(("page:home", 5L, 1L), (first.Value!.Key, first.Value.Value, first.Value.Version));
        Assert.Equal((-2L, 2L), (second.Value!.Value, second.Value.Version));
    }

    [Fact]
    public async Task AddAsync_EightConcurrentWaitersOnOneKey_EachGetsTheStateRightAfterItsOwnAdd()
    {
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => AddAsync("hot", 1))));

        var versions = answers.Select(a => Assert.IsType<Ok<CounterResponse>>(a).Value!).Select(c => (c.Value, c.Version)).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 8).Select(i => ((long)i, (long)i)), versions);
    }

    [Fact]
    public async Task AddAsync_OverflowWithWait_409AndNothingChanged()
    {
        await AddAsync("max", long.MaxValue);

        var problem = Assert.IsType<ProblemHttpResult>(await AddAsync("max", 1));

        Assert.Equal(StatusCodes.Status409Conflict, problem.StatusCode);
        Assert.Equal("counter.overflow", problem.ProblemDetails.Extensions["rule"]);
    }

    [Fact]
    public async Task AddAsync_OwnerSlowerThanTheWait_503WithOperationIdAndRetryAfterAsTheLocalHost()
    {
        var silent = new FakeEntityClient();
        var request = Request("POST", "?wait=true", """{"delta": 1}""");

        var result = await CreateFunctions(TimeSpan.FromMilliseconds(50)).AddAsync(request, new FakeDurableTaskClient(silent), "slow", CancellationToken.None);

        var unavailable = Assert.IsType<ServiceUnavailableResult>(result.Result);
        Assert.Equal("engine.timeout", unavailable.Value.Extensions["rule"]);
        Assert.Equal(1, unavailable.RetryAfterSeconds);
        var sent = Assert.IsType<CounterCommand>(Assert.Single(silent.Signals).Input);
        Assert.Equal(sent.OperationId, unavailable.Value.Extensions["operationId"]);
    }

    [Fact]
    public async Task AddAsync_BodyOverFourKibibytesWithinOneMebibyte_Accepted()
    {
        // The contract's limit is 1 MiB on both hosts (FuncMap:Http:MaxBodyBytes), not 4 KiB.
        var json = """{"delta": 2}""" + new string(' ', 8 * 1024);

        var result = await CreateFunctions().AddAsync(Request("POST", json: json), new FakeDurableTaskClient(_entities), "big", CancellationToken.None);

        Assert.IsType<Accepted<WriteAccepted>>(result.Result);
    }

    [Fact]
    public async Task AddAsync_DeeplyNestedBodyOverFourKibibytes_400NotTooLarge()
    {
        var json = new string('[', 3000) + new string(']', 3000);

        var result = await CreateFunctions().AddAsync(Request("POST", json: json), new FakeDurableTaskClient(_entities), "nested", CancellationToken.None);

        var problem = Assert.IsType<ProblemHttpResult>(result.Result);
        Assert.Equal(StatusCodes.Status400BadRequest, problem.StatusCode);
    }

    [Fact]
    public async Task AddAsync_JsonObjectWithoutDelta_400DeltaRequiredAndNothingSent()
    {
        var result = await CreateFunctions().AddAsync(Request("POST", "?wait=true", json: "{}"), new FakeDurableTaskClient(_entities), "nodelta", CancellationToken.None);

        var problem = Assert.IsType<ProblemHttpResult>(result.Result);
        Assert.Equal((StatusCodes.Status400BadRequest, "delta.required"), (problem.StatusCode, problem.ProblemDetails.Extensions["rule"]));
        Assert.DoesNotContain(_entities.Signals, s => s.Operation == CounterOperations.Add);
    }

    [Fact]
    public async Task ResetAsync_MissingCounterWithWait_404()
    {
        var result = await CreateFunctions().ResetAsync(Request("POST", "?wait=true"), new FakeDurableTaskClient(_entities), "none", CancellationToken.None);

        var problem = Assert.IsType<ProblemHttpResult>(result.Result);
        Assert.Equal(StatusCodes.Status404NotFound, problem.StatusCode);
    }

    [Fact]
    public async Task DeleteAsync_WithWaitTwice_204Then404()
    {
        await AddAsync("gone", 1);
        var functions = CreateFunctions();

        var first = await functions.DeleteAsync(Request("DELETE", "?wait=true"), new FakeDurableTaskClient(_entities), "gone", CancellationToken.None);
        var second = await functions.DeleteAsync(Request("DELETE", "?wait=true"), new FakeDurableTaskClient(_entities), "gone", CancellationToken.None);

        Assert.IsType<NoContent>(first.Result);
        Assert.Equal(StatusCodes.Status404NotFound, Assert.IsType<ProblemHttpResult>(second.Result).StatusCode);
    }

    [Fact]
    public async Task BatchAsync_WithOverflowedKey_202ListingIt()
    {
        await AddAsync("p:max", long.MaxValue);
        const string body = """{"batchId": "b-1", "items": [{"key": "p:max", "delta": 1}, {"key": "p:ok", "delta": 1}]}""";

        var result = await CreateFunctions().BatchAsync(Request("POST", json: body), new FakeDurableTaskClient(_entities), CancellationToken.None);

        var accepted = Assert.IsType<Accepted<BatchAcceptedResponse>>(result.Result);
        Assert.Equal(["p:max"], accepted.Value!.OverflowedKeys!);
        Assert.Equal((2, 2), (accepted.Value.Items, accepted.Value.Keys));
    }

    [Fact]
    public async Task BatchAsync_PostedTwice_CountsOnceAndListsNoOverflow()
    {
        const string body = """{"batchId": "b-2", "items": [{"key": "a", "delta": 3}, {"key": "a", "delta": 2}]}""";
        var functions = CreateFunctions();

        for (var i = 0; i < 2; i++)
        {
            var result = await functions.BatchAsync(Request("POST", json: body), new FakeDurableTaskClient(_entities), CancellationToken.None);
            Assert.Null(Assert.IsType<Accepted<BatchAcceptedResponse>>(result.Result).Value!.OverflowedKeys);
        }

        var counter = await _entities.GetEntityAsync<FuncMap.Counters.CounterState>(Counter.IdOf("a"));
        Assert.Equal((5L, 1L), (counter!.State.Value, counter.State.Version));
    }

    [Fact]
    public async Task BatchAsync_OwnersSlowerThanTheWait_503EngineTimeout()
    {
        const string body = """{"batchId": "b-3", "items": [{"key": "a", "delta": 1}]}""";

        var result = await CreateFunctions(TimeSpan.FromMilliseconds(50)).BatchAsync(Request("POST", json: body), new FakeDurableTaskClient(new FakeEntityClient()), CancellationToken.None);

        var unavailable = Assert.IsType<ServiceUnavailableResult>(result.Result);
        Assert.Equal("engine.timeout", unavailable.Value.Extensions["rule"]);
    }

    [Fact]
    public async Task AddAsync_SameIdempotencyKeyWithWait_RepeatMarkedReplayedAndReusedForAnotherDelta422()
    {
        var functions = CreateFunctions();
        var client = new FakeDurableTaskClient(_entities);
        var first = Request("POST", "?wait=true", """{"delta": 10}""", idempotencyKey: "order-4711");
        var repeat = Request("POST", "?wait=true", """{"delta": 10}""", idempotencyKey: "order-4711");
        var other = Request("POST", "?wait=true", """{"delta": 11}""", idempotencyKey: "order-4711");

        var applied = await functions.AddAsync(first, client, "idem", CancellationToken.None);
        var replayed = await functions.AddAsync(repeat, client, "idem", CancellationToken.None);
        var refused = await functions.AddAsync(other, client, "idem", CancellationToken.None);

        Assert.Equal((10L, 1L), (Assert.IsType<Ok<CounterResponse>>(applied.Result).Value!.Value, Assert.IsType<Ok<CounterResponse>>(replayed.Result).Value!.Version));
        Assert.False(first.HttpContext.Response.Headers.ContainsKey(CounterRequests.IdempotentReplayedHeader));
        Assert.Equal("true", repeat.HttpContext.Response.Headers[CounterRequests.IdempotentReplayedHeader].ToString());
        var problem = Assert.IsType<ProblemHttpResult>(refused.Result);
        Assert.Equal((StatusCodes.Status422UnprocessableEntity, "idempotency.mismatch"), (problem.StatusCode, problem.ProblemDetails.Extensions["rule"]));
    }

    [Fact]
    public async Task BatchAsync_SameBatchIdWithAnotherDelta_202ListingTheMismatchedKey()
    {
        var functions = CreateFunctions();
        await functions.BatchAsync(Request("POST", json: """{"batchId": "b-9", "items": [{"key": "m", "delta": 1}]}"""), new FakeDurableTaskClient(_entities), CancellationToken.None);

        var result = await functions.BatchAsync(
            Request("POST", json: """{"batchId": "b-9", "items": [{"key": "m", "delta": 2}, {"key": "n", "delta": 1}]}"""), new FakeDurableTaskClient(_entities), CancellationToken.None);

        var accepted = Assert.IsType<Accepted<BatchAcceptedResponse>>(result.Result);
        Assert.Equal(["m"], accepted.Value!.MismatchedKeys!);
        Assert.Null(accepted.Value.OverflowedKeys);
    }

    [Theory]
    [InlineData("GET", "nothing/here")]
    [InlineData("POST", "counters/k/increment")]
    [InlineData("GET", "")]
    [InlineData("GET", "openapi/v2.json")]
    public void Fallback_UnknownRoute_404Problem(string method, string path)
    {
        var problem = Fallback().Run(Request(method), path);

        Assert.Equal(StatusCodes.Status404NotFound, problem.StatusCode);
        Assert.Equal("route.notFound", problem.ProblemDetails.Extensions["rule"]);
    }

    /// <summary>Every route the app serves, the counter routes and the others (OpenAPI, health, import, bench), is known to the fallback.</summary>
    [Theory]
    [InlineData("PUT", "counters/k", "GET, HEAD, DELETE")]
    [InlineData("GET", "counters/k/add", "POST")]
    [InlineData("DELETE", "counters", "GET, HEAD")]
    [InlineData("POST", "openapi/v1.json", "GET, HEAD")]
    [InlineData("POST", "health", "GET, HEAD")]
    [InlineData("DELETE", "manage/import", "GET, HEAD, POST")]
    public void Fallback_KnownRouteOtherMethod_405WithAllow(string method, string path, string allow)
    {
        var request = Request(method);

        var problem = Fallback().Run(request, path);

        Assert.Equal(StatusCodes.Status405MethodNotAllowed, problem.StatusCode);
        Assert.Equal("route.method", problem.ProblemDetails.Extensions["rule"]);
        Assert.Equal(allow, request.HttpContext.Response.Headers.Allow.ToString());
    }

    /// <summary><c>bench/noop</c> is a route only while <c>FuncMap:Bench:NoopEndpoint</c> is on; off, it is unknown, as its own POST answers.</summary>
    [Theory]
    [InlineData(true, StatusCodes.Status405MethodNotAllowed, "route.method")]
    [InlineData(false, StatusCodes.Status404NotFound, "route.notFound")]
    public void Fallback_BenchNoopOtherMethod_405OnlyWhileTheSwitchIsOn(bool noopEndpoint, int status, string rule)
    {
        var request = Request("GET");

        var problem = Fallback(noopEndpoint).Run(request, BenchNoopFunction.Route);

        Assert.Equal((status, rule), (problem.StatusCode, problem.ProblemDetails.Extensions["rule"]));
        Assert.Equal(noopEndpoint ? "POST" : string.Empty, request.HttpContext.Response.Headers.Allow.ToString());
    }

    private static FallbackFunction Fallback(bool noopEndpoint = false) => new(Options.Create(new BenchOptions { NoopEndpoint = noopEndpoint }));
}
