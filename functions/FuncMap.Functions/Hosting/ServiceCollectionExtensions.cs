using FuncMap.Functions.Snapshots;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace FuncMap.Functions.Hosting;

/// <summary>Registers the Functions host's services.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>Adds options, the clock, the metrics, the table client and the snapshot writer (the host builder provides IMeterFactory).</summary>
    public static IServiceCollection AddFuncMapFunctions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<FuncMapFunctionsOptions>()
            .Bind(configuration.GetSection(FuncMapFunctionsOptions.SectionName))
            .Validate(o => o.WaitTimeout > TimeSpan.Zero && o.SnapshotOverlap >= TimeSpan.Zero && o.TombstoneRetention >= TimeSpan.Zero
                && o.MaxBatchBodyBytes > 0 && o.SignalConcurrency > 0 && o.SnapshotParallelism > 0 && o.MaxDeliveries > 0 && !string.IsNullOrWhiteSpace(o.SnapshotTable), "FuncMap settings must be positive.")
            .ValidateOnStart();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<FunctionsMetrics>();
        services.AddSingleton(sp => StorageClients.CreateTableServiceClient(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<CounterSnapshotter>();
        return services;
    }
}
