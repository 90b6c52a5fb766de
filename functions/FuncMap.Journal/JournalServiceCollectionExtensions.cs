using FuncMap.Configuration;
using FuncMap.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Journal;

/// <summary>How acknowledged writes are made durable on the local host (<c>FuncMap:Durability:Mode</c>).</summary>
public enum DurabilityMode
{
    /// <summary>Every write is in the fsynced journal before it is acknowledged (the default).</summary>
    Journal = 0,

    /// <summary>No journal: writes are durable once the next snapshot has written them (a loss window of one snapshot interval).</summary>
    Snapshot = 1,
}

/// <summary>Registers the journal.</summary>
public static class JournalServiceCollectionExtensions
{
    /// <summary>The configuration key of the durability mode.</summary>
    public const string DurabilityModeKey = "FuncMap:Durability:Mode";

    /// <summary>The durability mode configured (<see cref="DurabilityMode.Journal"/> when unset).</summary>
    public static DurabilityMode GetDurabilityMode(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var value = configuration[DurabilityModeKey];
        if (string.IsNullOrWhiteSpace(value))
        {
            return DurabilityMode.Journal;
        }

        return Enum.TryParse<DurabilityMode>(value, ignoreCase: true, out var mode) && Enum.IsDefined(mode)
            ? mode
            : throw new InvalidOperationException($"{DurabilityModeKey} is '{value}'; it must be Journal or Snapshot.");
    }

    /// <summary>
    /// In <see cref="DurabilityMode.Journal"/> mode, registers one <see cref="OperationJournal"/> as the
    /// <see cref="IOperationLog"/> (so the engine is created with <c>CounterEngine.CreateJournaled</c>),
    /// as an <see cref="ICounterLoader"/> (replay, order 200) and as the <see cref="IJournalCheckpoint"/>
    /// of the snapshot service, with <see cref="JournalOptions"/> bound from <c>FuncMap:Journal</c>.
    /// In <see cref="DurabilityMode.Snapshot"/> mode, registers nothing.
    /// </summary>
    public static IServiceCollection AddFuncMapJournal(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (GetDurabilityMode(configuration) != DurabilityMode.Journal || services.Any(static d => d.ServiceType == typeof(OperationJournal)))
        {
            return services;
        }

        // Validated at start, as the engine's and the storage's settings are: one line naming the setting.
        services.AddOptions<JournalOptions>().Bind(configuration.GetSection(JournalOptions.SectionName))
            .ValidateOnStartWith(JournalOptions.SectionName, static options => options.Validate());
        services.AddSingleton(static provider =>
        {
            var options = provider.GetRequiredService<IOptions<JournalOptions>>().Value;
            var root = provider.GetService<IHostEnvironment>()?.ContentRootPath ?? Directory.GetCurrentDirectory();
            return new OperationJournal(
                options.WithDirectory(Path.GetFullPath(options.Directory, root)),
                provider.GetService<ILogger<OperationJournal>>(),
                provider.GetService<System.Diagnostics.Metrics.IMeterFactory>());
        });
        services.AddSingleton<IOperationLog>(static provider => provider.GetRequiredService<OperationJournal>());
        services.AddSingleton<ICounterLoader>(static provider => provider.GetRequiredService<OperationJournal>());
        services.AddSingleton<IJournalCheckpoint>(static provider => provider.GetRequiredService<OperationJournal>());
        return services;
    }
}
