namespace FuncMap.Http;

/// <summary>Benchmark switches of both hosts (configuration section <c>FuncMap:Bench</c>); used only by <c>bench/</c>.</summary>
public sealed class BenchOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "FuncMap:Bench";

    /// <summary>
    /// Serves <c>POST /bench/noop</c> (local host) and <c>POST /api/bench/noop</c> (Functions app), endpoints that
    /// do no work: the ceiling of the HTTP path the load benchmarks compare the counter endpoints with.
    /// </summary>
    public bool NoopEndpoint { get; set; }
}
