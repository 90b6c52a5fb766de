using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Http;
using FuncMap.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FuncMap.Functions.Tests;

public class CounterListingTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private readonly FakeEntityClient _entities = new();

    private void PutCounter(string key, long value, bool exists = true) =>
        _entities.Entities[Counter.IdOf(key)] = (new CounterState { Value = value, Version = 1, Exists = exists, UpdatedAt = Start }, Start);

    private static HttpRequest Request(string queryString)
    {
        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString(queryString);
        return context.Request;
    }

    private Task<CounterListResponse> PageAsync(string prefix, int pageSize, string? token = null)
    {
        ListRequest list = default;
        Assert.Null(CounterRequests.ReadList(Request($"?prefix={prefix}&pageSize={pageSize}" + (token is null ? "" : $"&continuationToken={token}")), out list));
        return CounterListing.ReadPageAsync(_entities, list, CancellationToken.None);
    }

    private async Task<List<string>> ReadAllAsync(string prefix, int pageSize, List<int>? pageSizes = null)
    {
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await PageAsync(prefix, pageSize, token);
            pageSizes?.Add(page.Items.Count);
            keys.AddRange(page.Items.Select(i => i.Key));
            token = page.ContinuationToken;
        }
        while (token is not null);

        return keys;
    }

    [Fact]
    public async Task ReadPageAsync_Prefix_OnlyMatchingLiveCountersInKeyOrder()
    {
        PutCounter("page:home", 5);
        PutCounter("page:cart", 1);
        PutCounter("page:gone", 0, exists: false);
        PutCounter("other", 9);

        var page = await PageAsync("page:", 10);

        Assert.Equal<string>(["page:cart", "page:home"], page.Items.Select(i => i.Key).ToArray());
        Assert.Null(page.ContinuationToken);
        Assert.Equal("@counter@page:", _entities.Queries[0].InstanceIdStartsWith);
    }

    [Fact]
    public async Task ReadPageAsync_BackendPagesShorterThanAsked_PageHoldsPageSizeWhileMoreRemain()
    {
        // The Azure Storage backend answered a query for 100 with 97 entities: a page must still hold 100.
        _entities.MaxPageSize = 97;
        for (var i = 0; i < 101; i++)
        {
            PutCounter($"k{i:D3}", i);
        }

        var first = await PageAsync(string.Empty, 100);
        var second = await PageAsync(string.Empty, 100, first.ContinuationToken);

        Assert.Equal(100, first.Items.Count);
        Assert.NotNull(first.ContinuationToken);
        Assert.Equal("k100", Assert.Single(second.Items).Key);
        Assert.Null(second.ContinuationToken);
    }

    [Fact]
    public async Task ReadPageAsync_TombstonesBetweenCounters_FullPagesEachKeyOnceInOrder()
    {
        _entities.MaxPageSize = 7;
        var live = new List<string>();
        for (var i = 0; i < 250; i++)
        {
            var key = $"p:{i:D4}";
            PutCounter(key, i, exists: i % 3 != 0);
            if (i % 3 != 0)
            {
                live.Add(key);
            }
        }

        var pageSizes = new List<int>();
        var keys = await ReadAllAsync("p:", 37, pageSizes);

        Assert.Equal(live, keys);
        Assert.All(pageSizes.SkipLast(1), size => Assert.Equal(37, size));
    }

    [Fact]
    public async Task ReadPageAsync_BackendPageLongerThanAsked_NextPageRepeatsNothing()
    {
        // A backend that ignores the page size: the page is cut at pageSize, and the token resumes inside it.
        for (var i = 0; i < 10; i++)
        {
            PutCounter($"k{i}", i);
        }

        var keys = await ReadAllAsync(string.Empty, 3);

        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"k{i}"), keys);
    }

    [Theory]
    [InlineData("%21%21")]
    [InlineData("Zm9vIGJhcg")]
    [InlineData("MTIzCg")]
    public async Task ListAsync_TokenThisApiNeverIssued_400NamingTheParameter(string token)
    {
        PutCounter("a", 1);

        var result = await CounterHttpFunctions.ListAsync(
            Request("?continuationToken=" + token), new FakeDurableTaskClient(_entities), CancellationToken.None);

        var problem = Assert.IsType<ProblemHttpResult>(result.Result);
        Assert.Equal(StatusCodes.Status400BadRequest, problem.StatusCode);
        Assert.Equal("continuationToken.invalid", problem.ProblemDetails.Extensions["rule"]);
        Assert.Empty(_entities.Queries);
    }

    [Fact]
    public async Task ListAsync_IssuedToken_IsBase64UrlAndContinues()
    {
        foreach (var key in new[] { "a", "b", "c" })
        {
            PutCounter(key, 1);
        }

        var client = new FakeDurableTaskClient(_entities);
        var first = Assert.IsType<Ok<CounterListResponse>>((await CounterHttpFunctions.ListAsync(Request("?pageSize=2"), client, CancellationToken.None)).Result);
        var token = first.Value!.ContinuationToken!;
        var second = Assert.IsType<Ok<CounterListResponse>>(
            (await CounterHttpFunctions.ListAsync(Request("?pageSize=2&continuationToken=" + token), client, CancellationToken.None)).Result);

        Assert.Matches("^[A-Za-z0-9_-]+$", token);
        Assert.Equal("c", Assert.Single(second.Value!.Items).Key);
        Assert.Null(second.Value.ContinuationToken);
    }

    [Theory]
    [InlineData("?pageSize=0", "pageSize.range")]
    [InlineData("?pageSize=1001", "pageSize.range")]
    [InlineData("?prefix=has%20space", "prefix.charset")]
    [InlineData("?continuationToken=a&continuationToken=b", "continuationToken.single")]
    public void ReadList_BrokenRule_400NamingIt(string query, string rule)
    {
        var problem = CounterRequests.ReadList(Request(query), out _);

        Assert.NotNull(problem);
        Assert.Equal(StatusCodes.Status400BadRequest, problem.StatusCode);
        Assert.Equal(rule, problem.ProblemDetails.Extensions["rule"]);
    }
}
