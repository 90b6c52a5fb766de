using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

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

/// <summary>Registers <see cref="FuncMapHttpOptions"/> once for both hosts.</summary>
public static class FuncMapHttpServiceCollectionExtensions
{
    /// <summary>Binds <see cref="FuncMapHttpOptions"/> to <c>FuncMap:Http</c> and validates it at start.</summary>
    public static IServiceCollection AddFuncMapHttpOptions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<FuncMapHttpOptions>().Bind(configuration.GetSection(FuncMapHttpOptions.SectionName))
            .Validate(static o => o.MaxBodyBytes is > 0 and <= int.MaxValue, "FuncMap:Http:MaxBodyBytes must be between 1 and 2147483647.")
            .ValidateOnStart();
        return services;
    }
}
