using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;

namespace FuncMap.Crash;

/// <summary>
/// Disk faults under load (issue 18): the local host (Journal mode, small segments) runs on a data directory that is a
/// small tmpfs of its own, and <see cref="CrashOptions.DiskFaults"/> times, at a seeded random moment of the writes, the
/// disk is filled behind the host's back (completely, or leaving up to 64 KiB so that the journal fails a few writes
/// later). The writes go on for a while into the full disk; then either the space is freed and the journal must recover
/// by itself, or the host is killed with SIGKILL (a third of the faults), the space freed and the host restarted.
/// <para>
/// What is checked: a single write refused with 503 <c>journal.unavailable</c> that says it is not applied is never
/// re-sent, so it must never show up — not in a read while the disk is full (every read is bounded by the writes sent
/// minus the refused ones, and at least what was acknowledged before the read), not after the recovery, not after a
/// restart; every acknowledged write is there exactly once; a version is never seen with two values (reads, wait
/// answers). Writes whose outcome the host left open (a batch, or "may still take effect") are re-sent with their own
/// id once the journal works again, as a client does.
/// </para>
/// </summary>
public static class DiskFaultHarness
{
    private const int DiskMiB = 16;
    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(90);

    public static async Task<CrashResult> RunAsync(CrashOptions options, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        var result = new CrashResult { Storage = "Azurite" };
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            result.Error = "--disk-faults needs root on Linux: it mounts a small tmpfs as the host's data directory.";
            output.WriteLine(result.Error);
            return result;
        }

        var root = CrashHarness.FindRepositoryRoot();
        var dll = options.HostDll ?? Path.Combine(root, "functions", "FuncMap.Local", "bin", "Release", "net10.0", "FuncMap.Local.dll");
        var ownsWork = options.DataDirectory is null;
        var work = Path.GetFullPath(options.DataDirectory ?? Path.Combine(Path.GetTempPath(), "funcmap-crash-disk", Guid.NewGuid().ToString("N")));
        var mount = Path.Combine(work, "mnt");
        var data = Path.Combine(mount, "data");
        Directory.CreateDirectory(mount);
        result.DataDirectory = data;
        var keys = Enumerable.Range(0, options.Keys).Select(static i => "crash:" + i.ToString("D4", CultureInfo.InvariantCulture)).ToArray();
        var ledger = new Ledger(keys);
        var random = new Random(options.Seed);
        var clock = Stopwatch.StartNew();
        output.WriteLine($"crash harness, disk faults: {options.DiskFaults} faults, {options.Writers} writers, {options.Keys} keys, seed {options.Seed}, data directory on a {DiskMiB} MiB tmpfs at {mount}");

        if (await RunAsync("mount", "-t", "tmpfs", "-o", $"size={DiskMiB}m", "tmpfs", mount) != 0)
        {
            result.Error = $"mount -t tmpfs on {mount} failed.";
            return result;
        }

