using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FuncMap.Functions.Import;

/// <summary>Registers the import (<see cref="ImportOptions"/>, <see cref="ImportSource"/>, <see cref="ImportPageReader"/>).</summary>
public static class ImportServiceCollectionExtensions
{
    /// <summary>Adds the import's settings (section <c>FuncMap:Import</c>, checked at start), its source and page reader.</summary>
    public static IServiceCollection AddFuncMapImport(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<ImportOptions>()
            .Bind(configuration.GetSection(ImportOptions.SectionName))
            .Validate(static o => o.PageSize is >= 1 and <= 1000, "FuncMap:Import:PageSize must be 1–1000 (the table service's page limit).")
            .Validate(static o => o.SignalConcurrency >= 1, "FuncMap:Import:SignalConcurrency must be at least 1.")
            .Validate(static o => o.RoundsPerGeneration >= 1, "FuncMap:Import:RoundsPerGeneration must be at least 1.")
            .ValidateOnStart();
        services.AddSingleton<ImportSource>();
        services.AddSingleton<ImportPageReader>();
        return services;
    }
}
