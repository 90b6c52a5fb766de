using FuncMap.Local;
using FuncMap.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FuncMap.Client.Tests;

/// <summary>
/// The real local host (<c>Program</c>) on Kestrel, on a free loopback port (real sockets, so a fault can reset a
/// connection), in Journal mode with snapshots, lease and queue on a real Azurite. One per test collection; tests keep
/// apart by key prefix.
/// </summary>
public sealed class KestrelHost : IAsyncLifetime, IAsyncDisposable
{
    /// <summary>The access key the host requires (so every test also proves the client sends it).</summary>
    public const string AccessKey = "client-tests-key";

    private readonly AzuriteFixture _azurite = new();
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "funcmap-client-" + Guid.NewGuid().ToString("N"));
    private WebApplicationFactory<Program>? _factory;

    /// <summary>The host's root, such as <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await _azurite.InitializeAsync();
        var settings = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["FuncMap:AccessKey"] = AccessKey,
            ["FuncMap:Storage:ConnectionString"] = _azurite.ConnectionString,
            ["FuncMap:Storage:TableName"] = AzuriteFixture.UniqueTableName("counters"),
            ["FuncMap:Storage:LeaseTableName"] = AzuriteFixture.UniqueTableName("leases"),
            ["FuncMap:Storage:QueueName"] = AzuriteFixture.UniqueQueueName("inc"),
            ["FuncMap:Storage:PoisonQueueName"] = AzuriteFixture.UniqueQueueName("poison"),
            ["FuncMap:Storage:SnapshotInterval"] = "00:00:01",
            ["FuncMap:DataDirectory"] = _dataDirectory,
            ["FuncMap:Durability:Mode"] = "Journal",
            ["Logging:LogLevel:Default"] = Environment.GetEnvironmentVariable("FUNCMAP_TEST_LOGLEVEL") ?? "Warning",
        };
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            // UseSetting: Program decides what to register from the configuration it sees before Build.
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        });
        factory.UseKestrel(0);
        factory.StartServer();
        _factory = factory;
        await factory.Services.GetRequiredService<EngineReadiness>().WhenReady;
        var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address.TrimEnd('/') + "/");
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();

    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        await _azurite.DisposeAsync();
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }
}

/// <summary>One host for every test that runs against the local host.</summary>
[CollectionDefinition(Name)]
public sealed class LocalHostGroup : ICollectionFixture<KestrelHost>
{
    public const string Name = "FuncMap.Client on the local host";
}
