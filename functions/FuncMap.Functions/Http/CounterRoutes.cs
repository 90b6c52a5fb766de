using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;

namespace FuncMap.Functions.Http;

/// <summary>
/// The API's routes (below the host's <c>api</c> prefix) and the methods each serves: the HTTP triggers
/// use these templates, and <see cref="FallbackFunction"/> tells an unknown path (404) from a known one
/// asked with another method (405), as the local host's routing does.
/// </summary>
public static class CounterRoutes
{
    /// <summary><c>GET</c> and <c>HEAD</c>: the list.</summary>
    public const string Counters = "counters";

    /// <summary><c>POST</c>: a batch.</summary>
    public const string Batch = "counters/batch";

    /// <summary><c>GET</c>, <c>HEAD</c>, <c>DELETE</c>: one counter.</summary>
    public const string Counter = "counters/{key}";

    /// <summary><c>POST</c>: add.</summary>
    public const string Add = "counters/{key}/add";

    /// <summary><c>POST</c>: reset.</summary>
    public const string Reset = "counters/{key}/reset";

    private static readonly (TemplateMatcher Matcher, string[] Methods)[] Routes =
    [
        (Matcher(Counters), ["GET", "HEAD"]),
        (Matcher(Batch), ["POST"]),
        (Matcher(Counter), ["GET", "HEAD", "DELETE"]),
        (Matcher(Add), ["POST"]),
        (Matcher(Reset), ["POST"]),
    ];

    /// <summary>The methods the route matching <paramref name="path"/> (without the <c>api</c> prefix) serves; empty when none matches.</summary>
    public static IReadOnlyList<string> AllowedMethods(string path)
    {
        var methods = new List<string>();
        var values = new RouteValueDictionary();
        foreach (var (matcher, allowed) in Routes)
        {
            values.Clear();
            if (matcher.TryMatch("/" + path.TrimStart('/'), values))
            {
                methods.AddRange(allowed.Where(m => !methods.Contains(m)));
            }
        }

        return methods;
    }

    private static TemplateMatcher Matcher(string template) => new(TemplateParser.Parse(template), new RouteValueDictionary());
}
