using System.Net;
using System.Text.Json;
using FuncMap.Http;

namespace FuncMap.Local.Tests;

/// <summary>
/// The contract's OpenAPI document (<see cref="CounterOpenApi"/>) as the tests read it: which status codes and
/// ProblemDetails rules each operation documents. The contract asserts every status and rule it meets against it,
/// so a response the hosts give and the document does not list fails the test that met it.
/// </summary>
public static class ContractDocument
{
    private static readonly Lazy<JsonDocument> Document = new(() => JsonDocument.Parse(CounterOpenApi.Utf8Document));

    /// <summary>The parsed document.</summary>
    public static JsonElement Root => Document.Value.RootElement;

    /// <summary>Every (method, path template) the document lists, e.g. <c>("POST", "/api/counters/{key}/add")</c>.</summary>
    public static IReadOnlySet<(string Method, string Path)> Operations =>
        Root.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(operation => (operation.Name.ToUpperInvariant(), path.Name)))
            .ToHashSet();

    /// <summary>
    /// Fails unless the document lists <paramref name="status"/> (and <paramref name="rule"/>, when given) for the
    /// operation that served <paramref name="request"/>, or among the problems any route answers (<c>x-funcmap-problems</c>).
    /// </summary>
    public static void AssertDocumented(HttpRequestMessage request, HttpStatusCode status, string? rule)
    {
        ArgumentNullException.ThrowIfNull(request);
        var method = request.Method.Method;
        var path = ApiPath(request.RequestUri!);
        var code = ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var operation = FindOperation(method == "HEAD" ? "GET" : method, path);
        if (operation is { } found && found.Operation.GetProperty("responses").TryGetProperty(code, out var response)
            && (rule is null || RulesOf(response).Contains(rule)))
        {
            return;
        }

        var general = Root.GetProperty("x-funcmap-problems").EnumerateArray()
            .Where(problem => problem.GetProperty("status").GetInt32() == (int)status)
            .SelectMany(RulesOf)
            .ToHashSet();
        Assert.True(general.Count > 0 && (rule is null || general.Contains(rule)),
            $"{method} {operation?.Template ?? path} answered {code}{(rule is null ? "" : " with rule " + rule)}, which the OpenAPI document "
            + "lists neither for that operation nor in x-funcmap-problems.");
    }

    /// <summary>The rules a response or an <c>x-funcmap-problems</c> entry lists.</summary>
    public static IEnumerable<string> RulesOf(JsonElement response) =>
        response.TryGetProperty("x-funcmap-rules", out var rules) || response.TryGetProperty("rules", out rules)
            ? rules.EnumerateArray().Select(rule => rule.GetString()!)
            : [];

    private static (string Template, JsonElement Operation)? FindOperation(string method, string path)
    {
        var segments = path.Split('/');
        foreach (var entry in Root.GetProperty("paths").EnumerateObject())
        {
            var template = entry.Name.Split('/');
            if (template.Length == segments.Length
                && template.Zip(segments).All(pair => pair.First.StartsWith('{') || pair.First == pair.Second)
                && entry.Value.TryGetProperty(method.ToLowerInvariant(), out var operation))
            {
                return (entry.Name, operation);
            }
        }

        return null;
    }

    /// <summary>The request's path from <c>/api</c> on (a remote base URL may put the API below another path).</summary>
    private static string ApiPath(Uri uri)
    {
        var path = uri.AbsolutePath;
        var api = path.IndexOf("/api/", StringComparison.Ordinal);
        return api < 0 ? path : path[api..];
    }
}
