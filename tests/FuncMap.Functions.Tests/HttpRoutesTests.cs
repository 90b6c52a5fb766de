using System.Reflection;
using FuncMap.Functions.Http;
using Microsoft.Azure.Functions.Worker;

namespace FuncMap.Functions.Tests;

/// <summary>The HTTP triggers' routes and methods as the function indexer reads them from the attributes.</summary>
public sealed class HttpRoutesTests
{
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
}
