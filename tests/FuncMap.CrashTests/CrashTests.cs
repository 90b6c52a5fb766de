using System.Reflection;
using FuncMap.Crash;
using Xunit.Abstractions;

namespace FuncMap.CrashTests;

/// <summary>
/// The crash harness in short (bench/crash/run.sh runs it long): the local host in Journal mode is killed
/// with SIGKILL while writes are in flight, and after each restart every acknowledged write is there exactly
/// once. The Snapshot-mode control shows that the same check fails without the journal.
/// </summary>
public sealed class CrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task KillNine_ThreeTimes_NoAcknowledgedWriteLostOrCountedTwice()
    {
        var result = await RunAsync(new CrashOptions { Kills = 3, Seconds = 9, Writers = 16, Keys = 256, Seed = 5, HostDll = HostDll() });
        Assert.True(result.Passed, result.Summary());
        Assert.Equal((3, 0L, 0L), (result.Kills, result.Lost, result.Duplicated));
        Assert.True(result.AcknowledgedFirstTime > 0);
    }

    [Fact]
    public async Task TwoHosts_FourSwitchesByStopCrashAndPause_WithACopiedDirectoryAndADeletedTable_NoAcknowledgedWriteLostOrCountedTwice_NoStaleAcknowledgement()
    {
        // Seed 3 draws stop, pause, pause, crash: every way of leaving once at least.
        var result = await RunAsync(new CrashOptions { Switches = 4, Writers = 8, Keys = 64, Seed = 3, HostDll = HostDll() }, twoHosts: true);
        Assert.True(result.Passed, result.TwoHostSummary());
        Assert.Equal((4, 0L, 0L, 0L, 0L), (result.Switches, result.Lost, result.Duplicated, result.ConflictingVersions, result.StaleAcknowledged));
        Assert.True(result.SwitchesByStop > 0 && result.SwitchesByCrash > 0 && result.SwitchesByPause > 0, result.TwoHostSummary());
        Assert.Equal(result.SwitchesByCrash, result.RefusedTakeovers);
        Assert.Equal((1, 1), (result.RefusedCopies, result.TablesDeleted));
    }

    [Fact]
    public async Task KillNine_InSnapshotModeWithoutStorage_LosesAcknowledgedWrites()
    {
        var data = Path.Combine(Path.GetTempPath(), "funcmap-crash-control", Guid.NewGuid().ToString("N"));
        try
        {
            var result = await RunAsync(new CrashOptions { Kills = 1, Seconds = 2, Writers = 8, Keys = 64, Seed = 5, HostDll = HostDll(), Durability = "Snapshot", Azurite = false, DataDirectory = data });
            Assert.False(result.Passed);
            Assert.True(result.Lost > 0, result.Summary());
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private async Task<CrashResult> RunAsync(CrashOptions options, bool twoHosts = false)
    {
        using var writer = new StringWriter();
        var result = twoHosts ? await TwoHostHarness.RunAsync(options, writer) : await CrashHarness.RunAsync(options, writer);
        output.WriteLine(writer.ToString());
        return result;
    }

    /// <summary>The host built in the same configuration as this test (CI builds the solution in Release).</summary>
    internal static string HostDll()
    {
        var configuration = typeof(CrashTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(static a => a.Key == "Configuration").Value!;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FuncMap.sln")))
            {
                return Path.Combine(dir.FullName, "functions", "FuncMap.Local", "bin", configuration, "net10.0", "FuncMap.Local.dll");
            }
        }

        throw new InvalidOperationException("No repository root above " + AppContext.BaseDirectory);
    }
}
