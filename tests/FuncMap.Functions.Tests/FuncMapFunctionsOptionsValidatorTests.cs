using System.Text.Json;
using FuncMap.Functions.Accepts;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

/// <summary>
/// The settings the Functions host refuses at start (<see cref="FuncMapFunctionsOptionsValidator"/>): each combination
/// that could lose or park an add is one line naming the settings and their values; the defaults and the sample
/// settings start.
/// </summary>
public sealed class FuncMapFunctionsOptionsValidatorTests
{
    private static readonly FuncMapFunctionsOptionsValidator Validator = new();

    [Fact]
    public void Validate_Defaults_Accepted()
    {
        var result = Validator.Validate(Options.DefaultName, new FuncMapFunctionsOptions());

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Fact]
    public void SourceDeliveryBound_Defaults_IsTheSourceLifetimePlusStaleAfterPlusSweepPlusSignalDelay()
    {
        // 1 h + 30 s + 15 s + 10 min: what the README's settings table gives as the least TombstoneRetention.
        Assert.Equal(new TimeSpan(1, 10, 45), FuncMapFunctionsOptionsValidator.SourceDeliveryBound(new FuncMapFunctionsOptions()));
    }

    [Theory]
    [InlineData("00:30:00")]
    [InlineData("01:00:00")] // SourceLifetime itself, the former default: a fold of the last minutes, or re-sent after a crash, still comes after the purge.
    [InlineData("01:10:44")]
    public void Validate_TombstoneRetentionBelowSourceDeliveryBound_RefusedInOneLineNamingTheSettings(string retention)
    {
        var options = new FuncMapFunctionsOptions { TombstoneRetention = TimeSpan.Parse(retention, System.Globalization.CultureInfo.InvariantCulture) };

        var failure = Assert.Single(Validator.Validate(Options.DefaultName, options).Failures!);

        Assert.StartsWith($"FuncMap__TombstoneRetention ({retention}) must be at least SourceLifetime (01:00:00) + FuncMap__FoldStaleAfter (00:00:30) + "
            + "FuncMap__SweepInterval (00:00:15) + the signal delay allowance (00:10:00) = 01:10:45: ", failure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure);
    }

    [Fact]
    public void Validate_TombstoneRetentionAtTheBound_Accepted()
    {
        var options = new FuncMapFunctionsOptions { FoldStaleAfter = TimeSpan.FromMinutes(5), SweepInterval = TimeSpan.FromMinutes(1) };
        options.TombstoneRetention = FuncMapFunctionsOptionsValidator.SourceDeliveryBound(options);

        Assert.True(Validator.Validate(Options.DefaultName, options).Succeeded);
    }

