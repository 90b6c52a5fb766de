using FuncMap.Journal;
using FuncMap.Testing;

namespace FuncMap.Local.Storage.Tests;

/// <summary>A host without storage (<c>FuncMap:Storage:Enabled=false</c>) and a host with storage on one data directory.</summary>
[Collection(StorageTestGroup.Name)]
public sealed class NoStorageTests(AzuriteFixture azurite)
{
    /// <summary>
    /// What a host without storage counted (in its journal) is never replayed by a host with storage on the same data
    /// directory, so it never reaches the storage; and a host without storage started again still has it (issue 21,
    /// item 2: the shared journal used to replay an in-memory counter into the real storage).
    /// </summary>
    [Fact]
    public async Task StorageHost_OnDirectoryOfAHostWithoutStorage_DoesNotReplayItsCounters()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        static void WithoutStorage(Dictionary<string, string?> settings)
        {
            settings["FuncMap:Storage:Enabled"] = "false";
            settings.Remove("FuncMap:Journal:Directory"); // the host's own choice, as in eng/run.sh and the .http file
        }

        await using (var memory = setup.Start(WithoutStorage))
        {
            await memory.WaitReadyAsync();
            Assert.Equal(5, (await memory.AddAsync("demo:only", 5)).Value);
        }

        await using (var stored = setup.Start(static s => s.Remove("FuncMap:Journal:Directory")))
        {
            await stored.WaitReadyAsync();
            Assert.Null(await stored.GetAsync("demo:only"));
            Assert.Equal(1, (await stored.AddAsync("real", 1)).Value);
            await stored.WaitForSnapshotAsync();
        }

        Assert.Equal(["real"], (await setup.ReadTableAsync()).Keys);
        await using (var again = setup.Start(WithoutStorage))
        {
            await again.WaitReadyAsync();
            Assert.Equal(5, (await again.GetAsync("demo:only"))!.Value);
            Assert.Null(await again.GetAsync("real"));
        }
    }
}
