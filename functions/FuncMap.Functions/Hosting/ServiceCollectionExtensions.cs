using Azure.Data.Tables;
using FuncMap.Functions.Accepts;
using FuncMap.Functions.Snapshots;
using FuncMap.Storage;
using FuncMap.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

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
            .PostConfigure(options => ScopeToTaskHub(options, configuration))
            .ValidateOnStart();

        // Each setting and the combinations that could lose or park an add (FuncMapFunctionsOptionsValidator's rules).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FuncMapFunctionsOptions>, FuncMapFunctionsOptionsValidator>());

        // The HTTP layer's settings, shared with the local host (FuncMap:Http, app setting FuncMap__Http__MaxBodyBytes).
        services.AddFuncMapHttpOptions(configuration);
        services.AddOptions<BenchOptions>().Bind(configuration.GetSection(BenchOptions.SectionName));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<FunctionsMetrics>();
        services.AddSingleton(sp => StorageClients.CreateTableServiceClient(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<CounterSnapshotter>();

        // Plain adds: accepted into table Accepted (group commit), folded into their entities in the background.
        services.AddSingleton(sp => new AcceptLog(
            sp.GetRequiredService<TableServiceClient>().GetTableClient(sp.GetRequiredService<IOptions<FuncMapFunctionsOptions>>().Value.AcceptedTable),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AcceptLog>>()));
        services.AddSingleton<EntityClientSource>();
        services.AddSingleton<AcceptFolder>();
        services.AddHostedService(sp => sp.GetRequiredService<AcceptFolder>());
        services.AddHostedService<LocalQueueProvisioner>();
        return services;
    }

    /// <summary>
    /// Names the tables this app writes after its task hub (<c>TaskHubName</c>) unless they are set: <c>{hub}Accepted</c>
    /// and <c>{hub}Counters</c>. Durable keeps each hub's queues and tables apart on a shared account; this does the same
    /// for FuncMap's own tables.
    /// </summary>
    private static void ScopeToTaskHub(FuncMapFunctionsOptions options, IConfiguration configuration)
    {
        if (configuration[FuncMapFunctionsOptions.TaskHubNameSetting] is not { Length: > 0 } hub)
        {
            return;
        }

        var section = configuration.GetSection(FuncMapFunctionsOptions.SectionName);
        if (section[nameof(FuncMapFunctionsOptions.AcceptedTable)] is not { Length: > 0 })
        {
            options.AcceptedTable = hub + AcceptedRows.TableName;
        }

        if (section[nameof(FuncMapFunctionsOptions.SnapshotTable)] is not { Length: > 0 })
        {
            options.SnapshotTable = hub + CounterRows.DefaultTableName;
        }
    }
}
