using System.Text;
using FuncMap.Functions.Hosting;
using FuncMap.Functions.Http;
using FuncMap.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

public class BenchNoopFunctionTests
{
    private static Task<Results<Accepted<BenchNoopAccepted>, ProblemHttpResult>> PostAsync(bool enabled, string? json)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Path = "/api/" + BenchNoopFunction.Route;
        if (json is null)
        {
            context.Request.ContentLength = 0;
        }
        else
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            context.Request.Body = new MemoryStream(bytes);
            context.Request.ContentLength = bytes.Length;
            context.Request.ContentType = "application/json";
        }

        var function = new BenchNoopFunction(Options.Create(new BenchOptions { NoopEndpoint = enabled }), Options.Create(new FuncMapHttpOptions()));
        return function.RunAsync(context.Request, CancellationToken.None);
    }

    [Fact]
    public async Task RunAsync_SwitchOff_404WithTheUnknownRouteRule()
    {
        var result = await PostAsync(enabled: false, """{"delta": 5}""");

        var problem = Assert.IsType<ProblemHttpResult>(result.Result);
        Assert.Equal((404, "route.notFound"), (problem.StatusCode, problem.ProblemDetails.Extensions["rule"]));
    }

    [Fact]
    public async Task RunAsync_SwitchOn_202WithTheDeltaAnAddWouldApply()
    {
        var withBody = Assert.IsType<Accepted<BenchNoopAccepted>>((await PostAsync(enabled: true, """{"delta": 5}""")).Result);
        var withoutBody = Assert.IsType<Accepted<BenchNoopAccepted>>((await PostAsync(enabled: true, json: null)).Result);

        Assert.Equal((202, 5L), (withBody.StatusCode, withBody.Value!.Delta));
        Assert.Equal(1L, withoutBody.Value!.Delta);
    }

    [Fact]
    public async Task RunAsync_SwitchOnBodyAnAddRefuses_AnAddsProblem()
    {
        var result = await PostAsync(enabled: true, """{"delta": "five"}""");

        var problem = Assert.IsType<ProblemHttpResult>(result.Result);
        Assert.Equal(400, problem.StatusCode);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("false", false)]
    [InlineData("true", true)]
    public void AddFuncMapFunctions_BenchSetting_SwitchesTheNoopEndpoint(string? setting, bool expected)
    {
        // App setting FuncMap__Bench__NoopEndpoint is this configuration key once the host has read it.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["FuncMap:Bench:NoopEndpoint"] = setting }).Build();
        using var services = new ServiceCollection().AddFuncMapFunctions(configuration).BuildServiceProvider();

        Assert.Equal(expected, services.GetRequiredService<IOptions<BenchOptions>>().Value.NoopEndpoint);
    }
}
