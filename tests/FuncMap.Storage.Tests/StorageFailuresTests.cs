using Azure;
using Azure.Data.Tables;
using FuncMap.Testing;

namespace FuncMap.Storage.Tests;

/// <summary>The one transient-vs-permanent decision, on failures a real Azurite (running or stopped) produces.</summary>
[Collection(AzuriteTests.Name)]
public sealed class StorageFailuresTests(AzuriteFixture azurite)
{
    [Theory]
    [InlineData(0, true)]
    [InlineData(408, true)]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(503, true)]
    [InlineData(400, false)]
    [InlineData(403, false)]
    [InlineData(404, false)]
    [InlineData(409, false)]
    [InlineData(412, false)]
    public void IsTransientStatus_ByStatus(int status, bool transient)
    {
        Assert.Equal(transient, StorageFailures.IsTransientStatus(status));
        Assert.Equal(transient, StorageFailures.IsTransient(new RequestFailedException(status, "x")));
        Assert.Equal(transient, StorageFailures.IsTransient(new AggregateException(new RequestFailedException(status, "x"))));
    }

    [Fact]
    public void IsTransient_RetriesEndedByNetworkTimeouts_TransientStorageFailure()
    {
        // What Azure.Core's retry policy throws when every attempt ran into Retry.NetworkTimeout.
        var timedOut = new AggregateException(new TaskCanceledException("exceeded the configured timeout"), new TaskCanceledException("exceeded the configured timeout"));
        var mixed = new AggregateException(new TaskCanceledException("timeout"), new RequestFailedException(0, "no response"));
        var mixedPermanent = new AggregateException(new TaskCanceledException("timeout"), new RequestFailedException(403, "forbidden"));

        Assert.True(StorageFailures.IsStorage(timedOut) && StorageFailures.IsTransient(timedOut));
        Assert.True(StorageFailures.IsStorage(mixed) && StorageFailures.IsTransient(mixed));
        Assert.False(StorageFailures.IsTransient(mixedPermanent));
        Assert.False(StorageFailures.IsStorage(new AggregateException(new InvalidOperationException())));
    }

    [Fact]
    public void IsStorage_OtherExceptions_False()
    {
        Assert.False(StorageFailures.IsStorage(new InvalidOperationException()));
        Assert.False(StorageFailures.IsTransient(new TimeoutException()));
        Assert.False(StorageFailures.IsStorage(new AggregateException()));
    }

    [Fact]
    public async Task RealFailures_MissingTableIsPermanentWithErrorCode_StoppedStorageIsTransient_DataSurvivesRestart()
    {
        var name = AzuriteFixture.UniqueTableName("fail");
        var missing = azurite.Table(name);
        var notFound = await Assert.ThrowsAnyAsync<RequestFailedException>(() => missing.AddEntityAsync(new TableEntity("p", "r")));
        Assert.True(StorageFailures.IsStorage(notFound));
        Assert.False(StorageFailures.IsTransient(notFound));
        Assert.Equal((404, "TableNotFound"), (StorageFailures.Status(notFound), StorageFailures.ErrorCode(notFound)));

        await missing.CreateAsync();
        await missing.AddEntityAsync(new TableEntity("p", "survivor") { ["Value"] = 7L });
        var conflict = await Assert.ThrowsAnyAsync<RequestFailedException>(() => missing.AddEntityAsync(new TableEntity("p", "survivor")));
        Assert.False(StorageFailures.IsTransient(conflict));
        Assert.Equal("EntityAlreadyExists", conflict.ErrorCode);

        await azurite.StopAsync();
        try
        {
            var options = StorageClientDefaults.Tables();
            options.Retry.MaxRetries = 2;
            options.Retry.Delay = TimeSpan.FromMilliseconds(1);
            var down = new TableClient(azurite.ConnectionString, name, options);
            // Azure.Core gathers every failed attempt into an AggregateException of status-0 failures.
            var outage = await Assert.ThrowsAnyAsync<Exception>(() => down.GetEntityAsync<TableEntity>("p", "survivor"));
            Assert.True(StorageFailures.IsStorage(outage), outage.ToString());
            Assert.True(StorageFailures.IsTransient(outage), outage.ToString());
            Assert.Equal(0, StorageFailures.Status(outage));
        }
        finally
        {
            await azurite.StartAsync();
        }

        Assert.Equal(7L, (await missing.GetEntityAsync<TableEntity>("p", "survivor")).Value.GetInt64("Value"));
    }
}
