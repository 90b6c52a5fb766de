using FuncMap.Http;
using Microsoft.AspNetCore.Http;

namespace FuncMap.Local.Tests;

/// <summary>
/// <see cref="RequestLimits.Check"/> judges the request line by the target its caller read once and passes in (the
/// target as sent), and by the decoded path and query only when the server gives no raw target.
/// </summary>
public sealed class RequestLimitsTests
{
    private static readonly int TargetAtLimit = RequestLimits.MaxRequestLineBytes - "GET ".Length - " HTTP/1.1\r\n".Length;

    [Fact]
    public void Check_RawTargetOverTheLimit_Returns414_WhateverThePath()
    {
        var context = Get("/api/counters/a");

        var refused = RequestLimits.Check(context, "/api/counters/" + new string('a', TargetAtLimit + 1 - "/api/counters/".Length));

        Assert.Equal(StatusCodes.Status414UriTooLong, refused?.StatusCode);
        Assert.Equal("request.uriLength", refused!.ProblemDetails.Extensions["rule"]);
    }

    [Fact]
    public void Check_RawTargetAtTheLimit_ReturnsNull_WhateverThePath()
    {
        var context = Get("/api/counters/" + new string('a', TargetAtLimit));

        Assert.Null(RequestLimits.Check(context, "/api/counters/" + new string('a', TargetAtLimit - "/api/counters/".Length)));
    }

    [Fact]
    public void Check_NoRawTarget_MeasuresThePathAndQuery()
    {
        var atLimit = Get("/api/counters/a", "?pad=" + new string('p', TargetAtLimit - "/api/counters/a?pad=".Length));
        var overLimit = Get("/api/counters/a", "?pad=" + new string('p', TargetAtLimit + 1 - "/api/counters/a?pad=".Length));

        Assert.Null(RequestLimits.Check(atLimit, rawTarget: null));
        Assert.Equal(StatusCodes.Status414UriTooLong, RequestLimits.Check(overLimit, rawTarget: null)?.StatusCode);
    }

    private static DefaultHttpContext Get(string path, string query = "")
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Get;
        context.Request.Protocol = "HTTP/1.1";
        context.Request.Path = path;
        context.Request.QueryString = new QueryString(query.Length == 0 ? null : query);
        return context;
    }
}
