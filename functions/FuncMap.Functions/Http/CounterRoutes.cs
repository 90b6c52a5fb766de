using System.Reflection;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Azure.Functions.Worker;

namespace FuncMap.Functions.Http;

/// <summary>
/// The app's routes (below the host's <c>api</c> prefix) and the methods each serves, so that
/// <see cref="FallbackFunction"/> tells an unknown path (404) from a known one asked with another method (405), as the
/// local host's routing does. The table is read from the HTTP triggers themselves (each function's
/// <see cref="HttpTriggerAttribute"/>: its route and methods), every one but the catch-all's, so a function added
/// with a route is known without a second list; the counter routes' templates are the constants below.
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

    /// <summary>Every HTTP function's route, methods and name, read once from this assembly's triggers.</summary>
    private static readonly HttpRoute[] Routes = Discover(typeof(CounterRoutes).Assembly);

    /// <summary>The order methods are listed in <c>Allow</c>: safe ones first, then as RFC 9110 §9.3 lists them.</summary>
    private static readonly string[] MethodOrder = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

    /// <summary>
    /// The methods the routes matching <paramref name="path"/> (without the <c>api</c> prefix) serve, in <c>Allow</c>
    /// order; empty when none matches. The functions named in <paramref name="unserved"/> (switched off by a setting,
    /// and answering as an unknown route does) are left out.
    /// </summary>
    public static IReadOnlyList<string> AllowedMethods(string path, IReadOnlySet<string>? unserved = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var methods = new List<string>();
        var values = new RouteValueDictionary();
        var target = "/" + path.TrimStart('/');
        foreach (var route in Routes)
        {
            values.Clear();
            if (unserved?.Contains(route.Function) != true && route.Matcher.TryMatch(target, values))
            {
                methods.AddRange(route.Methods.Where(m => !methods.Contains(m)));
            }
        }

        return [.. methods.OrderBy(static m => Array.IndexOf(MethodOrder, m) is var i and >= 0 ? i : MethodOrder.Length).ThenBy(static m => m, StringComparer.Ordinal)];
    }

    /// <summary>The HTTP-triggered functions of <paramref name="assembly"/> with a route, but the catch-all (<see cref="FallbackFunction.Name"/>).</summary>
    internal static HttpRoute[] Discover(Assembly assembly) =>
        [.. from type in assembly.GetTypes()
            from method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
            let function = method.GetCustomAttribute<FunctionAttribute>()
            let trigger = method.GetParameters().Select(static p => p.GetCustomAttribute<HttpTriggerAttribute>()).FirstOrDefault(static a => a is not null)
            let route = trigger?.Route
            where function is not null && route is not null && function.Name != FallbackFunction.Name
            orderby function.Name
            select new HttpRoute(function.Name, route, Matcher(route), [.. (trigger.Methods ?? MethodOrder).Select(static m => m.ToUpperInvariant())])];

    private static TemplateMatcher Matcher(string template) => new(TemplateParser.Parse(template), new RouteValueDictionary());

    /// <summary>One HTTP function's route: its name, template and methods (upper case).</summary>
    internal sealed record HttpRoute(string Function, string Template, TemplateMatcher Matcher, string[] Methods);
}
