using FuncMap.Journal;
using FuncMap.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FuncMap.Local.Storage.Tests;

/// <summary>What a normal start, stop and handover log, in order and at which level (issue 21, item 7).</summary>
[Collection(StorageTestGroup.Name)]
public sealed class LifecycleLogTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task StopThenHandover_StopLinesInOrder_CleanHandoverIsInformation()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        static void Informative(Dictionary<string, string?> settings) => settings["Logging:LogLevel:FuncMap"] = "Information";
        var first = new CapturedLogs();
        await using (var host = setup.Start(Informative, s => s.AddSingleton<ILoggerProvider>(first)))
        {
            await host.WaitReadyAsync();
            await host.AddAsync("k", 1);
        }

        var messages = first.All.Select(static e => e.Message).ToList();
        var stopping = messages.FindIndex(static m => m.StartsWith("Stopping: ", StringComparison.Ordinal));
        var drained = messages.FindIndex(static m => m.StartsWith("Counter engine stopped after draining", StringComparison.Ordinal));
        var released = messages.FindIndex(static m => m.StartsWith("Lease of ", StringComparison.Ordinal) && m.EndsWith(" released.", StringComparison.Ordinal));
        Assert.True(stopping >= 0 && stopping < drained && drained < released, $"stopping {stopping}, drained {drained}, released {released}");

        var firstDirectory = setup.DataDirectory;
        setup.DataDirectory = Path.Combine(Path.GetTempPath(), "funcmap-storage-" + Guid.NewGuid().ToString("N")); // another host
        var second = new CapturedLogs();
        await using (var host = setup.Start(Informative, s => s.AddSingleton<ILoggerProvider>(second)))
        {
            await host.WaitReadyAsync();
        }

        var handover = Assert.Single(second.Events(1490));
        Assert.Equal(LogLevel.Information, handover.Level);
        Assert.Empty(second.Events(1407));
        Assert.DoesNotContain(second.All, static e => e.Level >= LogLevel.Warning && e.Message.Contains("lease", StringComparison.OrdinalIgnoreCase));
        Directory.Delete(firstDirectory, recursive: true);
    }
}
