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

    /// <summary>
    /// The origins (<c>https://app.example</c>) whose browser pages may call the API (CORS, through ASP.NET Core's CORS
    /// middleware: methods GET, HEAD, POST, DELETE; request headers Content-Type, Idempotency-Key, x-functions-key;
    /// exposed Location, Retry-After, Idempotent-Replayed). Empty (the default): no CORS, so browsers refuse
    /// cross-origin calls, and an <c>OPTIONS</c> request is 405 <c>route.method</c> as any method a route does not serve.
    /// Set as <c>FuncMap:CorsOrigins:0</c> (env <c>FuncMap__CorsOrigins__0</c>), <c>…:1</c>, ….
    /// </summary>
    public string[] CorsOrigins { get; set; } = [];

    /// <summary>Benchmark switches.</summary>
    public BenchOptions Bench { get; set; } = new();
}
