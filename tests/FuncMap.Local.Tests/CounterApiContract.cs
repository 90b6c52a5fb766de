using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FuncMap.Local.Tests;

/// <summary>A counter as the API returns it.</summary>
public sealed record CounterDto(string Key, long Value, long Version, DateTimeOffset UpdatedAt);

/// <summary>A page of the list API.</summary>
public sealed record CounterPageDto(List<CounterDto> Items, string? ContinuationToken);

/// <summary>
/// The HTTP contract of DESIGN.md, once, for every host: a concrete class supplies the target.
/// Every test works on its own keys (a random prefix), so the contract can run against a shared host.
/// </summary>
public abstract class CounterApiContract(ICounterApiTarget target)
{
    protected static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    protected ICounterApiTarget Target { get; } = target;

    protected HttpClient Client => Target.Client;

    /// <summary>A prefix no other test (or earlier run) uses.</summary>
    protected static string NewPrefix() => "t" + Guid.NewGuid().ToString("N")[..12] + ":";

    [ContractFact]
    public async Task Add_WithoutWait_Returns202WithLocation()
    {
        var key = NewPrefix() + "a";
        using var response = await PostJsonAsync($"api/counters/{key}/add", """{"delta": 3}""");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.EndsWith($"/api/counters/{key}", response.Headers.Location?.OriginalString);

        var after = await AddAsync(key, 0);
        Assert.Equal(3, after.Value);
    }

    [ContractFact]
    public async Task Add_WithWait_ReturnsExactValuesAndVersions()
    {
        var key = NewPrefix() + "w";
        var first = await AddAsync(key, 5);
        Assert.Equal((key, 5L, 1L), (first.Key, first.Value, first.Version));

        var second = await AddAsync(key, -7);
        Assert.Equal((-2L, 2L), (second.Value, second.Version));

        using var noBody = await Client.PostAsync($"api/counters/{key}/add?wait=true", null);
        var third = await ReadCounterAsync(noBody);
        Assert.Equal((-1L, 3L), (third.Value, third.Version));
        Assert.True(third.UpdatedAt >= first.UpdatedAt);

        var read = await GetAsync(key);
        Assert.Equal(third, read);
    }

    [ContractFact]
    public async Task Add_JsonWithCharset_IsAccepted()
    {
        var key = NewPrefix() + "c";
        using var content = new StringContent("""{"delta": 2}""", Encoding.UTF8, "application/json");
        Assert.Equal("utf-8", content.Headers.ContentType!.CharSet);
        using var response = await Client.PostAsync($"api/counters/{key}/add?wait=true", content);
        Assert.Equal(2, (await ReadCounterAsync(response)).Value);
    }

    [ContractFact]
    public async Task Add_OverflowWithWait_Returns409AndChangesNothing()
    {
        var key = NewPrefix() + "o";
        await AddAsync(key, long.MaxValue);
        using var response = await PostJsonAsync($"api/counters/{key}/add?wait=true", """{"delta": 1}""");
        await AssertProblemAsync(response, HttpStatusCode.Conflict, "counter.overflow");
        var read = await GetAsync(key);
        Assert.Equal((long.MaxValue, 1L), (read.Value, read.Version));
    }

    [ContractFact]
    public async Task Add_OverflowWithoutWait_Returns202AndChangesNothing()
    {
        var key = NewPrefix() + "o";
        await AddAsync(key, long.MinValue);
        using var response = await PostJsonAsync($"api/counters/{key}/add", """{"delta": -1}""");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var after = await AddAsync(key, 0);
        Assert.Equal((long.MinValue, 2L), (after.Value, after.Version));
    }

    [ContractFact]
    public async Task Get_Missing_Returns404Problem()
    {
        using var response = await Client.GetAsync($"api/counters/{NewPrefix()}missing");
        await AssertProblemAsync(response, HttpStatusCode.NotFound, "counter.notFound");
    }

    [ContractFact]
    public async Task Reset_WithWait_SetsZeroAndKeepsCountingVersions()
    {
        var key = NewPrefix() + "r";
        await AddAsync(key, 41);
        using var response = await Client.PostAsync($"api/counters/{key}/reset?wait=true", null);
        var reset = await ReadCounterAsync(response);
        Assert.Equal((0L, 2L), (reset.Value, reset.Version));
        Assert.Equal((1L, 3L), ((await AddAsync(key, 1)).Value, (await GetAsync(key)).Version));
    }

