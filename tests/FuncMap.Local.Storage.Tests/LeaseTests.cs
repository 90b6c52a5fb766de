using System.Globalization;
using System.Net;
using Azure.Data.Tables;
using FuncMap.Journal;
using FuncMap.Storage;
using FuncMap.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;

namespace FuncMap.Local.Storage.Tests;

/// <summary>One writer, fenced: lease epochs, clean and unclean takeovers, and acknowledgement only under a valid lease.</summary>
[Collection(StorageTestGroup.Name)]
public sealed class LeaseTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Stop_Graceful_ReleasesClean_AnotherHostTakesOverWithTheNextEpoch_RowsRecordIt()
    {
        using var first = new StorageSetup(azurite, DurabilityMode.Journal);
        await using (var host = first.Start())
        {
            await host.WaitReadyAsync();
            Assert.Equal(1, host.Services.GetRequiredService<LeaseService>().Epoch);
            Assert.Equal(3L, (await host.AddAsync("handover", 3)).Value);
        }

        var released = await ReadLeaseAsync(first);
        Assert.True(released.GetBoolean("Clean"));
        Assert.Equal(1L, released.GetInt64("Epoch"));

        using var second = SameStorage(first, DurabilityMode.Journal);
        await using (var host = second.Start())
        {
            await host.WaitReadyAsync();
            Assert.Equal(2, host.Services.GetRequiredService<LeaseService>().Epoch);
            Assert.Equal(13L, (await host.AddAsync("handover", 10)).Value);
            await host.WaitForSnapshotAsync();
            var row = (await first.ReadTableAsync())["handover"];
            Assert.Equal((13L, 2L), (row.GetInt64(CounterRows.Value), row.GetInt64(CounterRows.Epoch)));
        }
    }

    [Fact]
    public async Task Start_ExpiredLeaseOfAnUncleanOwner_RefusedNamingOwnerLastSeenAndSwitch_ThenTakenOverWithTheSwitch()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        setup.Settings["FuncMap:Storage:LeaseDuration"] = "00:00:03"; // each start watches the unreleased row this long
        setup.Settings["FuncMap:Storage:LeaseSafetyMargin"] = "00:00:01";
        var lastSeen = new DateTimeOffset(2026, 11, 30, 9, 15, 0, TimeSpan.Zero);
        var leases = new TableClient(azurite.ConnectionString, setup.LeaseTableName);
        await leases.CreateIfNotExistsAsync();
        await leases.UpsertEntityAsync(new TableEntity(LeaseService.PartitionKey, LeaseService.RowKey)
        {
            ["Owner"] = "crashed-host/0042",
            ["ExpiresAt"] = lastSeen.AddSeconds(30),
            ["RenewedAt"] = lastSeen,
            ["Epoch"] = 4L,
            ["Clean"] = false,
        });

        var failure = await Record.ExceptionAsync(async () => await setup.Start().DisposeAsync());
        var refused = Assert.IsType<UncleanLeaseException>(failure is AggregateException a ? a.InnerExceptions.Single() : failure);
        Assert.Equal(("crashed-host/0042", lastSeen), (refused.Owner, refused.LastSeen));
        Assert.Contains("'crashed-host/0042'", refused.Message, StringComparison.Ordinal);
        Assert.Contains(lastSeen.ToString("O", CultureInfo.InvariantCulture), refused.Message, StringComparison.Ordinal);
        Assert.Contains("--allow-unclean-takeover", refused.Message, StringComparison.Ordinal);
        Assert.Contains(StorageOptions.AllowUncleanTakeoverKey, refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refused.Message);
        Assert.Equal("crashed-host/0042", (await ReadLeaseAsync(setup)).GetString("Owner")); // untouched

        await using var host = setup.Start(static s => s[StorageOptions.AllowUncleanTakeoverKey] = "true");
        await host.WaitReadyAsync();
        var lease = host.Services.GetRequiredService<LeaseService>();
        Assert.Equal(5, lease.Epoch);
        Assert.Equal((lease.OwnerId, 5L, false), ((await ReadLeaseAsync(setup)).GetString("Owner"), (await ReadLeaseAsync(setup)).GetInt64("Epoch")!.Value, (await ReadLeaseAsync(setup)).GetBoolean("Clean")!.Value));
        Assert.Equal(1L, (await host.AddAsync("after-takeover", 1)).Value);
    }

    [Fact]
    public void ExpandSwitches_AllowUncleanTakeoverAndAllowStorageReset_BecomeTheSettings()
    {
        Assert.Equal(
            ["--urls", "http://x", "--FuncMap:Storage:AllowUncleanTakeover=true", "--FuncMap:Storage:AllowStorageReset=true"],
            StorageOptions.ExpandSwitches(["--urls", "http://x", "--allow-unclean-takeover", "--allow-storage-reset"]));
    }

    [Fact]
    public async Task Write_AtTheEdgeOfLeaseValidity_AcknowledgedJustBefore_Refused503AtTheEdge_ReadyzSaysWhy_ResumesAfterRenewal()
    {
        // The host's clock is a fake: it moves only when the test advances it. Lease 15 s, margin 5 s: valid for 10 s
        // after the claim was sent (the clock has not moved since), renewed every 5 s. Storage is stopped first, so no
        // renewal can succeed while the clock passes the edge.
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await using var host = setup.Start(services: s => s.AddSingleton<TimeProvider>(clock));
        await host.WaitReadyAsync();
        var lease = host.Services.GetRequiredService<LeaseService>();
        Assert.True(lease.IsValid);
        Assert.Equal(1L, (await host.AddAsync("edge", 1)).Value);

        await azurite.StopAsync();
        try
        {
            clock.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
            Assert.Equal(2L, (await host.AddAsync("edge", 1)).Value); // one tick before the edge: acknowledged

            clock.Advance(TimeSpan.FromTicks(1));
            foreach (var wait in new[] { true, false })
            {
                using var refused = await host.Client.PostAsync("/api/counters/edge/add" + (wait ? "?wait=true" : ""), null);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.Equal(TimeSpan.FromSeconds(5), refused.Headers.RetryAfter?.Delta);
                Assert.Contains("\"rule\":\"lease.lapsed\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            using (var batch = await host.Client.PostAsync("/api/counters/batch", new StringContent("""{"batchId":"b1","items":[{"key":"edge","delta":1}]}""", System.Text.Encoding.UTF8, "application/json")))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, batch.StatusCode);
            }

            Assert.Equal(2L, (await host.GetAsync("edge"))!.Value); // reads still served; the refused writes were not applied
            using (var head = await host.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/api/counters/edge")))
            {
                Assert.Equal(HttpStatusCode.OK, head.StatusCode); // HEAD is a read too
            }

            using (var ready = await host.Client.GetAsync("/readyz"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
                Assert.Contains("lease: Writes are refused: This host's single-writer lease could have expired", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            Assert.NotNull(host.Services.GetRequiredService<StorageStatus>().LeaseLapse);
        }
        finally
        {
            await azurite.StartAsync();
        }

        // Storage is back: the next renewal (nobody took the lease over) makes writes acknowledged again.
        await Eventually.TrueAsync(() =>
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            return Task.FromResult(lease.IsValid);
        }, "a renewal to make the lease valid again");
        Assert.Equal(3L, (await host.AddAsync("edge", 1)).Value);
        Assert.Null(host.Services.GetRequiredService<StorageStatus>().LeaseLapse);
        Assert.Equal(HealthStatus.Healthy, (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(static r => r.Name == "lease")).Status);
    }

    [Fact]
    public async Task Snapshot_FencedByANewerEpoch_WritesNothing_HostStopsAndLeaseInvalid()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        var host = setup.Start();
        try
        {
            await host.WaitReadyAsync();
            Assert.Equal(1L, (await host.AddAsync("stale", 1)).Value);
            await host.WaitForSnapshotAsync();
            var lease = host.Services.GetRequiredService<LeaseService>();
            var lifetime = host.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>();

            // A newer owner raised the fences (as it does before it loads the table): this host's next snapshot is refused.
            await new CounterSnapshotWriter(setup.Table, 8).RaiseFencesAsync(2, CancellationToken.None);
            Assert.Equal(2L, (await host.AddAsync("stale", 1)).Value);

            await Eventually.TrueAsync(() => Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested), "the fenced host to stop");
            Assert.False(lease.IsValid); // from here every write is refused (503 lease.lapsed) until the process ends
            Assert.Contains("lost the storage's single-writer lease", lease.Refusal, StringComparison.Ordinal);
            var row = (await setup.ReadTableAsync())["stale"];
            Assert.Equal((1L, 1L), (row.GetInt64(CounterRows.Value), row.GetInt64(CounterRows.Epoch)));
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    private static StorageSetup SameStorage(StorageSetup first, DurabilityMode mode)
    {
        var second = new StorageSetup(first.Azurite, mode, first.LeaseTableName);
        second.Settings["FuncMap:Storage:TableName"] = first.TableName;
        second.Settings["FuncMap:Storage:QueueName"] = first.QueueName;
        second.Settings["FuncMap:Storage:PoisonQueueName"] = first.PoisonQueueName;
        return second;
    }

    private async Task<TableEntity> ReadLeaseAsync(StorageSetup setup) =>
        (await new TableClient(azurite.ConnectionString, setup.LeaseTableName).GetEntityAsync<TableEntity>(LeaseService.PartitionKey, LeaseService.RowKey)).Value;
}