        try
        {
            Directory.CreateDirectory(data);
            await using var storage = await SharedStorage.StartAsync();
            var environment = storage.Environment(data, leaseSeconds: 6, TimeSpan.FromSeconds(1));
            // Small segments: the journal needs new space every few hundred writes, as a 64 MiB segment does on a full disk.
            environment["FuncMap__Journal__SegmentMaxBytes"] = "65536";
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = options.Writers * 2, PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = TimeSpan.FromSeconds(5) };
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
            // The host's log lives outside the tmpfs: it must not compete for the space the journal is refused.
            using var host = new HostProcess(dll, environment, Path.Combine(work, "host.log"));
            host.Start();
            await host.WaitReadyAsync(http, ReadyDeadline);
            for (var fault = 0; fault < options.DiskFaults; fault++)
            {
                using var stop = new CancellationTokenSource();
                var writers = Enumerable.Range(0, options.Writers)
                    .Select(w => CrashHarness.WriteLoopAsync(http, host.BaseAddress, keys, ledger, new Random(HashCode.Combine(options.Seed, fault, w)), $"d{fault}w{w}", stop.Token, refusals: true))
                    .ToArray();
                var reader = ReadLoopAsync(http, host.BaseAddress, keys, ledger, new Random(HashCode.Combine(options.Seed, fault)), stop.Token);
                await Task.Delay(TimeSpan.FromSeconds(0.3 + random.NextDouble()));
                var leave = random.Next(4) == 0 ? 0 : random.Next(64 * 1024);
                var refusedBefore = ledger.RefusedWrites;
                var filler = Fill(data, leave);
                result.DiskFaults++;
                await Task.Delay(TimeSpan.FromSeconds(1 + (2 * random.NextDouble())));
                await stop.CancelAsync();
                await Task.WhenAll(writers);
                var reads = await reader;
                result.ReadsUnderLoad += reads.Reads;
                result.RefusedServed += reads.RefusedServed;
                result.Lost += reads.AcknowledgedNotServed;
                var refused = ledger.RefusedWrites - refusedBefore;
                if (refused > 0)
                {
                    result.FaultsRefusing++;
                }

                // Reads keep working on the full disk and show nothing refused.
                await CrashHarness.CheckRangesAsync(http, host.BaseAddress, keys, ledger, result, exact: false);
                var kill = random.Next(3) == 0;
                if (kill)
                {
                    host.Kill();
                    result.Kills++;
                    File.Delete(filler);
                    host.Start();
                }
                else
                {
                    File.Delete(filler);
                    result.FaultsRecovered++;
                }

                // Recovery without a restart: /readyz turns 200 once the journal has a fresh segment.
                await host.WaitReadyAsync(http, ReadyDeadline);
                await CrashHarness.CheckRangesAsync(http, host.BaseAddress, keys, ledger, result, exact: false);
                await CrashHarness.ResendUnknownAsync(http, host.BaseAddress, ledger, options.Writers);
                await CrashHarness.CheckRangesAsync(http, host.BaseAddress, keys, ledger, result, exact: true);
                var totals = ledger.Totals();
                output.WriteLine($"  fault {result.DiskFaults,3} ({(leave == 0 ? "full" : $"{leave / 1024} KiB left")}, then {(kill ? "kill -9 and restart" : "space freed")}): {refused,5:N0} refused, {totals.Writes,8:N0} writes so far");
            }

            // A graceful stop and start must keep everything too.
            await host.StopAsync();
            host.Start();
            await host.WaitReadyAsync(http, ReadyDeadline);
            await CrashHarness.CheckRangesAsync(http, host.BaseAddress, keys, ledger, result, exact: true);
            await host.StopAsync();
        }
        catch (Exception ex)
        {
            result.Error = ex.Message;
        }
        finally
        {
            await RunAsync("umount", "-l", mount);
        }

        result.RefusedWrites = ledger.RefusedWrites;
        CrashHarness.Finish(result, ledger, clock.Elapsed, output, result.DiskFaultSummary, ownsWork, work, "host log: " + Path.Combine(work, "host.log"));
        return result;
    }

    /// <summary>
    /// Reads random keys while the writes run: a value must be at least what was acknowledged before the read and at most
    /// what was sent minus what was refused after it; every (version, value) seen goes to the ledger.
    /// </summary>
    private static async Task<(long Reads, long RefusedServed, long AcknowledgedNotServed)> ReadLoopAsync(HttpClient http, Uri baseAddress, string[] keys, Ledger ledger, Random random, CancellationToken stop)
    {
        long reads = 0, refusedServed = 0, acknowledgedNotServed = 0;
        while (!stop.IsCancellationRequested)
        {
            var key = keys[random.Next(keys.Length)];
            var (acknowledged, _) = ledger.Of(key);
            long value = 0, version = 0;
            try
            {
                using var response = await http.GetAsync(new Uri(baseAddress, "api/counters/" + key), CancellationToken.None);
                if (response.IsSuccessStatusCode)
                {
                    var counter = await response.Content.ReadFromJsonAsync<CrashHarness.CounterDto>(CrashHarness.Json, CancellationToken.None);
                    (value, version) = (counter!.Value, counter.Version);
                    ledger.Observed(key, version, value);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                continue;
            }

            reads++;
            if (value > ledger.UpperBound(key))
            {
                refusedServed++;
            }

            if (value < acknowledged)
            {
                acknowledgedNotServed++;
            }
        }

        return (reads, refusedServed, acknowledgedNotServed);
    }

    /// <summary>Writes a file until the file system is full, then gives back <paramref name="leaveBytes"/>; returns its path.</summary>
    private static string Fill(string directory, int leaveBytes)
    {
        var path = Path.Combine(directory, "filler");
        var chunk = new byte[64 * 1024];
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        try
        {
            while (true)
            {
                stream.Write(chunk);
            }
        }
        catch (IOException)
        {
            // ENOSPC: the disk is full.
        }

        stream.SetLength(Math.Max(0, stream.Length - leaveBytes));
        return path;
    }

    private static async Task<int> RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        await process.WaitForExitAsync();
        return process.ExitCode;
    }
}
