using System.Text.Json;

namespace FuncMap.Functions.Tests;

/// <summary>
/// Checks of the app's build output that only a run under a Functions host would otherwise reveal.
/// The app's deps file (FuncMap.Functions.deps.json, copied next to this test assembly from the app's
/// output; publish resolves the same graph) lists the package versions the worker loads.
/// </summary>
public sealed class BuildOutputTests
{
    /// <summary>
    /// The worker's three assemblies call each other's internals (e.g. Worker.Grpc constructs Worker.Core's
    /// DefaultTraceContext): a mix of versions builds, but every invocation fails with MissingMethodException.
    /// </summary>
    private static readonly string[] WorkerPackages =
        ["Microsoft.Azure.Functions.Worker", "Microsoft.Azure.Functions.Worker.Core", "Microsoft.Azure.Functions.Worker.Grpc"];

    [Fact]
    public void DepsFile_WorkerPackages_ShareOneVersion()
    {
        var versions = ReadAppLibraries();

        var worker = WorkerPackages.Select(name => (name, Version: versions.GetValueOrDefault(name))).ToList();
        Assert.All(worker, p => Assert.False(p.Version is null, $"{p.name} is missing from the app's deps file"));
        Assert.True(worker.Select(p => p.Version).Distinct(StringComparer.Ordinal).Count() == 1,
            "The worker packages must be one version: " + string.Join(", ", worker.Select(p => $"{p.name} {p.Version}")));
    }

    [Fact]
    public void DepsFile_DurableTaskPackages_ShareOneVersion()
    {
        // The Durable client and worker packages are released together and pinned together (Directory.Packages.props).
        var durable = ReadAppLibraries()
            .Where(p => p.Key.StartsWith("Microsoft.DurableTask.", StringComparison.Ordinal) && p.Key != "Microsoft.DurableTask.Analyzers")
            .ToList();

        Assert.NotEmpty(durable);
        Assert.True(durable.Select(p => p.Value).Distinct(StringComparer.Ordinal).Count() == 1,
            "The Microsoft.DurableTask packages must be one version: " + string.Join(", ", durable.Select(p => $"{p.Key} {p.Value}")));
    }

    [Fact]
    public void DepsFile_Telemetry_OpenTelemetryWithoutTheClassicApplicationInsightsSdk()
    {
        // Functions documents OpenTelemetry for the isolated worker (host.json telemetryMode); the classic SDK must not come back transitively.
        var libraries = ReadAppLibraries();

        Assert.Contains("Microsoft.Azure.Functions.Worker.OpenTelemetry", libraries.Keys);
        Assert.Contains("Azure.Monitor.OpenTelemetry.Exporter", libraries.Keys);
        Assert.DoesNotContain(libraries.Keys, name => name.StartsWith("Microsoft.ApplicationInsights", StringComparison.Ordinal)
            || name == "Microsoft.Azure.Functions.Worker.ApplicationInsights");
    }

    /// <summary>Package name → version, from the <c>libraries</c> of the app's deps file (keys are "name/version").</summary>
    private static Dictionary<string, string> ReadAppLibraries()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "FuncMap.Functions.deps.json");
        Assert.True(File.Exists(path), $"The app's deps file is not at {path}");
        using var deps = JsonDocument.Parse(File.ReadAllBytes(path));
        var libraries = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var library in deps.RootElement.GetProperty("libraries").EnumerateObject())
        {
            if (library.Value.GetProperty("type").GetString() != "package")
            {
                continue;
            }

            var slash = library.Name.IndexOf('/', StringComparison.Ordinal);
            libraries[library.Name[..slash]] = library.Name[(slash + 1)..];
        }

        return libraries;
    }
}
