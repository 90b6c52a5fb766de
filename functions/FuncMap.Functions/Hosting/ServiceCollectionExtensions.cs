using FuncMap.Functions.Snapshots;
using FuncMap.Http;
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
            .Validate(o => o.WaitTimeout > TimeSpan.Zero && o.BatchWaitTimeout > TimeSpan.Zero && o.QueueWaitTimeout > TimeSpan.Zero && o.SnapshotOverlap >= TimeSpan.Zero
                && o.TombstoneRetention >= TimeSpan.Zero && o.SignalConcurrency > 0 && o.SnapshotParallelism > 0 && o.MaxDeliveries > 0
                && !string.IsNullOrWhiteSpace(o.SnapshotTable), "FuncMap settings must be positive.")
            .ValidateOnStart();

        // The HTTP layer's settings, shared with the local host (FuncMap:Http, app setting FuncMap__Http__MaxBodyBytes).
        services.AddFuncMapHttpOptions(configuration);
        services.AddOptions<BenchOptions>().Bind(configuration.GetSection(BenchOptions.SectionName));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<FunctionsMetrics>();
        services.AddSingleton(sp => StorageClients.CreateTableServiceClient(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<CounterSnapshotter>();
        services.AddHostedService<LocalQueueProvisioner>();
        return services;
    }
}
