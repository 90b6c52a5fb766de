using FuncMap.Testing;

namespace FuncMap.Storage.Tests;

/// <summary>The fixture's stop/start on the same ports keeps data, and a stopped storage is a transient failure.</summary>
[Collection(AzuriteTests.Name)]
public sealed class AzuriteRestartTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task StopAndStart_SamePorts_DataSurvivesAndOutageIsTransient()
    {
        var connection = StorageConnection.FromConnectionString(azurite.ConnectionString);
        var table = connection.GetTableClient(AzuriteFixture.UniqueTableName());
        var queue = connection.GetQueueClient(AzuriteFixture.UniqueQueueName());
        await table.CreateIfNotExistsAsync();
        await queue.CreateIfNotExistsAsync();
        await table.AddEntityAsync(new TableEntity("00", "survivor") { ["Value"] = 7L });
        await queue.SendMessageAsync("survivor");

        await azurite.StopAsync();
        try
        {
            var noRetry = new StorageClientOptions();
            noRetry.Retry.MaxRetries = 0;
            var down = StorageConnection.FromConnectionString(azurite.ConnectionString, noRetry);
            var ex = await Assert.ThrowsAsync<StorageException>(() => down.GetTableClient(table.Name).GetEntityAsync("00", "survivor"));
            Assert.Equal(0, ex.Status);
            Assert.True(ex.IsTransient);

            // With retries, Azure.Core gathers every failed attempt; the client still reports one StorageException.
            var withRetries = new StorageClientOptions();
            withRetries.Retry.MaxRetries = 2;
            withRetries.Retry.Delay = TimeSpan.FromMilliseconds(1);
            var retried = StorageConnection.FromConnectionString(azurite.ConnectionString, withRetries);
            var afterRetries = await Assert.ThrowsAsync<StorageException>(() => retried.GetTableClient(table.Name).GetEntityAsync("00", "survivor"));
            Assert.Equal(0, afterRetries.Status);
            Assert.True(afterRetries.IsTransient);
        }
        finally
        {
            await azurite.StartAsync();
        }

        Assert.Equal(7L, (await table.GetEntityAsync("00", "survivor"))?.GetInt64("Value"));
        Assert.Equal("survivor", Assert.Single(await queue.ReceiveMessagesAsync(1, TimeSpan.FromMinutes(1))).MessageText);
    }
}
