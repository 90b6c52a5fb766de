using System.Net;
using System.Text.Json;
using FuncMap.Batches;
using FuncMap.Http;
using FuncMap.Validation;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace FuncMap.Local.Tests;

/// <summary>The contract's one OpenAPI document: valid, served by the local host as is, and true to its routes and limits.</summary>
public sealed class OpenApiDocumentTests(LocalHostTarget target) : IClassFixture<LocalHostTarget>
{
    [Fact]
    public void Document_ReadsAsOpenApi31_WithoutErrorsOrWarnings()
    {
        using var stream = new MemoryStream(CounterOpenApi.Utf8Document.ToArray());
        var (document, diagnostic) = OpenApiDocument.Load(stream, OpenApiConstants.Json);

        Assert.NotNull(document);
        Assert.Empty(diagnostic!.Errors.Select(error => error.ToString()));
        Assert.Empty(diagnostic.Warnings.Select(warning => warning.ToString()));
        Assert.Equal(OpenApiSpecVersion.OpenApi3_1, diagnostic.SpecificationVersion);
        Assert.Empty(document.Validate(ValidationRuleSet.GetDefaultRuleSet())!.Select(error => error.ToString()));
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public async Task LocalHost_ServesTheSharedDocumentAsIs(string method)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), "openapi/v1.json");
        using var response = await target.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(method == "HEAD" ? [] : CounterOpenApi.Utf8Document.ToArray(), body);
    }

    [Fact]
    public void Document_ListsExactlyTheLocalHostsApiRoutes()
    {
        var served = target.Services.GetRequiredService<EndpointDataSource>().Endpoints
            .OfType<RouteEndpoint>()
            .Where(endpoint => endpoint.RoutePattern.RawText?.StartsWith("/api/", StringComparison.Ordinal) == true)
            .SelectMany(endpoint => endpoint.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods
                .Where(method => method != "HEAD") // HEAD is GET without the body (RFC 9110 §9.3.2): not an operation of its own
                .Select(method => (method, Normalize(endpoint.RoutePattern.RawText!))))
            .ToHashSet();

        Assert.Equal(served.Order(), ContractDocument.Operations.Order());
    }

    [Fact]
    public void Document_StatesTheLimitsTheCodeEnforces()
    {
        var schemas = ContractDocument.Root.GetProperty("components").GetProperty("schemas");
        Assert.All(Parameters("key"), key => Assert.Equal(CounterKey.MaxLength, key.GetProperty("schema").GetProperty("maxLength").GetInt32()));
        Assert.All(Parameters("Idempotency-Key"),
            id => Assert.Equal(OperationId.MaxLength, id.GetProperty("schema").GetProperty("maxLength").GetInt32()));
        Assert.Equal(CounterKey.MaxLength, Parameter("/api/counters", "get", "prefix").GetProperty("schema").GetProperty("maxLength").GetInt32());
        Assert.Equal(CounterKey.MaxLength, schemas.GetProperty("BatchItem").GetProperty("properties").GetProperty("key").GetProperty("maxLength").GetInt32());

        var pageSize = Parameter("/api/counters", "get", "pageSize").GetProperty("schema");
        Assert.Equal((CounterRequests.MaxPageSize, CounterRequests.DefaultPageSize),
            (pageSize.GetProperty("maximum").GetInt32(), pageSize.GetProperty("default").GetInt32()));

        var batch = schemas.GetProperty("BatchRequest").GetProperty("properties");
        Assert.Equal(IncrementBatchParser.MaxItems, batch.GetProperty("items").GetProperty("maxItems").GetInt32());
        Assert.Equal(OperationId.MaxLength, batch.GetProperty("batchId").GetProperty("maxLength").GetInt32());
    }

    /// <summary>Every operation's parameter called <paramref name="name"/> (at least one).</summary>
    private static List<JsonElement> Parameters(string name)
    {
        var found = ContractDocument.Root.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject())
            .Where(operation => operation.Value.TryGetProperty("parameters", out _))
            .SelectMany(operation => operation.Value.GetProperty("parameters").EnumerateArray())
            .Where(parameter => parameter.GetProperty("name").GetString() == name)
            .ToList();
        Assert.NotEmpty(found);
        return found;
    }

    private static JsonElement Parameter(string path, string method, string name) =>
        ContractDocument.Root.GetProperty("paths").GetProperty(path).GetProperty(method).GetProperty("parameters")
            .EnumerateArray().Single(parameter => parameter.GetProperty("name").GetString() == name);

    /// <summary>A route pattern as the document writes paths: no trailing slash.</summary>
    private static string Normalize(string pattern) => pattern.Length > 1 ? pattern.TrimEnd('/') : pattern;
}
