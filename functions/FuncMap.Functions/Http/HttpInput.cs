using FuncMap.Http;
using FuncMap.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FuncMap.Functions.Http;

/// <summary>
/// The list query as this host reads it: <c>prefix</c> and <c>pageSize</c> follow the shared rules of
/// <see cref="CounterRequests"/>, but the continuation token is the Durable backend's own, passed
/// through unchanged (the shared <see cref="ContinuationToken"/> encodes a last key, which an entity
/// query cannot resume from).
/// </summary>
internal static class HttpInput
{
    /// <summary>Reads <c>prefix</c>, <c>pageSize</c> and <c>continuationToken</c>, or the 400 for what is wrong.</summary>
    public static ProblemHttpResult? ReadList(HttpRequest request, out string prefix, out int pageSize, out string? continuationToken)
    {
        var query = request.Query;
        var errors = new List<ValidationError>();
        prefix = Single(query, "prefix", errors) ?? string.Empty;
        if (prefix.Length > 0 && CounterKey.Validate(prefix, "prefix") is { } prefixError)
        {
            errors.Add(prefixError with { Rule = prefixError.Rule.Replace("key.", "prefix.", StringComparison.Ordinal) });
        }

        pageSize = CounterRequests.DefaultPageSize;
        if (Single(query, "pageSize", errors) is { } size
            && (!int.TryParse(size, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out pageSize)
                || pageSize is < 1 or > CounterRequests.MaxPageSize))
        {
            errors.Add(new("pageSize", "pageSize.range", $"pageSize is an integer from 1 to {CounterRequests.MaxPageSize}."));
        }

        continuationToken = Single(query, ContinuationToken.ParameterName, errors) is { Length: > 0 } token ? token : null;
        return errors.Count > 0 ? CounterProblems.Validation(errors) : null;
    }

    private static string? Single(IQueryCollection query, string name, List<ValidationError> errors)
    {
        var values = query[name];
        if (values.Count > 1)
        {
            errors.Add(new(name, $"{name}.single", $"Give {name} at most once."));
            return null;
        }

        return values.Count == 1 ? values[0] : null;
    }
}