    [ContractFact]
    public async Task Reset_WithoutWait_Returns202()
    {
        var key = NewPrefix() + "r";
        await AddAsync(key, 41);
        using var response = await Client.PostAsync($"api/counters/{key}/reset", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(0, (await AddAsync(key, 0)).Value);
    }

    [ContractFact]
    public async Task Reset_MissingWithWait_Returns404()
    {
        using var response = await Client.PostAsync($"api/counters/{NewPrefix()}none/reset?wait=true", null);
        await AssertProblemAsync(response, HttpStatusCode.NotFound, "counter.notFound");
    }

    [ContractFact]
    public async Task Delete_WithWait_Returns204AndThenGet404()
    {
        var key = NewPrefix() + "d";
        await AddAsync(key, 1);
        using var response = await Client.DeleteAsync($"api/counters/{key}?wait=true");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        using var get = await Client.GetAsync($"api/counters/{key}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        using var again = await Client.DeleteAsync($"api/counters/{key}?wait=true");
        await AssertProblemAsync(again, HttpStatusCode.NotFound, "counter.notFound");
    }

    [ContractFact]
    public async Task Delete_WithoutWait_Returns202()
    {
        var key = NewPrefix() + "d";
        await AddAsync(key, 1);
        using var response = await Client.DeleteAsync($"api/counters/{key}");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        // The owner applies a key's operations in arrival order: this add comes after the delete.
        var recreated = await AddAsync(key, 5);
        Assert.Equal(5, recreated.Value);
    }

    [ContractFact]
    public async Task IdempotencyKey_SameAddFiveTimes_CountsOnce()
    {
        var key = NewPrefix() + "i";
        CounterDto? last = null;
        for (var i = 0; i < 5; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"api/counters/{key}/add?wait=true")
            {
                Content = new StringContent("""{"delta": 10}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", "order-4711");
            using var response = await Client.SendAsync(request);
            last = await ReadCounterAsync(response);
        }

        Assert.Equal((10L, 1L), (last!.Value, last.Version));

        for (var i = 0; i < 5; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"api/counters/{key}/add")
            {
                Content = new StringContent("""{"delta": 1}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", "order-4712");
            using var response = await Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        Assert.Equal((11L, 3L), ((await AddAsync(key, 0)).Value, (await GetAsync(key)).Version));
    }

    /// <summary>
    /// draft-ietf-httpapi-idempotency-key-header: a repeat is answered as a replay (marked), a key reused for another
    /// operation or delta is refused with 422 and changes nothing (the issue's case: a reset "answered" 200 value 5).
    /// </summary>
    [ContractFact]
    public async Task IdempotencyKey_ReusedForDifferentRequest_Returns422AndRepeatIsMarkedReplayed()
    {
        var key = NewPrefix() + "op";
        using (var first = await SendWithKeyAsync(HttpMethod.Post, $"api/counters/{key}/add?wait=true", "op-A", """{"delta": 5}"""))
        {
            Assert.Equal((5L, 1L), Pair(await ReadCounterAsync(first)));
            Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        }

        using (var repeat = await SendWithKeyAsync(HttpMethod.Post, $"api/counters/{key}/add?wait=true", "op-A", """{"delta": 5}"""))
        {
            Assert.Equal((5L, 1L), Pair(await ReadCounterAsync(repeat)));
            Assert.Equal(["true"], repeat.Headers.GetValues("Idempotent-Replayed"));
        }

        using (var otherDelta = await SendWithKeyAsync(HttpMethod.Post, $"api/counters/{key}/add?wait=true", "op-A", """{"delta": 100}"""))
        {
            await AssertProblemAsync(otherDelta, (HttpStatusCode)422, "idempotency.mismatch");
        }

        using (var reset = await SendWithKeyAsync(HttpMethod.Post, $"api/counters/{key}/reset?wait=true", "op-A", null))
        {
            await AssertProblemAsync(reset, (HttpStatusCode)422, "idempotency.mismatch");
        }

        using (var delete = await SendWithKeyAsync(HttpMethod.Delete, $"api/counters/{key}?wait=true", "op-A", null))
        {
            await AssertProblemAsync(delete, (HttpStatusCode)422, "idempotency.mismatch");
        }

        Assert.Equal((5L, 1L), Pair(await GetAsync(key)));
    }

    [ContractFact]
    public async Task Batch_ReusedIdWithNewKey_AppliesTheNewKeyAndCountsTheOldOnce()
    {
        var prefix = NewPrefix();
        using (var first = await PostJsonAsync("api/counters/batch", $$"""{"batchId": "{{prefix}}dup-1", "items": [{"key": "{{prefix}}a", "delta": 1}]}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        }

        using (var second = await PostJsonAsync("api/counters/batch", $$"""{"batchId": "{{prefix}}dup-1", "items": [{"key": "{{prefix}}b", "delta": 1}, {"key": "{{prefix}}a", "delta": 1}]}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        }

        Assert.Equal((1L, 1L), ((await AddAsync($"{prefix}a", 0)).Value, (await AddAsync($"{prefix}b", 0)).Value));
    }

    [ContractFact]
    public async Task IdempotencyKey_Invalid_Returns400NamingTheHeader()
    {
        var key = NewPrefix() + "i";
        // (Leading and trailing spaces are not testable over HTTP: servers strip them as optional whitespace.)
        foreach (var bad in new[] { new string('x', 129), new string('y', 1000), "tab\there" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"api/counters/{key}/add?wait=true");
            request.Headers.TryAddWithoutValidation("Idempotency-Key", bad);
            using var response = await Client.SendAsync(request);
            var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
            Assert.Equal("Idempotency-Key", problem.GetProperty("errors")[0].GetProperty("field").GetString());
        }
    }

    [ContractFact]
    public async Task Concurrency_EightClientsOnOneHotKey_ExactTotal()
    {
        var key = NewPrefix() + "hot";
        await RunParallelAddsAsync(8, 500, (_, _) => key);
        var counter = await GetAsync(key);
        Assert.Equal((4000L, 4000L), (counter.Value, counter.Version));
    }

    [ContractFact]
    public async Task Concurrency_EightClientsOn200Keys_ExactTotals()
    {
        var prefix = NewPrefix();
        await RunParallelAddsAsync(8, 500, (client, i) => $"{prefix}{(client * 500 + i) % 200:D3}");
        var page = await ListAsync($"api/counters?prefix={prefix}&pageSize=1000");
        Assert.Equal(200, page.Items.Count);
        Assert.All(page.Items, c => Assert.Equal((20L, 20L), (c.Value, c.Version)));
        Assert.Null(page.ContinuationToken);
    }

    [ContractFact]
    public async Task Batch_PostedTwiceWithSameBatchId_CountsOnce()
    {
        var prefix = NewPrefix();
        var body = $$"""{"batchId": "{{prefix}}batch-1", "items": [{"key": "{{prefix}}a", "delta": 3}, {"key": "{{prefix}}b", "delta": -1}, {"key": "{{prefix}}a", "delta": 2}]}""";
        for (var i = 0; i < 2; i++)
        {
            using var response = await PostJsonAsync("api/counters/batch", body);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var accepted = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
            Assert.Equal($"{prefix}batch-1", accepted.GetProperty("batchId").GetString());
            Assert.Equal(3, accepted.GetProperty("items").GetInt32());
            Assert.Equal(2, accepted.GetProperty("keys").GetInt32());
            Assert.False(accepted.TryGetProperty("overflowedKeys", out _));
        }

        Assert.Equal((5L, 1L), ((await GetAsync($"{prefix}a")).Value, (await GetAsync($"{prefix}a")).Version));
        Assert.Equal(-1, (await GetAsync($"{prefix}b")).Value);
    }

    [ContractFact]
    public async Task Batch_WithOverflowedKey_Returns202ListingIt()
    {
        var prefix = NewPrefix();
        await AddAsync($"{prefix}max", long.MaxValue);
        var body = $$"""{"batchId": "{{prefix}}b", "items": [{"key": "{{prefix}}max", "delta": 1}, {"key": "{{prefix}}ok", "delta": 1}]}""";
        using var response = await PostJsonAsync("api/counters/batch", body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
        Assert.Equal(new[] { $"{prefix}max" }, accepted.GetProperty("overflowedKeys").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(long.MaxValue, (await GetAsync($"{prefix}max")).Value);
        Assert.Equal(1, (await GetAsync($"{prefix}ok")).Value);
    }

    [ContractFact]
    public async Task Batch_Invalid_Returns400NamingFieldsAndRules()
    {
        var body = """{"batchId": "", "items": [{"key": "bad key", "delta": 1}, {"key": "ok", "delta": 1.5}], "extra": 1}""";
        using var response = await PostJsonAsync("api/counters/batch", body);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = problem.GetProperty("errors").EnumerateArray()
            .Select(e => (e.GetProperty("field").GetString(), e.GetProperty("rule").GetString())).ToList();
        Assert.Contains(("batchId", "id.required"), errors);
        Assert.Contains(("items[0].key", "key.charset"), errors);
        Assert.Contains(("items[1].delta", "delta.integer"), errors);
        Assert.Contains(("extra", "batch.unknownProperty"), errors);
    }

    [ContractFact]
    public async Task Batch_WithoutBody_Returns400()
    {
        using var response = await Client.PostAsync("api/counters/batch", null);
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "body.required");
    }

    [ContractFact]
    public async Task List_250KeysInPagesOf37_EachKeyOnceInOrder()
    {
        var prefix = NewPrefix();
        var keys = Enumerable.Range(0, 250).Select(i => $"{prefix}{i * 7919 % 1000:D4}").ToList();
        var items = string.Join(",", keys.Select(k => $$"""{"key": "{{k}}", "delta": 1}"""));
        using (var response = await PostJsonAsync("api/counters/batch", $$"""{"batchId": "{{prefix}}fill", "items": [{{items}}]}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await ListAsync($"api/counters?prefix={prefix}&pageSize=37" + (token is null ? "" : $"&continuationToken={token}"));
            Assert.True(page.Items.Count <= 37);
            seen.AddRange(page.Items.Select(c => c.Key));
            token = page.ContinuationToken;
            pages++;
        }
        while (token is not null);

        Assert.Equal(7, pages);
        Assert.Equal(keys.Order(StringComparer.Ordinal), seen);
    }

    [ContractFact]
    public async Task List_DefaultPageSize_Is100()
    {
        var prefix = NewPrefix();
        var items = string.Join(",", Enumerable.Range(0, 101).Select(i => $$"""{"key": "{{prefix}}{{i:D3}}", "delta": 1}"""));
        using (var response = await PostJsonAsync("api/counters/batch", $$"""{"batchId": "{{prefix}}fill", "items": [{{items}}]}"""))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var page = await ListAsync($"api/counters?prefix={prefix}");
        Assert.Equal(100, page.Items.Count);
        Assert.NotNull(page.ContinuationToken);
    }

    [ContractFact]
    public async Task List_BadQueryValues_Return400NamingTheParameter()
    {
        var cases = new (string Query, string Field)[]
        {
            ("pageSize=abc", "pageSize"), ("pageSize=-1", "pageSize"), ("pageSize=0", "pageSize"), ("pageSize=99999", "pageSize"),
            ("pageSize=1001", "pageSize"), ("pageSize=1.5", "pageSize"), ("pageSize=", "pageSize"), ("pageSize=1&pageSize=2", "pageSize"),
            ("continuationToken=%21%21", "continuationToken"), ("continuationToken=Zm9vIGJhcg", "continuationToken"),
            ("continuationToken=" + new string('A', 500), "continuationToken"), ("prefix=a%20b", "prefix"), ("prefix=" + new string('a', 91), "prefix"),
        };
        foreach (var (query, field) in cases)
        {
            using var response = await Client.GetAsync($"api/counters?{query}");
            var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest);
            Assert.Equal(field, problem.GetProperty("errors")[0].GetProperty("field").GetString());
        }
    }

    [ContractFact]
    public async Task Key_BreakingTheRule_Returns400NamingTheRule()
    {
        var cases = new (string Key, string Rule)[]
        {
            (new string('k', 91), "key.length"), ("a%20b", "key.charset"), ("a%2Fb", "key.charset"), ("%C3%A9", "key.charset"),
            ("a%ZZ", "key.charset"), ("a+b", "key.charset"),
        };
        foreach (var (key, rule) in cases)
        {
            using var add = await Client.PostAsync($"api/counters/{key}/add?wait=true", null);
            var problem = await AssertProblemAsync(add, HttpStatusCode.BadRequest, rule);
            Assert.Equal("key", problem.GetProperty("errors")[0].GetProperty("field").GetString());
            using var get = await Client.GetAsync($"api/counters/{key}");
            await AssertProblemAsync(get, HttpStatusCode.BadRequest, rule);
        }

        Assert.Equal(90, (await AddAsync(new string('k', 90), 90)).Key.Length);
    }

    [ContractFact]
    public async Task Add_BadBodies_Return400NamingTheRule()
    {
        var cases = new (string Body, string Rule)[]
        {
            ("{", "json.syntax"), ("[1]", "body.type"), ("{\"delta\": \"1\"}", "delta.type"), ("{\"delta\": 1.5}", "delta.integer"),
            ("{\"delta\": 9223372036854775808}", "delta.range"), ("{\"delta\": 1, \"x\": 2}", "body.unknownProperty"), ("{\"delta\": null}", "delta.type"),
        };
        foreach (var (body, rule) in cases)
        {
            using var response = await PostJsonAsync($"api/counters/{NewPrefix()}b/add", body);
            await AssertProblemAsync(response, HttpStatusCode.BadRequest, rule);
        }
    }

    /// <summary>
    /// A JSON body without <c>delta</c> is refused (it would otherwise add 1 whatever the sender meant); only an empty
    /// body means 1, with or without a JSON Content-Type.
    /// </summary>
    [ContractFact]
    public async Task Add_JsonObjectWithoutDelta_Returns400DeltaRequiredButAnEmptyBodyAddsOne()
    {
        var key = NewPrefix() + "d";
        using (var refused = await PostJsonAsync($"api/counters/{key}/add?wait=true", "{}"))
        {
            var problem = await AssertProblemAsync(refused, HttpStatusCode.BadRequest, "delta.required");
            Assert.Equal("delta", problem.GetProperty("errors")[0].GetProperty("field").GetString());
        }

        using (var missing = await Client.GetAsync($"api/counters/{key}"))
        {
            await AssertProblemAsync(missing, HttpStatusCode.NotFound, "counter.notFound");
        }

        using (var noBody = await Client.PostAsync($"api/counters/{key}/add?wait=true", null))
        {
            Assert.Equal((1L, 1L), Pair(await ReadCounterAsync(noBody)));
        }

        using (var emptyJson = await PostJsonAsync($"api/counters/{key}/add?wait=true", ""))
        {
            Assert.Equal((2L, 2L), Pair(await ReadCounterAsync(emptyJson)));
        }
    }

    [ContractFact]
    public async Task Add_WrongContentType_Returns415()
    {
        foreach (var type in new[] { "text/plain", "application/xml", "application/x-www-form-urlencoded", "application/json; charset=utf-16" })
        {
            using var content = new ByteArrayContent("""{"delta": 1}"""u8.ToArray());
            content.Headers.TryAddWithoutValidation("Content-Type", type);
            using var response = await Client.PostAsync($"api/counters/{NewPrefix()}t/add", content);
            await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "body.contentType");
        }
    }

    [ContractFact]
    public async Task Body_OverOneMebibyte_Returns413WithOrWithoutContentLength()
    {
        var big = new byte[1024 * 1024 + 1];
        big.AsSpan().Fill((byte)' ');
        using (var content = new ByteArrayContent(big))
        {
            content.Headers.ContentType = new("application/json");
            // Expect: 100-continue lets the server refuse by Content-Length before the body is sent
            // (without it a real socket may be closed under a client that is still sending).
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/counters/batch") { Content = content };
            request.Headers.ExpectContinue = true;
            using var response = await Client.SendAsync(request);
            await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body.size");
        }

        using (var chunked = new StreamContent(new MemoryStream(big)))
        {
            chunked.Headers.ContentType = new("application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/counters/batch") { Content = chunked };
            request.Headers.TransferEncodingChunked = true;
            using var response = await Client.SendAsync(request);
            await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body.size");
        }
    }

    /// <summary>
    /// The limit (1 MiB, <c>FuncMap:Http:MaxBodyBytes</c>) counts body bytes however the body is framed: exactly the limit is
    /// accepted and one byte more refused, with a Content-Length and chunked, and chunk framing does not count (300 KB in
    /// 2-byte chunks is 1 MB on the wire).
    /// </summary>
    [ContractFact]
    public async Task Body_AtTheLimitEdge_AcceptedThenRefusedSizedOrChunked()
    {
        const int limit = 1024 * 1024;
        var key = NewPrefix() + "edge";
        var expected = 0L;
        foreach (var (size, chunk) in new (int Size, int? Chunk)[] { (limit, null), (limit, 4096), (limit, 7), (300 * 1000, 2) })
        {
            using var response = await Client.PostAsync($"api/counters/{key}/add?wait=true", PaddedDelta(size, 2, chunk));
            expected += 2;
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{size} bytes in chunks of {chunk?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal(expected, (await ReadCounterAsync(response)).Value);
        }

        foreach (var chunk in new int?[] { null, 4096, 7 })
        {
            using var response = await Client.PostAsync($"api/counters/{key}/add?wait=true", PaddedDelta(limit + 1, 2, chunk));
            await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body.size");
        }

        Assert.Equal(expected, (await GetAsync(key)).Value);
    }

    /// <summary>
    /// Every body over the limit is a 413 ProblemDetails, however large and however framed (the Functions host's proxy used
    /// to answer an empty 500 once the worker refused a body it had not read: chunked from about 1.5 MiB, with a
    /// Content-Length over 30,000,000 bytes); the whole body was sent (read and discarded), and the host serves the next request.
    /// </summary>
    [ContractFact]
    public async Task Body_FarOverTheLimit_Returns413ProblemSizedOrChunked()
    {
        var key = NewPrefix() + "big";
        foreach (var (size, chunked) in new (long Size, bool Chunked)[] { (3L << 20, true), (3L << 20, false), (8L << 20, true), (31_000_000, false), (31_000_000, true) })
        {
            using var content = new GeneratedContent(size, chunked);
            using var response = await Client.PostAsync($"api/counters/{key}/add?wait=true", content);
            await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body.size");
            Assert.Equal(size, content.Sent);
        }

        Assert.Equal(1, (await AddAsync(key, 1)).Value);
    }

    /// <summary><c>{"delta": n}</c> padded with spaces to exactly <paramref name="size"/> bytes, sized or in chunks of <paramref name="chunk"/> bytes.</summary>
    private static HttpContent PaddedDelta(int size, long delta, int? chunk)
    {
        var json = Encoding.ASCII.GetBytes($$"""{"delta": {{delta}}""");
        var body = new byte[size];
        body.AsSpan().Fill((byte)' ');
        json.CopyTo(body, 0);
        body[^1] = (byte)'}';
        HttpContent content = chunk is { } c ? new StreamContent(new ChunkingStream(body, c), c) : new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        if (chunk is null)
        {
            content.Headers.ContentLength = size;
        }

        return content;
    }

    [ContractFact]
    public async Task Wait_NotABoolean_Returns400()
    {
        using var response = await Client.PostAsync($"api/counters/{NewPrefix()}w/add?wait=maybe", null);
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "wait.boolean");
    }

    [ContractFact]
    public async Task UnknownRoute_Returns404ProblemWithRule()
    {
        foreach (var (method, path) in new[] { ("GET", "api/nothing/here"), ("POST", "api/counters/k/add/more"), ("DELETE", "api/counters/k/reset/x"), ("PUT", "api/other") })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            using var response = await Client.SendAsync(request);
            await AssertProblemAsync(response, HttpStatusCode.NotFound, "route.notFound");
        }
    }

    /// <summary>
    /// A request line over 8 KiB is 414 ProblemDetails <c>request.uriLength</c>, one of exactly 8 KiB is served; more than
    /// 100 header fields or 32 KiB of headers is 431 <c>request.headersSize</c> (Kestrel's limits, which alone answer bare).
    /// </summary>
    [ContractFact]
    public async Task RequestLineAndHeaders_OverTheLimits_Return414And431Problems()
    {
        var path = $"api/counters/{NewPrefix()}u?pad=";
        var target = new Uri(Client.BaseAddress!, path).PathAndQuery;
        var atLimit = path + new string('p', 8192 - "GET ".Length - target.Length - " HTTP/1.1\r\n".Length);
        using (var served = await Client.GetAsync(atLimit))
        {
            await AssertProblemAsync(served, HttpStatusCode.NotFound, "counter.notFound");
        }

        using (var tooLong = await Client.GetAsync(atLimit + "p"))
        {
            await AssertProblemAsync(tooLong, HttpStatusCode.RequestUriTooLong, "request.uriLength");
        }

        using (var many = new HttpRequestMessage(HttpMethod.Get, "api/counters"))
        {
            for (var i = 0; i < 101; i++)
            {
                many.Headers.Add($"x-h{i}", "v");
            }

            using var response = await Client.SendAsync(many);
            await AssertProblemAsync(response, HttpStatusCode.RequestHeaderFieldsTooLarge, "request.headersSize");
        }

        using (var large = new HttpRequestMessage(HttpMethod.Get, "api/counters"))
        {
            large.Headers.Add("x-large", new string('v', 33 * 1024));
            using var response = await Client.SendAsync(large);
            await AssertProblemAsync(response, HttpStatusCode.RequestHeaderFieldsTooLarge, "request.headersSize");
        }
    }

    /// <summary>
    /// RFC 9110 §9.1: every GET route serves HEAD, with GET's status and headers and no body, for a counter, a missing
    /// counter (404 ProblemDetails headers) and the list.
    /// </summary>
    [ContractFact]
    public async Task Head_EveryGetRoute_AnswersAsGetWithoutBody()
    {
        var prefix = NewPrefix();
        await AddAsync(prefix + "h", 4);
        foreach (var (path, status) in new[] { ($"api/counters/{prefix}h", HttpStatusCode.OK), ($"api/counters/{prefix}missing", HttpStatusCode.NotFound), ($"api/counters?prefix={prefix}", HttpStatusCode.OK) })
        {
            using var get = await Client.GetAsync(path);
            using var headRequest = new HttpRequestMessage(HttpMethod.Head, path);
            using var head = await Client.SendAsync(headRequest);
            Assert.True(head.StatusCode == status, $"HEAD {path}: {(int)head.StatusCode}");
            Assert.Equal(get.StatusCode, head.StatusCode);
            Assert.Equal(get.Content.Headers.ContentType?.MediaType, head.Content.Headers.ContentType?.MediaType);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
    }

    /// <summary>Every route asked with a method it does not serve: 405 ProblemDetails <c>route.method</c> with <c>Allow</c>.</summary>
    [ContractFact]
    public async Task WrongMethod_EveryRoute_Returns405ProblemWithRuleAndAllow()
    {
        var key = NewPrefix() + "m";
        var cases = new (string Method, string Path, string[] Allowed)[]
        {
            ("PUT", "api/counters", ["GET", "HEAD"]),
            ("POST", "api/counters", ["GET", "HEAD"]),
            ("OPTIONS", "api/counters", ["GET", "HEAD"]),
            ("PUT", $"api/counters/{key}", ["DELETE", "GET", "HEAD"]),
            ("POST", $"api/counters/{key}", ["DELETE", "GET", "HEAD"]),
            ("OPTIONS", $"api/counters/{key}", ["DELETE", "GET", "HEAD"]),
            ("GET", $"api/counters/{key}/add", ["POST"]),
            ("DELETE", $"api/counters/{key}/add", ["POST"]),
            ("GET", $"api/counters/{key}/reset", ["POST"]),
            ("PATCH", "api/counters/batch", ["DELETE", "GET", "HEAD", "POST"]),
            ("OPTIONS", $"api/counters/{key}/add", ["POST"]),
        };
        foreach (var (method, path, allowed) in cases)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            using var response = await Client.SendAsync(request);
            await AssertProblemAsync(response, HttpStatusCode.MethodNotAllowed, "route.method");
            var allow = response.Content.Headers.Allow.Select(m => m.ToUpperInvariant()).ToHashSet();
            Assert.True(allowed.All(allow.Contains), $"{method} {path}: Allow {string.Join(", ", allow)}");
        }
    }

    /// <summary>
    /// A key segment that is a dot segment (plain or percent-encoded) is the key rule's 400 on every counter route, not
    /// whatever route the server's normalized path reaches (<c>POST /api/counters/./add</c> is <c>POST /api/counters/add</c>:
    /// 405 <c>Allow: DELETE, GET</c>; <c>GET /api/counters/.</c> is the list); an encoded slash is <c>key.charset</c>.
    /// </summary>
    [ContractFact]
    public async Task Routes_DotSegmentOrSlashAsKey_Return400TheKeyRule()
    {
        foreach (var segment in new[] { ".", "..", "%2E", "%2e%2E", ".%2E" })
        {
            foreach (var (method, path) in new[] { ("POST", $"api/counters/{segment}/add"), ("POST", $"api/counters/{segment}/reset"), ("GET", $"api/counters/{segment}"), ("DELETE", $"api/counters/{segment}") })
            {
                using var response = await SendRawPathAsync(new HttpMethod(method), path);
                var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "key.dotSegment");
                Assert.Equal("key", problem.GetProperty("errors")[0].GetProperty("field").GetString());
            }
        }

        foreach (var (method, path) in new[] { ("POST", "api/counters/%2F/add"), ("POST", "api/counters/%2F/reset"), ("GET", "api/counters/%2F"), ("DELETE", "api/counters/%2F") })
        {
            using var response = await SendRawPathAsync(new HttpMethod(method), path);
            await AssertProblemAsync(response, HttpStatusCode.BadRequest, "key.charset");
        }
    }

    [ContractFact]
    public async Task BadInput_SeveralHundredGeneratedRequests_NeverServerError()
    {
        var before = Target.UnexpectedErrors;
        var failures = new List<string>();
        var cases = BadInputGenerator.Generate(new Random(20261122), NewPrefix());
        Assert.True(cases.Count >= 300, $"only {cases.Count} cases");
        foreach (var badCase in cases)
        {
            using var request = badCase.Create();
            using var response = await Client.SendAsync(request);
            var status = (int)response.StatusCode;
            if (status >= 500 || !badCase.Expected.Contains(status))
            {
                failures.Add($"{badCase.Name}: {status}, expected {string.Join("/", badCase.Expected)}");
            }
            else if (badCase.ProblemBody && response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            {
                failures.Add($"{badCase.Name}: {status} without a ProblemDetails body");
            }
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(20)));
        Assert.Equal(before, Target.UnexpectedErrors);
    }

    [ContractFact]
    public async Task Batch_DotSegmentKeys_Returns400AndCreatesNothing()
    {
        var prefix = NewPrefix();
        var body = $$"""{"batchId": "{{prefix}}dots", "items": [{"key": ".", "delta": 5}, {"key": "..", "delta": 7}, {"key": "{{prefix}}ok", "delta": 1}]}""";
        using var response = await PostJsonAsync("api/counters/batch", body);
        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "key.dotSegment");
        var errors = problem.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("field").GetString(), e.GetProperty("rule").GetString())).ToList();
        Assert.Equal([("items[0].key", "key.dotSegment"), ("items[1].key", "key.dotSegment")], errors);
        using var missing = await Client.GetAsync($"api/counters/{prefix}ok");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    /// <summary>
    /// Every shape of key the rule accepts that URL handling could touch (dots and colons at either end, alone
    /// or repeated) is created, read, found at its Location, listed, reset and deleted through its own routes.
    /// </summary>
    [ContractFact]
    public async Task Routes_KeysWithDotsAndColons_RoundTrip()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        string[] keys = ["...", ":", "::", ".:.", $".{id}", $"{id}.", $"{id}..", $"...{id}", $":{id}", $"{id}:", $"{id}:.:", $"{id}.-_"];
        foreach (var key in keys)
        {
            // The short keys are shared by every run against one host: start from no counter.
            using (await Client.DeleteAsync($"api/counters/{key}?wait=true"))
            {
            }

            using (var added = await PostJsonAsync($"api/counters/{key}/add?wait=true", """{"delta": 3}"""))
            {
                var counter = await ReadCounterAsync(added);
                Assert.Equal((key, 3L), (counter.Key, counter.Value));
            }

            using (var accepted = await PostJsonAsync($"api/counters/{key}/add", """{"delta": 4}"""))
            {
                Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
                Assert.EndsWith($"/api/counters/{key}", accepted.Headers.Location?.OriginalString);
            }

            Assert.Equal((key, 7L), ((await AddAsync(key, 0)).Key, (await GetAsync(key)).Value));
            var listed = await ListAsync($"api/counters?prefix={Uri.EscapeDataString(key)}&pageSize=1000");
            Assert.Contains(listed.Items, c => c.Key == key);

            using (var reset = await Client.PostAsync($"api/counters/{key}/reset?wait=true", null))
            {
                Assert.Equal(0, (await ReadCounterAsync(reset)).Value);
            }

            using (var deleted = await Client.DeleteAsync($"api/counters/{key}?wait=true"))
            {
                Assert.True(deleted.StatusCode == HttpStatusCode.NoContent, $"DELETE {key}: {(int)deleted.StatusCode}");
            }

            using var gone = await Client.GetAsync($"api/counters/{key}");
            await AssertProblemAsync(gone, HttpStatusCode.NotFound, "counter.notFound");
        }
    }

    [ContractFact]
    public async Task Bodies_LeadingUtf8ByteOrderMark_Ignored()
    {
        var prefix = NewPrefix();
        using (var add = await Client.PostAsync($"api/counters/{prefix}bom/add?wait=true", WithBom("""{"delta": 3}""")))
        {
            Assert.Equal(3, (await ReadCounterAsync(add)).Value);
        }

        using (var batch = await Client.PostAsync("api/counters/batch", WithBom($$"""{"batchId": "{{prefix}}bom", "items": [{"key": "{{prefix}}bom", "delta": 4}]}""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        }

        Assert.Equal(7, (await AddAsync($"{prefix}bom", 0)).Value);

        static ByteArrayContent WithBom(string json)
        {
            var content = new ByteArrayContent([0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(json)]);
            content.Headers.ContentType = new("application/json");
            return content;
        }
    }

    [ContractFact]
    public async Task Add_QuotedCharset_IsAcceptedOnAddAndBatch()
    {
        var prefix = NewPrefix();
        foreach (var contentType in new[] { "application/json;charset=\"utf-8\"", "application/json; charset=\"UTF-8\"", "application/json;charset=UTF-8" })
        {
            var add = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"delta": 2}"""));
            add.Headers.TryAddWithoutValidation("Content-Type", contentType);
            using (var response = await Client.PostAsync($"api/counters/{prefix}q/add?wait=true", add))
            {
                await ReadCounterAsync(response);
            }

            var batch = new ByteArrayContent(Encoding.UTF8.GetBytes($$"""{"batchId": "{{prefix}}{{contentType.Length}}", "items": [{"key": "{{prefix}}q", "delta": 1}]}"""));
            batch.Headers.TryAddWithoutValidation("Content-Type", contentType);
            using (var response = await Client.PostAsync("api/counters/batch", batch))
            {
                Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{contentType}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        var quotedOther = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"delta": 2}"""));
        quotedOther.Headers.TryAddWithoutValidation("Content-Type", "application/json;charset=\"utf-16\"");
        using var refused = await Client.PostAsync($"api/counters/{prefix}q/add?wait=true", quotedOther);
        await AssertProblemAsync(refused, HttpStatusCode.UnsupportedMediaType, "body.contentType");
    }

    /// <summary>Sends <paramref name="path"/> exactly as written: the client's URI parser would otherwise remove dot segments and decode.</summary>
    protected async Task<HttpResponseMessage> SendRawPathAsync(HttpMethod method, string path)
    {
        var uri = new Uri(Client.BaseAddress + path, new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var request = new HttpRequestMessage(method, uri);
        return await Client.SendAsync(request);
    }

    protected async Task<HttpResponseMessage> SendWithKeyAsync(HttpMethod method, string uri, string idempotencyKey, string? json)
    {
        using var request = new HttpRequestMessage(method, uri);
        if (json is not null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
            request.Content.Headers.ContentType = new("application/json");
        }

        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return await Client.SendAsync(request);
    }

    protected static (long Value, long Version) Pair(CounterDto counter) => (counter.Value, counter.Version);

    protected async Task RunParallelAddsAsync(int clients, int addsPerClient, Func<int, int, string> keyOf)
    {
        var workers = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            using var client = Target.CreateClient();
            for (var i = 0; i < addsPerClient; i++)
            {
                using var response = await client.PostAsync($"api/counters/{keyOf(c, i)}/add?wait=true", null);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }));
        await Task.WhenAll(workers);
    }

    protected async Task<CounterDto> AddAsync(string key, long delta)
    {
        using var response = await PostJsonAsync($"api/counters/{key}/add?wait=true", $$"""{"delta": {{delta}}}""");
        return await ReadCounterAsync(response);
    }

    protected async Task<CounterDto> GetAsync(string key)
    {
        using var response = await Client.GetAsync($"api/counters/{key}");
        return await ReadCounterAsync(response);
    }

    protected async Task<CounterPageDto> ListAsync(string uri)
    {
        using var response = await Client.GetAsync(uri);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<CounterPageDto>(Json))!;
    }

    protected Task<HttpResponseMessage> PostJsonAsync(string uri, string json)
    {
        // StringContent adds "; charset=utf-8"; a bare application/json is the common case.
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
        content.Headers.ContentType = new("application/json");
        return Client.PostAsync(uri, content);
    }

    protected static async Task<CounterDto> ReadCounterAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        ContractDocument.AssertDocumented(response.RequestMessage!, response.StatusCode, rule: null);
        return JsonSerializer.Deserialize<CounterDto>(body, Json)!;
    }

    protected static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? rule = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonSerializer.Deserialize<JsonElement>(body, Json);
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        if (rule is not null)
        {
            Assert.Equal(rule, problem.GetProperty("rule").GetString());
        }

        // The one OpenAPI document lists every status and rule the contract meets.
        ContractDocument.AssertDocumented(response.RequestMessage!, status,
            problem.TryGetProperty("rule", out var given) ? given.GetString() : null);

        if (status == HttpStatusCode.BadRequest)
        {
            Assert.True(problem.GetProperty("errors").GetArrayLength() > 0);
        }

        return problem;
    }
}

/// <summary>A read-only stream over a buffer that hands out at most <c>chunk</c> bytes per read: with chunked transfer coding, one chunk each.</summary>
internal sealed class ChunkingStream(byte[] data, int chunk) : Stream
{
    private int _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = Math.Min(Math.Min(buffer.Length, chunk), data.Length - _position);
        data.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A JSON-typed body of <c>size</c> spaces written without holding it in memory, with a Content-Length or chunked; <see cref="Sent"/> counts what went out.</summary>
internal sealed class GeneratedContent : HttpContent
{
    private readonly long _size;
    private readonly bool _chunked;

    public GeneratedContent(long size, bool chunked)
    {
        (_size, _chunked) = (size, chunked);
        Headers.ContentType = new("application/json");
    }

    public long Sent { get; private set; }

    protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
    {
        var block = new byte[64 * 1024];
        block.AsSpan().Fill((byte)' ');
        for (var left = _size; left > 0; left -= block.Length)
        {
            var n = (int)Math.Min(block.Length, left);
            await stream.WriteAsync(block.AsMemory(0, n));
            Sent += n;
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _size;
        return !_chunked;
    }
}

/// <summary>The contract against the local host in memory (<c>WebApplicationFactory&lt;Program&gt;</c>).</summary>
public sealed class LocalHostContractTests(LocalHostTarget target) : CounterApiContract(target), IClassFixture<LocalHostTarget>;

/// <summary>The contract against a running host at <c>FUNCMAP_BASE_URL</c>; skipped with a reason when it is not set.</summary>
[RequiresEnvironment(RemoteHostTarget.BaseUrlVariable)]
public sealed class RemoteHostContractTests(RemoteHostTarget target) : CounterApiContract(target), IClassFixture<RemoteHostTarget>;
