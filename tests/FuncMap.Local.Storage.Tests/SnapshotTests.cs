using System.Net;
using FuncMap.Journal;
using FuncMap.Storage;
using FuncMap.Testing;

namespace FuncMap.Local.Storage.Tests;

/// <summary>Snapshots to table Counters and the restore from it.</summary>
[Collection(StorageTestGroup.Name)]
public sealed class SnapshotTests(AzuriteFixture azurite)
{
    [Theory]
    [InlineData(DurabilityMode.Snapshot)]
    [InlineData(DurabilityMode.Journal)]
    public async Task Snapshot_Restart_RestoresValuesVersionsAndDeduplication(DurabilityMode mode)
    {
        using var setup = new StorageSetup(azurite, mode);
        var expected = new Dictionary<string, CounterDto>();
        await using (var host = setup.Start())
        {
            await host.WaitReadyAsync();
            for (var i = 0; i < 10; i++)
            {
                var key = $"k{i}";
                for (var j = 0; j <= i; j++)
                {
                    expected[key] = await host.AddAsync(key, i + 1, idempotencyKey: $"op-{i}-{j}");
                }
            }

            await host.WaitForSnapshotAsync();
        }

        var rows = await setup.ReadTableAsync();
        Assert.Equal(10, rows.Count);
        Assert.Equal("op-9-0\nop-9-1\nop-9-2\nop-9-3\nop-9-4\nop-9-5\nop-9-6\nop-9-7\nop-9-8\nop-9-9", rows["k9"].GetString(CounterRows.OperationIds));

        // A new data directory in Snapshot mode, so the table is the only source (the journal has nothing to replay).
        if (mode == DurabilityMode.Snapshot)
        {
            setup.DataDirectory += "-second";
        }

        await using (var host = setup.Start())
        {
            await host.WaitReadyAsync();
            foreach (var (key, counter) in expected)
            {
                var restored = await host.GetAsync(key);
                Assert.Equal((counter.Value, counter.Version), (restored!.Value, restored.Version));
            }

            // The same Idempotency-Key again is a duplicate: the restored window still holds it.
            var again = await host.AddAsync("k3", 1000, idempotencyKey: "op-3-0");
            Assert.Equal(expected["k3"].Value, again.Value);
            Assert.Equal(expected["k3"].Version, again.Version);
        }
    }

    [Fact]
    public async Task Delete_NextSnapshot_RemovesTheRow()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await using var host = setup.Start();
        await host.WaitReadyAsync();
        await host.AddAsync("gone", 5);
        await host.AddAsync("stays", 7);
        await host.WaitForSnapshotAsync();
        Assert.Equal(["gone", "stays"], (await setup.ReadTableAsync()).Keys.Order(StringComparer.Ordinal));

        using var deleted = await host.Client.DeleteAsync("/api/counters/gone?wait=true");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await host.WaitForSnapshotAsync();

        var rows = await setup.ReadTableAsync();
        Assert.Equal(["stays"], rows.Keys);
        Assert.Equal(7L, rows["stays"].GetInt64(CounterRows.Value));
    }

    [Fact]
    public async Task Restore_StorageDownAtStart_NotReadyUntilTableLoaded()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Snapshot);
        await setup.Table.CreateIfNotExistsAsync();
        var seeded = new[] { ("pre:a", 11L, 3L), ("pre:b", -4L, 9L) };
        foreach (var (key, value, version) in seeded)
        {
            await setup.Table.UpsertEntityAsync(new Azure.Data.Tables.TableEntity(FuncMap.Counters.CounterPartition.KeyOf(key), key)
            {
                [CounterRows.Value] = value,
                [CounterRows.Version] = version,
                [CounterRows.UpdatedAt] = DateTimeOffset.UtcNow,
                [CounterRows.OperationIds] = "seeded-op",
            });
        }

        await azurite.StopAsync();
        StorageHost? host = null;
        try
        {
            host = setup.Start();
            // Storage is away: the host runs, says why it is degraded, and neither readiness nor the API serve.
            await Eventually.TrueAsync(async () => (await host.Client.GetStringAsync("/healthz")) == "Degraded", "health to report degraded storage");
            using (var ready = await host.Client.GetAsync("/readyz"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            }

            using (var api = await host.Client.GetAsync("/api/counters/pre:a"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, api.StatusCode);
            }
        }
        finally
        {
            await azurite.StartAsync();
        }

        await using (host)
        {
            await host.WaitReadyAsync();
            foreach (var (key, value, version) in seeded)
            {
                var counter = await host.GetAsync(key);
                Assert.Equal((value, version), (counter!.Value, counter.Version));
            }

            var duplicate = await host.AddAsync("pre:a", 100, idempotencyKey: "seeded-op");
            Assert.Equal(11L, duplicate.Value);
        }
    }
}
