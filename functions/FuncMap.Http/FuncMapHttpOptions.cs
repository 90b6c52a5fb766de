namespace FuncMap.Http;

/// <summary>Settings of the HTTP layer (configuration section <c>FuncMap:Http</c>).</summary>
public sealed class FuncMapHttpOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "FuncMap:Http";

    /// <summary>The default body limit: 1 MiB.</summary>
    public const long DefaultMaxBodyBytes = 1024 * 1024;

    /// <summary>The largest request body accepted, in bytes; larger bodies are answered 413.</summary>
    public long MaxBodyBytes { get; set; } = DefaultMaxBodyBytes;
}
