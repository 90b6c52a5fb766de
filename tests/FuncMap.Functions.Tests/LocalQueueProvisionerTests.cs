using Azure.Storage.Queues;
using FuncMap.Functions.Hosting;
using FuncMap.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace FuncMap.Functions.Tests;

/// <summary>The app's start-up queue creation, against a real Azurite.</summary>
public sealed class LocalQueueProvisionerTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static LocalQueueProvisioner Create(string? connectionString) => new(
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { [StorageClients.ConnectionName] = connectionString }).Build(),
        NullLogger<LocalQueueProvisioner>.Instance);

    [Fact]
    public async Task StartAsync_ConnectionString_CreatesTheQueueAndItsPoisonQueueOnceAndAgainIsHarmless()
    {
        var service = new QueueServiceClient(azurite.ConnectionString);

        await Create(azurite.ConnectionString).StartAsync(CancellationToken.None);
        await Create(azurite.ConnectionString).StartAsync(CancellationToken.None);

        var queues = new List<string>();
        await foreach (var queue in service.GetQueuesAsync())
        {
            queues.Add(queue.Name);
        }

        Assert.Equal(["counter-increments", "counter-increments-poison"], queues.Order(StringComparer.Ordinal));
    }
}
