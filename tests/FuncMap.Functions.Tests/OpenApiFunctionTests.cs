using System.Reflection;
using System.Text.Json;
using FuncMap.Functions.Http;
using FuncMap.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace FuncMap.Functions.Tests;

/// <summary>The Functions app serves the contract's one OpenAPI document, and the document lists exactly its counter routes.</summary>
public sealed class OpenApiFunctionTests
{
    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public async Task Run_AnswersTheSharedDocumentAsIs(string method)
    {
        await using var services = new ServiceCollection().AddLogging().BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = method;
        context.Request.Path = "/api/" + OpenApiFunction.Route;
        using var body = new MemoryStream();
        context.Response.Body = body;

        await OpenApiFunction.Run(context.Request).ExecuteAsync(context);

        Assert.Equal((200, CounterOpenApi.ContentType), (context.Response.StatusCode, context.Response.ContentType));
        Assert.Equal(method == "HEAD" ? [] : CounterOpenApi.Utf8Document.ToArray(), body.ToArray());
    }

    [Fact]
    public void Document_ListsExactlyTheAppsCounterTriggers()
    {
        // Not the contract: the catch-all that answers 404/405 (documented in x-funcmap-problems), the bench's
        // no-op, this document itself, and the app's admin functions.
        var triggers = typeof(OpenApiFunction).Assembly.GetTypes()
            .SelectMany(type => type.GetMethods())
            .Where(method => method.GetCustomAttribute<FunctionAttribute>() is not null)
            .SelectMany(method => method.GetParameters())
            .Select(parameter => parameter.GetCustomAttribute<HttpTriggerAttribute>())
            .OfType<HttpTriggerAttribute>()
            .Where(trigger => trigger.Route is { } route && !route.StartsWith('{') && route != BenchNoopFunction.Route
                              && route != OpenApiFunction.Route && !route.StartsWith("admin/", StringComparison.Ordinal))
            .SelectMany(trigger => trigger.Methods!.Select(method => method.ToUpperInvariant())
                .Where(method => method != "HEAD") // GET without the body (RFC 9110 §9.3.2): not an operation of its own
                .Select(method => (method, "/api/" + trigger.Route)))
            .ToHashSet();

        using var document = JsonDocument.Parse(CounterOpenApi.Utf8Document);
        var documented = document.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => (operation.Name.ToUpperInvariant(), path.Name)))
            .ToHashSet();

        Assert.Equal(documented.Order(), triggers.Order());
    }
}
