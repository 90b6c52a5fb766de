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

    [Fact]
    public async Task ReadPageAsync_Prefix_OnlyMatchingLiveCountersInKeyOrder()
    {
        PutCounter("page:home", 5);
        PutCounter("page:cart", 1);
        PutCounter("page:gone", 0, exists: false);
        PutCounter("other", 9);

        var page = await CounterListing.ReadPageAsync(_entities, "page:", 10, null, CancellationToken.None);

        Assert.Equal<string>(["page:cart", "page:home"], page.Items.Select(i => i.Key).ToArray());
        Assert.Null(page.ContinuationToken);
        Assert.Equal("@counter@page:", _entities.Queries.Single().InstanceIdStartsWith);
    }

    [Fact]
    public async Task ReadPageAsync_BackendToken_PassedThroughBothWays()
    {
        foreach (var key in new[] { "a", "b", "c", "d", "e" })
        {
            PutCounter(key, 1);
        }

        var first = await CounterListing.ReadPageAsync(_entities, string.Empty, 2, null, CancellationToken.None);
        var second = await CounterListing.ReadPageAsync(_entities, string.Empty, 2, first.ContinuationToken, CancellationToken.None);

        Assert.Equal<string>(["a", "b"], first.Items.Select(i => i.Key).ToArray());
        Assert.Equal("2", first.ContinuationToken);
        Assert.Equal<string>(["c", "d"], second.Items.Select(i => i.Key).ToArray());
        Assert.Equal("2", _entities.Queries[1].ContinuationToken);
    }

    [Fact]
    public async Task ReadPageAsync_PageOfTombstones_ReadsOnToTheNextLiveCounter()
    {
        PutCounter("a", 0, exists: false);
        PutCounter("b", 0, exists: false);
        PutCounter("c", 3);

        var page = await CounterListing.ReadPageAsync(_entities, string.Empty, 2, null, CancellationToken.None);

        Assert.Equal("c", Assert.Single(page.Items).Key);
        Assert.Null(page.ContinuationToken);
    }

    [Fact]
    public void ReadListParameters_OpaqueToken_ReturnedAsSent()
    {
        var problem = CounterRequests.ReadListParameters(Request("?prefix=page:&pageSize=7&continuationToken=1!opaque%2Fbackend"), out var list);

        Assert.Null(problem);
        Assert.Equal(new ListParameters("page:", 7, "1!opaque/backend"), list);
    }

    [Fact]
    public void ReadListParameters_NoParameters_Defaults()
    {
        Assert.Null(CounterRequests.ReadListParameters(Request(string.Empty), out var list));
        Assert.Equal(new ListParameters(string.Empty, CounterRequests.DefaultPageSize, null), list);
    }

    [Theory]
    [InlineData("?pageSize=0", "pageSize.range")]
    [InlineData("?pageSize=1001", "pageSize.range")]
    [InlineData("?prefix=has%20space", "prefix.charset")]
    [InlineData("?continuationToken=a&continuationToken=b", "continuationToken.single")]
    public void ReadListParameters_BrokenRule_400NamingIt(string query, string rule)
    {
        var problem = CounterRequests.ReadListParameters(Request(query), out _);

        Assert.NotNull(problem);
        Assert.Equal(StatusCodes.Status400BadRequest, problem.StatusCode);
        Assert.Equal(rule, problem.ProblemDetails.Extensions["rule"]);
    }

    [Fact]
    public void ReadList_TokenThisApiDidNotIssue_StillRejected()
    {
        ProblemHttpResult? problem = CounterRequests.ReadList(Request("?continuationToken=1!opaque"), out _);

        Assert.NotNull(problem);
        Assert.Equal("continuationToken.invalid", problem.ProblemDetails.Extensions["rule"]);
    }
}
