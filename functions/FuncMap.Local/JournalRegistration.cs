using FuncMap.Journal;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FuncMap.Local;

/// <summary>
/// Durability of the local host: the journal (<c>FuncMap:Durability:Mode</c> = <c>Journal</c>, the default)
/// in <c>{FuncMap:DataDirectory}/journal</c> (<c>journal-no-storage</c> without storage) unless <c>FuncMap:Journal:Directory</c> says otherwise.
/// </summary>
public static class JournalRegistration
{
    /// <summary>The configuration key of the host's data directory (journal, owner id, directory lock).</summary>
    public const string DataDirectoryKey = "FuncMap:DataDirectory";

    /// <summary>The data directory when <see cref="DataDirectoryKey"/> is unset, relative to the content root.</summary>
    public const string DefaultDataDirectory = ".data";

    /// <summary>The journal's directory in the data directory, for a host with storage.</summary>
    public const string JournalDirectoryName = "journal";

    /// <summary>
    /// The journal's directory in the data directory, for a host without storage (<c>FuncMap:Storage:Enabled=false</c>):
    /// apart from <see cref="JournalDirectoryName"/>, so that a host with storage never replays what a host without it
    /// journaled (it would write those counters into the storage), and the other way round.
    /// </summary>
    public const string NoStorageJournalDirectoryName = "journal-no-storage";

    /// <summary>
    /// In Journal mode, registers the <see cref="OperationJournal"/> (the engine then acknowledges a write only
    /// once it is fsynced), a readiness check that goes red when the journal failed, and, with
    /// <c>FuncMap:Bench:NoopEndpoint</c>, the group-size recorder of <c>bench/load</c>. In Snapshot mode,
    /// nothing: 202 then means "in the owner's mailbox".
    /// </summary>
    public static WebApplicationBuilder AddFuncMapJournal(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        if (JournalServiceCollectionExtensions.GetDurabilityMode(configuration) != DurabilityMode.Journal)
        {
            return builder;
        }

        builder.Services.AddFuncMapJournal(configuration);

        // Runs after AddFuncMapJournal's Bind: an explicit FuncMap:Journal:Directory wins; otherwise the
        // journal lives in the data directory, next to the storage's owner id. Relative paths are resolved
        // against the content root by AddFuncMapJournal.
        builder.Services.AddOptions<JournalOptions>().Configure<IConfiguration>(static (options, configuration) =>
        {
            if (string.IsNullOrWhiteSpace(configuration[JournalOptions.SectionName + ":Directory"]))
            {
                var name = FuncMap.Local.Storage.StorageOptions.IsEnabled(configuration) ? JournalDirectoryName : NoStorageJournalDirectoryName;
                options.Directory = Path.Combine(DataDirectory(configuration), name);
            }
        });

        builder.Services.AddHealthChecks().AddCheck<JournalHealthCheck>("journal", tags: [FuncMapLocalExtensions.ReadyTag]);

        if (configuration.GetValue<bool>(FuncMapLocalOptions.SectionName + ":Bench:NoopEndpoint"))
        {
            builder.Services.AddSingleton<JournalGroupRecorder>();
        }

        return builder;
    }

    /// <summary>
    /// Maps <c>POST /bench/journal-groups</c> when the group-size recorder is registered (Journal mode with
    /// <c>FuncMap:Bench:NoopEndpoint</c>): returns the group sizes recorded since the previous call and resets them.
    /// </summary>
    public static WebApplication MapFuncMapJournalBench(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var recorder = app.Services.GetService<JournalGroupRecorder>();
        if (recorder is not null)
        {
            recorder.Start();
            app.MapPost("/bench/journal-groups", () => TypedResults.Ok(recorder.TakeDistribution())).ExcludeFromDescription();
        }

        return app;
    }

    /// <summary>The configured data directory (<see cref="DefaultDataDirectory"/> when unset), as configured: not yet resolved.</summary>
    public static string DataDirectory(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var configured = configuration[DataDirectoryKey];
        return string.IsNullOrWhiteSpace(configured) ? DefaultDataDirectory : configured;
    }
}

/// <summary>
/// Readiness is red while the journal refuses writes (a full disk, an I/O error, a read-only file system), naming the
/// cause and since when; it turns green by itself when the journal has recovered on a fresh segment.
/// </summary>
public sealed class JournalHealthCheck(OperationJournal journal) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = journal.Health;
        if (health.IsHealthy)
        {
            return Task.FromResult(HealthCheckResult.Healthy("The journal accepts writes."));
        }

        var cause = health.Cause ?? "unknown";
        var since = health.Since is { } at ? at.ToString("O", System.Globalization.CultureInfo.InvariantCulture) : "unknown";
        return Task.FromResult(HealthCheckResult.Unhealthy(
            $"The journal cannot write ({cause}: {JournalErrors.Describe(cause)}) since {since}: writes are refused with 503 journal.unavailable, " +
            "reads are served, and the journal recovers on a fresh segment by itself once the disk writes again." +
            (health.OutcomeUnknown ? " Some refused writes may still be replayed after a restart (the journal could not yet discard them)." : string.Empty)));
    }
}