    [Fact]
    public void Validate_LongerStaleAfterWithoutLongerRetention_RefusedNamingStaleAfterAndRetention()
    {
        // The default retention (2 h) is enough for the default sweep, not for a sweep that waits an hour.
        var options = new FuncMapFunctionsOptions { FoldStaleAfter = TimeSpan.FromHours(1) };

        var failure = Assert.Single(Validator.Validate(Options.DefaultName, options).Failures!);

        Assert.StartsWith("FuncMap__TombstoneRetention (02:00:00) must be at least SourceLifetime (01:00:00) + FuncMap__FoldStaleAfter (01:00:00) + ", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_StaleAfterAndSweepBeyondSourceRetention_RefusedNamingBothSettings()
    {
        // A crash's fold record would be re-sent after the counters pruned its source (Counter.SourceRetention, 1 d).
        var options = new FuncMapFunctionsOptions
        {
            FoldStaleAfter = TimeSpan.FromHours(22),
            SweepInterval = TimeSpan.FromHours(1),
            TombstoneRetention = TimeSpan.FromDays(30),
        };

        var failure = Assert.Single(Validator.Validate(Options.DefaultName, options).Failures!);

        Assert.StartsWith("FuncMap__FoldStaleAfter (22:00:00) and FuncMap__SweepInterval (01:00:00) are too long: ", failure, StringComparison.Ordinal);
        Assert.Contains("exceeds the counters' SourceRetention (1.00:00:00)", failure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure);
    }

    [Fact]
    public void Validate_StaleAfterAndSweepJustWithinSourceRetention_Accepted()
    {
        var options = new FuncMapFunctionsOptions { TombstoneRetention = TimeSpan.FromDays(30), SweepInterval = TimeSpan.FromMinutes(1) };
        options.FoldStaleAfter = Counter.SourceRetention - AcceptFolder.SourceLifetime - FuncMapFunctionsOptionsValidator.MaxSignalDelay - options.SweepInterval;

        Assert.True(Validator.Validate(Options.DefaultName, options).Succeeded);
    }

    [Theory]
    [InlineData("00:00:20", "00:00:30")]
    [InlineData("00:00:30", "00:00:30")]
    [InlineData("00:01:00", "00:00:30")]
    public void Validate_StaleAfterBelowTwiceFoldInterval_RefusedNamingBothSettings(string foldInterval, string staleAfter)
    {
        var options = new FuncMapFunctionsOptions
        {
            FoldInterval = TimeSpan.Parse(foldInterval, System.Globalization.CultureInfo.InvariantCulture),
            FoldStaleAfter = TimeSpan.Parse(staleAfter, System.Globalization.CultureInfo.InvariantCulture),
        };

        var failure = Assert.Single(Validator.Validate(Options.DefaultName, options).Failures!);

        Assert.StartsWith($"FuncMap__FoldStaleAfter ({staleAfter}) must be at least twice FuncMap__FoldInterval ({foldInterval}) = ", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_StaleAfterTwiceFoldInterval_Accepted()
    {
        var options = new FuncMapFunctionsOptions { FoldInterval = TimeSpan.FromSeconds(15), FoldStaleAfter = TimeSpan.FromSeconds(30) };

        Assert.True(Validator.Validate(Options.DefaultName, options).Succeeded);
    }

    [Fact]
    public void Validate_IntervalsNearTimeSpanMaxValue_RefusedWithoutOverflow()
    {
        var options = new FuncMapFunctionsOptions { FoldStaleAfter = TimeSpan.MaxValue, SweepInterval = TimeSpan.MaxValue, TombstoneRetention = TimeSpan.MaxValue };

        var failures = Validator.Validate(Options.DefaultName, options).Failures!;

        Assert.Contains(failures, static f => f.StartsWith("FuncMap__FoldStaleAfter (", StringComparison.Ordinal) && f.Contains("are too long", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(nameof(FuncMapFunctionsOptions.FoldInterval))]
    [InlineData(nameof(FuncMapFunctionsOptions.SweepInterval))]
    [InlineData(nameof(FuncMapFunctionsOptions.WaitTimeout))]
    public void Validate_ZeroInterval_RefusedNamingIt(string setting)
    {
        var options = new FuncMapFunctionsOptions();
        typeof(FuncMapFunctionsOptions).GetProperty(setting)!.SetValue(options, TimeSpan.Zero);

        var failure = Assert.Single(Validator.Validate(Options.DefaultName, options).Failures!);

        Assert.Equal($"FuncMap__{setting} (00:00:00) must be positive.", failure);
    }

    [Fact]
    public void Validate_SampleLocalSettings_Accepted()
    {
        // local.settings.sample.json is what `cp -n` makes the local settings: it must start.
        using var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot(), "local.settings.sample.json")));
        var values = sample.RootElement.GetProperty("Values").EnumerateObject().ToDictionary(static p => p.Name.Replace("__", ":", StringComparison.Ordinal), static p => (string?)p.Value.GetString());
        var options = new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(FuncMapFunctionsOptions.SectionName).Get<FuncMapFunctionsOptions>()!;

        Assert.True(Validator.Validate(Options.DefaultName, options).Succeeded, Validator.Validate(Options.DefaultName, options).FailureMessage);
    }

    [Theory]
    [InlineData("counters", "Counters")]
    [InlineData("FuncMapAccepted", "funcmapaccepted")]
    public void Validate_AcceptedAndSnapshotTheSameTable_RefusedNamingBoth(string accepted, string snapshot)
    {
        var options = new FuncMapFunctionsOptions { AcceptedTable = accepted, SnapshotTable = snapshot };

        var failure = Assert.Single(Validator.Validate(Options.DefaultName, options).Failures!);

        Assert.StartsWith($"FuncMap__AcceptedTable ({accepted}) and FuncMap__SnapshotTable ({snapshot}) must name different tables", failure, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("1Accepted")]
    [InlineData("my-Accepted")]
    public void Validate_AcceptedTableNotATableName_Refused(string accepted)
    {
        var failure = Assert.Single(Validator.Validate(Options.DefaultName, new FuncMapFunctionsOptions { AcceptedTable = accepted }).Failures!);

        Assert.StartsWith($"FuncMap__AcceptedTable ({accepted}) must be a table name", failure, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, "HubAccepted", "HubCounters")]
    [InlineData("Mine", null, "Mine", "HubCounters")]
    [InlineData(null, "Shared", "HubAccepted", "Shared")]
    public void AddFuncMapFunctions_TaskHub_NamesTheTablesAfterItUnlessSet(string? accepted, string? snapshot, string expectedAccepted, string expectedSnapshot)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [FuncMapFunctionsOptions.TaskHubNameSetting] = "Hub",
            ["FuncMap:AcceptedTable"] = accepted,
            ["FuncMap:SnapshotTable"] = snapshot,
        }).Build();
        using var services = new ServiceCollection().AddFuncMapFunctions(configuration).BuildServiceProvider();

        var options = services.GetRequiredService<IOptions<FuncMapFunctionsOptions>>().Value;

        Assert.Equal((expectedAccepted, expectedSnapshot), (options.AcceptedTable, options.SnapshotTable));
    }

    [Fact]
    public void HostJson_DurableGracefulShutdown_On()
    {
        // Durable's own default is false: a stop is forced (IsGracefulStop: False) and the control-queue messages its
        // worker had dequeued come back only after controlQueueVisibilityTimeout; true drains them before the partitions go.
        using var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot(), "host.json")));

        Assert.True(host.RootElement.GetProperty("extensions").GetProperty("durableTask").GetProperty("useGracefulShutdown").GetBoolean());
    }

    [Fact]
    public void MaxSignalDelay_CoversHostJsonControlQueueVisibilityTimeout()
    {
        // A control-queue message a stopped host had dequeued is delivered again after this timeout (5 min when unset).
        using var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot(), "host.json")));
        var provider = host.RootElement.GetProperty("extensions").GetProperty("durableTask").GetProperty("storageProvider");
        var timeout = provider.TryGetProperty("controlQueueVisibilityTimeout", out var value)
            ? TimeSpan.Parse(value.GetString()!, System.Globalization.CultureInfo.InvariantCulture)
            : TimeSpan.FromMinutes(5);

        Assert.True(timeout <= FuncMapFunctionsOptionsValidator.MaxSignalDelay, $"host.json's controlQueueVisibilityTimeout {timeout} exceeds MaxSignalDelay {FuncMapFunctionsOptionsValidator.MaxSignalDelay}.");
    }

    [Fact]
    public async Task StartAsync_TombstoneRetentionBelowSourceLifetime_HostRefusesToStart()
    {
        // The worker's registrations in a generic host, as Program.cs builds them: the host validates before any service starts.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = "UseDevelopmentStorage=true",
            ["FuncMap:TombstoneRetention"] = "00:30:00",
        });
        builder.Services.AddMetrics();
        builder.Services.AddFuncMapFunctions(builder.Configuration);
        using var host = builder.Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(timeout.Token));

        Assert.StartsWith("FuncMap__TombstoneRetention (00:30:00) must be at least ", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refused.Message);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "host.json")) && File.Exists(Path.Combine(dir.FullName, "local.settings.sample.json")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("host.json not found above " + AppContext.BaseDirectory);
    }
}
