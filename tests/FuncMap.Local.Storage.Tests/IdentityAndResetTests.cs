using Azure.Data.Tables;
using FuncMap.Journal;
using FuncMap.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FuncMap.Local.Storage.Tests;

/// <summary>Issue 19, items 1, 4 and 5: a wiped storage is noticed, a copy of a data directory is fenced, and expiry rests on no wall clock.</summary>
[Collection(StorageTestGroup.Name)]
public sealed class IdentityAndResetTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Start_StorageWipedOrAtALowerEpoch_RefusedNamingBothEpochs_WithTheSwitchServedAboveTheHeldEpoch()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        var leases = new TableClient(azurite.ConnectionString, setup.LeaseTableName);
        var epochFile = Path.Combine(setup.DataDirectory, LeaseEpochFile.FileName);
        await using (var host = setup.Start())
        {
            await host.WaitReadyAsync();
            Assert.Equal(1L, host.Services.GetRequiredService<LeaseService>().Epoch);
        }

        Assert.Equal("1", await File.ReadAllTextAsync(epochFile));

        // Wiped: the lease table and the snapshot table are gone.
        await leases.DeleteAsync();
        await setup.Table.DeleteAsync();
        var wiped = Refusal<StorageResetException>(await Record.ExceptionAsync(async () => await setup.Start().DisposeAsync()));
        Assert.Equal((1L, (long?)null), (wiped.HeldEpoch, wiped.StorageEpoch));
        Assert.Contains($"the data directory {setup.DataDirectory} held epoch 1 of this storage, the storage's lease is at none: the storage was wiped or replaced", wiped.Message, StringComparison.Ordinal);
        Assert.Contains("--allow-storage-reset", wiped.Message, StringComparison.Ordinal);
        Assert.Contains(StorageOptions.AllowStorageResetKey, wiped.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', wiped.Message);
        Assert.False((await leases.GetEntityIfExistsAsync<TableEntity>(LeaseService.PartitionKey, LeaseService.RowKey)).HasValue); // claimed nothing

        await using (var host = setup.Start(static s => s[StorageOptions.AllowStorageResetKey] = "true"))
        {
            await host.WaitReadyAsync();
            Assert.Equal(2L, host.Services.GetRequiredService<LeaseService>().Epoch);
            Assert.Equal(1L, (await host.AddAsync("after-reset", 1)).Value);
        }

        Assert.Equal("2", await File.ReadAllTextAsync(epochFile));

        // Replaced by an older storage: its lease row is at epoch 1 (released cleanly by some host).
        await leases.UpsertEntityAsync(new TableEntity(LeaseService.PartitionKey, LeaseService.RowKey)
        {
            ["Owner"] = "older-host/0001",
            ["Nonce"] = "0",
            ["Epoch"] = 1L,
            ["Clean"] = true,
            ["Released"] = true,
        }, TableUpdateMode.Replace);
        var older = Refusal<StorageResetException>(await Record.ExceptionAsync(async () => await setup.Start().DisposeAsync()));
        Assert.Equal((2L, (long?)1L), (older.HeldEpoch, older.StorageEpoch));
        Assert.Contains("held epoch 2 of this storage, the storage's lease is at 1: the storage was wiped or replaced", older.Message, StringComparison.Ordinal);
        Assert.Equal("older-host/0001", (await leases.GetEntityAsync<TableEntity>(LeaseService.PartitionKey, LeaseService.RowKey)).Value.GetString("Owner"));
    }

    [Fact]
    public async Task Renewal_RowOfTheSameOwnerIdWithAnotherNonce_HostFencedAndStopped()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        setup.Settings["FuncMap:Storage:LeaseDuration"] = "00:00:03"; // renewed every second
        setup.Settings["FuncMap:Storage:LeaseSafetyMargin"] = "00:00:01";
        var logs = new CapturedLogs();
        var host = setup.Start(services: s => s.AddSingleton<ILoggerProvider>(logs));
        try
        {
            await host.WaitReadyAsync();
            var lease = host.Services.GetRequiredService<LeaseService>();
            var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
            Assert.Equal(1L, (await host.AddAsync("copy", 1)).Value);

            // What a copy of the data directory writes: the same owner id and epoch, another process's nonce.
            var leases = new TableClient(azurite.ConnectionString, setup.LeaseTableName);
            var row = (await leases.GetEntityAsync<TableEntity>(LeaseService.PartitionKey, LeaseService.RowKey)).Value;
            Assert.Equal((lease.OwnerId, lease.Nonce), (row.GetString("Owner"), row.GetString("Nonce")));
            row["Nonce"] = "copied-process";
            await leases.UpsertEntityAsync(row, TableUpdateMode.Replace);

            await Eventually.TrueAsync(() => Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested), "the fenced host to stop");
            Assert.False(lease.IsValid);
            Assert.Contains("lost the storage's single-writer lease", lease.Refusal, StringComparison.Ordinal);
            var lost = Assert.Single(logs.Events(1462));
            Assert.Equal((lease.OwnerId, "copied-process", lease.Nonce, setup.DataDirectory), ((string)lost.Value("Owner")!, (string)lost.Value("OtherNonce")!, (string)lost.Value("Nonce")!, (string)lost.Value("Directory")!));
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    [Fact]
    public async Task Start_OwnersWallClockAnHourBehind_ItsLiveLeaseIsNotTakenOver_EvenWithTheUncleanSwitch()
    {
        using var first = new StorageSetup(azurite, DurabilityMode.Journal);
        await using var owner = first.Start(services: static s => s.AddSingleton<TimeProvider>(new SteppedClock(TimeSpan.FromHours(-1))));
        await owner.WaitReadyAsync();
        var lease = owner.Services.GetRequiredService<LeaseService>();
        var leases = new TableClient(azurite.ConnectionString, first.LeaseTableName);
        var row = (await leases.GetEntityAsync<TableEntity>(LeaseService.PartitionKey, LeaseService.RowKey)).Value;
        Assert.True(row.GetDateTimeOffset("ExpiresAt") < DateTimeOffset.UtcNow); // the premise: by any other clock the row looks expired

        using var second = new StorageSetup(azurite, DurabilityMode.Journal, first.LeaseTableName);
        second.Settings["FuncMap:Storage:TableName"] = first.TableName;
        second.Settings["FuncMap:Storage:QueueName"] = first.QueueName;
        second.Settings["FuncMap:Storage:PoisonQueueName"] = first.PoisonQueueName;
        var held = Refusal<LeaseHeldException>(await Record.ExceptionAsync(async () => await second.Start(static s => s[StorageOptions.AllowUncleanTakeoverKey] = "true").DisposeAsync()));
        Assert.Equal(lease.OwnerId, held.Owner);

        Assert.Equal(5L, (await owner.AddAsync("still-mine", 5)).Value);
        Assert.Equal((true, 1L), (lease.IsValid, lease.Epoch));
        var after = (await leases.GetEntityAsync<TableEntity>(LeaseService.PartitionKey, LeaseService.RowKey)).Value;
        Assert.Equal((lease.OwnerId, lease.Nonce, 1L), (after.GetString("Owner"), after.GetString("Nonce"), after.GetInt64("Epoch")));
    }

    private static T Refusal<T>(Exception? failure)
        where T : Exception => Assert.IsType<T>(failure is AggregateException a ? a.InnerExceptions.Single() : failure);

    /// <summary>The system clock with its wall-clock time stepped by an offset; the monotonic clock and timers are the system's.</summary>
    private sealed class SteppedClock(TimeSpan offset) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
    }
}
