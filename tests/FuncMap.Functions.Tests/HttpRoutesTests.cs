using System.Reflection;
using FuncMap.Functions.Http;
using Microsoft.Azure.Functions.Worker;

namespace FuncMap.Functions.Tests;

/// <summary>The HTTP triggers' routes and methods as the function indexer reads them from the attributes.</summary>
public sealed class HttpRoutesTests
{
    /// <summary>
    /// The host tries routes in the order of the function names (azure-functions-host #9876): the catch-all must come
    /// last, or it takes the requests of every function named after it (seen under a real host: /api/openapi/v1.json
    /// and /api/health answered 404 by the fallback while it was named "Fallback").
    /// </summary>
    [Fact]
    public void HttpTriggers_TheCatchAllIsNamedAfterEveryOtherFunction()
    {
        var names = typeof(CounterHttpFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.GetParameters().Any(p => p.GetCustomAttribute<HttpTriggerAttribute>() is not null))
            .Select(m => m.GetCustomAttribute<FunctionAttribute>()!.Name)
            .ToList();

        Assert.Contains(FallbackFunction.Name, names);
        Assert.All(names.Where(name => name != FallbackFunction.Name), name =>
        {
            Assert.True(string.Compare(name, FallbackFunction.Name, StringComparison.Ordinal) < 0, $"{name} sorts after the catch-all");
            Assert.True(string.Compare(name, FallbackFunction.Name, StringComparison.OrdinalIgnoreCase) < 0, $"{name} sorts after the catch-all");
        });
    }

    /// <summary>RFC 9110 §9.1: a server that serves GET on a route serves HEAD there too.</summary>
    [Fact]
    public void HttpTriggers_EveryGetRoute_ServesHeadAndTheFallbackAllowsIt()
    {
        var triggers = typeof(CounterHttpFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(m => (Function: m.GetCustomAttribute<FunctionAttribute>()?.Name, Trigger: m.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).FirstOrDefault(a => a is not null)))
            .Where(t => t.Trigger is not null && t.Trigger.Methods is not null)
            .ToList();

        var gets = triggers.Where(t => t.Trigger!.Methods!.Contains("get", StringComparer.OrdinalIgnoreCase)).ToList();
        Assert.Contains(gets, t => t.Function == "CounterGet");
        Assert.Contains(gets, t => t.Function == "CounterList");
        Assert.All(gets, t => Assert.True(t.Trigger!.Methods!.Contains("head", StringComparer.OrdinalIgnoreCase), $"{t.Function} serves GET but not HEAD"));

        Assert.Equal(["GET", "HEAD"], CounterRoutes.AllowedMethods(CounterRoutes.Counters));
        Assert.Equal(["GET", "HEAD", "DELETE"], CounterRoutes.AllowedMethods("counters/k"));
    }

    /// <summary>The fallback's route table is every HTTP function's route but its own, read from the triggers.</summary>
    [Fact]
    public void AllowedMethods_KnowsEveryRouteTheAppServes()
    {
        var templates = typeof(CounterHttpFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttribute<FunctionAttribute>()?.Name != FallbackFunction.Name)
            .SelectMany(m => m.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()?.Route).OfType<string>())
            .Distinct()
            .Order(StringComparer.Ordinal);

        Assert.Equal(
            ["bench/noop", "counters", "counters/batch", "counters/{key}", "counters/{key}/add", "counters/{key}/reset", "health", "manage/import", "openapi/v1.json"],
            templates);
        Assert.Equal(templates, CounterRoutes.Discover(typeof(CounterRoutes).Assembly).Select(static r => r.Template).Distinct().Order(StringComparer.Ordinal));
    }
}
