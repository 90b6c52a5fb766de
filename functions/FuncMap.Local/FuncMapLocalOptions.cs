using FuncMap.Http;

namespace FuncMap.Local;

/// <summary>Settings of the local host (configuration section <c>FuncMap</c>; env vars <c>FuncMap__...</c>).</summary>
public sealed class FuncMapLocalOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "FuncMap";

    /// <summary>
    /// When set, every <c>/api</c> request must carry this key in the <c>x-functions-key</c> header or the
    /// <c>code</c> query parameter (the Azure Functions conventions), else it is answered 401.
    /// </summary>
    public string? AccessKey { get; set; }

    /// <summary>Benchmark switches.</summary>
    public BenchOptions Bench { get; set; } = new();
}
