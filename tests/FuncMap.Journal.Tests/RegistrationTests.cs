using FuncMap.Engine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FuncMap.Journal.Tests;

public sealed class RegistrationTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task AddFuncMapJournal_DefaultMode_RegistersOneJournalUnderTheContentRoot()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = _directory.Path });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FuncMap:Journal:Directory"] = "data/journal",
            ["FuncMap:Journal:MaxGroupDelay"] = "00:00:00.001",
        });
        builder.Services.AddFuncMapJournal(builder.Configuration);
        builder.Services.AddFuncMapJournal(builder.Configuration);

        using var host = builder.Build();
        var journal = host.Services.GetRequiredService<OperationJournal>();
        Assert.Same(journal, host.Services.GetRequiredService<IOperationLog>());
        Assert.Same(journal, Assert.Single(host.Services.GetServices<ICounterLoader>()));
        Assert.Same(journal, host.Services.GetRequiredService<IJournalCheckpoint>());
        Assert.Equal(Path.Combine(_directory.Path, "data", "journal"), journal.DirectoryPath);
        await journal.Append(0, [Journals.Op("k", 1, 1)]);
    }

    [Fact]
    public void AddFuncMapJournal_SnapshotMode_RegistersNothing()
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [JournalServiceCollectionExtensions.DurabilityModeKey] = "snapshot" })
            .Build();

        services.AddFuncMapJournal(configuration);

        Assert.Empty(services);
    }

    [Fact]
    public void AddFuncMapJournal_UnknownMode_Throws()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { [JournalServiceCollectionExtensions.DurabilityModeKey] = "Sometimes" })
            .Build();

        var error = Assert.Throws<InvalidOperationException>(() => new ServiceCollection().AddFuncMapJournal(configuration));
        Assert.Contains("Journal or Snapshot", error.Message, StringComparison.Ordinal);
    }
}
