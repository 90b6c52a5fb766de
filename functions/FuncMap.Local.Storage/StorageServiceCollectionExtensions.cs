using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Queues;
using FuncMap.Configuration;
using FuncMap.Engine;
using FuncMap.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Local.Storage;

/// <summary>Registers the local host's storage services.</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>The health-check tags the storage check carries: liveness and readiness, as Degraded at worst.</summary>
    public static readonly string[] HealthTags = ["live", "ready"];

    /// <summary>Registers storage on <paramref name="builder"/>'s services and configuration.</summary>
    public static IHostApplicationBuilder AddFuncMapStorage(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddFuncMapStorage(builder.Configuration);
        return builder;
    }

    /// <summary>
    /// Registers, in this order (hosted services stop in reverse): the single-writer <see cref="LeaseService"/>,
    /// the <see cref="SnapshotService"/>, the <see cref="QueueIngestionService"/>; the <see cref="TableRestoreLoader"/>
    /// (order 100) and the <see cref="StartGate"/>; and the storage health check. Register after the engine's host
    /// (<c>AddFuncMapLocal</c>) so that ingestion and the final snapshot stop before the engine does.
    /// </summary>
    public static IServiceCollection AddFuncMapStorage(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        // FuncMap:Storage:Enabled=false runs the host without storage (tests of the HTTP contract, demos without Azurite).
        if (services.Any(static d => d.ServiceType == typeof(CounterStorage)) || !StorageOptions.IsEnabled(configuration))
        {
            return services;
        }

        services.AddOptions<StorageOptions>().Bind(configuration.GetSection(StorageOptions.SectionName))
            .ValidateOnStartWith(StorageOptions.SectionName, static options => options.Validate());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton(provider =>
        {
            var configured = configuration[StorageOptions.DataDirectoryKey];
            var root = provider.GetService<IHostEnvironment>()?.ContentRootPath ?? Directory.GetCurrentDirectory();
            return new DataDirectory(Path.GetFullPath(string.IsNullOrWhiteSpace(configured) ? ".data" : configured, root));
        });
        AddStorageClients(services);
        services.AddSingleton<CounterStorage>();
        services.AddSingleton<StorageStatus>();
        services.AddSingleton<StorageMetrics>();
        services.AddSingleton<StartGate>();
        services.AddSingleton<ReplayRequirement>();
        services.AddSingleton(static p => new CounterSnapshotWriter(p.GetRequiredService<CounterStorage>().Counters, p.GetRequiredService<IOptions<StorageOptions>>().Value.SnapshotParallelism));
        services.AddSingleton(static p => new LeaseService(
            p.GetRequiredService<CounterStorage>(), p.GetRequiredService<IOptions<StorageOptions>>(), p.GetRequiredService<DataDirectory>(),
            p.GetServices<Journal.IJournalCheckpoint>(), p.GetRequiredService<StartGate>(), p.GetRequiredService<IHostApplicationLifetime>(), p.GetRequiredService<StorageStatus>(), p.GetRequiredService<StorageMetrics>(),
            p.GetRequiredService<TimeProvider>(), p.GetRequiredService<ILogger<LeaseService>>()));
        services.AddSingleton(static p => new SnapshotService(
            p.GetRequiredService<CounterEngine>(), p.GetRequiredService<CounterStorage>(), p.GetRequiredService<IOptions<StorageOptions>>(),
            p.GetServices<Journal.IJournalCheckpoint>(), p.GetRequiredService<CounterSnapshotWriter>(), p.GetRequiredService<ReplayRequirement>(), p.GetRequiredService<LeaseService>(), p.GetRequiredService<StartGate>(),
            p.GetRequiredService<StorageStatus>(), p.GetRequiredService<StorageMetrics>(), p.GetRequiredService<TimeProvider>(),
            p.GetRequiredService<ILogger<SnapshotService>>()));
        services.AddSingleton(static p => new QueueIngestionService(
            p.GetRequiredService<CounterEngine>(), p.GetRequiredService<CounterStorage>(), p.GetRequiredService<IOptions<StorageOptions>>(),
            p.GetRequiredService<SnapshotService>(), p.GetRequiredService<LeaseService>(), p.GetRequiredService<StartGate>(),
            p.GetRequiredService<StorageStatus>(), p.GetRequiredService<StorageMetrics>(), p.GetRequiredService<TimeProvider>(),
            p.GetRequiredService<ILogger<QueueIngestionService>>()));
        services.AddSingleton<ICounterLoader>(static p => new TableRestoreLoader(
            p.GetRequiredService<CounterStorage>(), p.GetRequiredService<CounterSnapshotWriter>(), p.GetRequiredService<LeaseService>(),
            p.GetRequiredService<ReplayRequirement>(), p.GetServices<Journal.IJournalCheckpoint>(),
            p.GetRequiredService<IOptions<StorageOptions>>(), p.GetRequiredService<StorageStatus>(), p.GetRequiredService<StorageMetrics>(),
            p.GetRequiredService<TimeProvider>(), p.GetRequiredService<ILogger<TableRestoreLoader>>()));
        services.AddSingleton<ICounterLoader>(static p => p.GetRequiredService<StartGate>());

        // Stop order is the reverse: ingestion, then the final snapshot (which stops the engine first), then the lease.
        services.AddHostedService(static p => p.GetRequiredService<LeaseService>());
        services.AddHostedService(static p => p.GetRequiredService<SnapshotService>());
        services.AddHostedService(static p => p.GetRequiredService<QueueIngestionService>());

        services.AddHealthChecks().AddCheck<StorageHealthCheck>("storage", tags: HealthTags)
            .AddCheck<LeaseHealthCheck>("lease", tags: LeaseHealthCheck.Tags);
        return services;
    }

    /// <summary>
    /// One <see cref="TableServiceClient"/> and one <see cref="QueueServiceClient"/> for the host, as the Azure SDK's
    /// samples build them: a connection string (<c>UseDevelopmentStorage=true</c> included) parsed by the SDK, or the
    /// service URIs with one <see cref="DefaultAzureCredential"/> (a user-assigned managed identity when
    /// <see cref="StorageOptions.ManagedIdentityClientId"/> is set). Not <c>AddAzureClients</c>: its log forwarding
    /// enables every Azure SDK event source at Verbose, so every request of the ingestion loop would raise and format
    /// request and response events only to have the logging filters drop them.
    /// </summary>
    private static void AddStorageClients(IServiceCollection services)
    {
        services.AddKeyedSingleton<TokenCredential>(StorageOptions.SectionName, static (p, _) => new DefaultAzureCredential(new DefaultAzureCredentialOptions
        {
            ManagedIdentityClientId = Settings(p).ManagedIdentityClientId is { Length: > 0 } id ? id : null,
        }));
        services.AddSingleton(static p => Settings(p) is { UsesIdentity: true } s
            ? new TableServiceClient(s.TableServiceUri!, Credential(p), StorageClientDefaults.Tables())
            : new TableServiceClient(Settings(p).ConnectionString, StorageClientDefaults.Tables()));
        services.AddSingleton(static p => Settings(p) is { UsesIdentity: true } s
            ? new QueueServiceClient(s.QueueServiceUri!, Credential(p), StorageClientDefaults.Queues())
            : new QueueServiceClient(Settings(p).ConnectionString, StorageClientDefaults.Queues()));

        static StorageOptions Settings(IServiceProvider p) => p.GetRequiredService<IOptions<StorageOptions>>().Value;

        static TokenCredential Credential(IServiceProvider p) => p.GetRequiredKeyedService<TokenCredential>(StorageOptions.SectionName);
    }
}
