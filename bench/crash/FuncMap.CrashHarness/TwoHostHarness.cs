using System.Diagnostics;
using System.Globalization;

namespace FuncMap.Crash;

/// <summary>
/// Two local hosts, each with its own data directory, on one storage: ownership moves between them
/// <see cref="CrashOptions.Switches"/> times while writers run, the old owner leaving by one of three ways, and after
/// every switch the new owner must hold every acknowledged write exactly once:
/// <list type="bullet">
/// <item>stop: SIGTERM under load (a clean stop); the other host takes over at once;</item>
/// <item>crash: SIGKILL under load; the other host's start must be refused (the lease is live or unclean), the owner
/// recovers on its own directory (journal replay), is checked, then stops cleanly and the other takes over;</item>
/// <item>pause: once the owner's acknowledged writes are all in the table, SIGSTOP; writes sent to it hang; when its
/// lease expired, the other host takes over with <c>--allow-unclean-takeover</c> (nothing is lost: the table has it
/// all); then SIGCONT: none of the hanging writes may be acknowledged by the woken owner, which must exit.</item>
/// </list>
/// </summary>
public static class TwoHostHarness
{
    private const double LeaseSeconds = 6;
    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(90);

    private enum Leave
    {
        Stop,
        Crash,
        Pause,
    }

    public static async Task<CrashResult> RunAsync(CrashOptions options, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        var root = CrashHarness.FindRepositoryRoot();
        var dll = options.HostDll ?? Path.Combine(root, "functions", "FuncMap.Local", "bin", "Release", "net10.0", "FuncMap.Local.dll");
        var ownsData = options.DataDirectory is null;
        var data = Path.GetFullPath(options.DataDirectory ?? Path.Combine(Path.GetTempPath(), "funcmap-crash-two-hosts", Guid.NewGuid().ToString("N")));
        var keys = Enumerable.Range(0, options.Keys).Select(static i => "crash:" + i.ToString("D4", CultureInfo.InvariantCulture)).ToArray();
        var ledger = new Ledger(keys);
        var result = new CrashResult { DataDirectory = data, Storage = "Azurite (shared by both hosts)" };
        var random = new Random(options.Seed);
        var clock = Stopwatch.StartNew();
        output.WriteLine($"crash harness, two hosts: {options.Switches} switches, {options.Writers} writers, {options.Keys} keys, seed {options.Seed}, data {data}");

        await using var storage = await SharedStorage.StartAsync();
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = options.Writers * 2, PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = TimeSpan.FromSeconds(5) };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
        var hosts = new[] { NewHost("a"), NewHost("b") };
        try
        {
            var owner = 0;
            hosts[owner].Start();
            await hosts[owner].WaitReadyAsync(http, ReadyDeadline);
            for (var cycle = 0; result.Switches < options.Switches; cycle++)
            {
                var current = hosts[owner];
                var next = hosts[1 - owner];
                var leave = (Leave)random.Next(3);
                using var stop = new CancellationTokenSource();
                var writers = Enumerable.Range(0, options.Writers)
                    .Select(w => CrashHarness.WriteLoopAsync(http, current.BaseAddress, keys, ledger, new Random(HashCode.Combine(options.Seed, cycle, w)), $"t{cycle}w{w}", stop.Token))
                    .ToArray();
                await Task.Delay(TimeSpan.FromSeconds(0.5 + (1.5 * random.NextDouble())));
                // Two events under load, each every fourth switch (issue 19), before the owner leaves as drawn.
                if (cycle % 4 == 1)
                {
                    await StartCopyAsync(data, current == hosts[0] ? "a" : "b", cycle, dll, storage, output, result);
                }
                else if (cycle % 4 == 2)
                {
                    await DeleteTableAsync(storage, current, output, result);
                }

                switch (leave)
                {
                    case Leave.Stop:
                        await current.StopAsync(); // under load: writes in flight end 503 or unknown, and are re-sent
                        await EndAsync(stop, writers);
                        result.SwitchesByStop++;
                        break;

                    case Leave.Crash:
                        current.Kill();
                        result.Kills++;
                        await EndAsync(stop, writers);
                        next.Start();
                        if (await next.WaitForExitAsync(ReadyDeadline) == 0)
                        {
                            throw new InvalidOperationException("A host started on storage whose owner had just crashed, without the operator's switch.");
                        }

                        result.RefusedTakeovers++;
                        current.Start(); // the same host on its own data directory: no takeover, its journal is replayed
                        await current.WaitReadyAsync(http, ReadyDeadline);
                        await SettleAsync(http, current, keys, ledger, result, options);
                        await current.StopAsync();
                        result.SwitchesByCrash++;
                        break;

                    default:
                        await EndAsync(stop, writers);
                        await SettleAsync(http, current, keys, ledger, result, options);
                        await WaitPersistedAsync(storage, ledger);
                        await PauseAndTakeOverAsync(http, current, next, storage, keys, ledger, result, random, cycle);
                        result.SwitchesByPause++;
                        break;
                }

                if (leave != Leave.Pause)
                {
                    next.Start();
                    await next.WaitReadyAsync(http, ReadyDeadline);
                }

                owner = 1 - owner;
                result.Switches++;
                await SettleAsync(http, next, keys, ledger, result, options);
                var totals = ledger.Totals();
                output.WriteLine($"  switch {result.Switches,3} ({leave,-5}) to host {(owner == 0 ? "a" : "b")}: {totals.Writes,8:N0} writes so far, all acknowledged present once");
            }

            await hosts[owner].StopAsync();
        }
        catch (Exception ex)
        {
            result.Error = ex.Message;
        }
        finally
        {
            foreach (var host in hosts)
            {
                host.Dispose();
            }
        }

        CrashHarness.Finish(result, ledger, clock.Elapsed, output, result.TwoHostSummary, ownsData, data, $"host logs: {data}/a.log, {data}/b.log");
        return result;

        HostProcess NewHost(string name)
        {
            var directory = Path.Combine(data, name);
            Directory.CreateDirectory(directory);
            return new HostProcess(dll, storage.Environment(directory, LeaseSeconds, TimeSpan.FromMilliseconds(500)), Path.Combine(data, name + ".log"));
        }
    }

    /// <summary>
    /// A copy of the owner's data directory taken under load (a backup restored beside the original, a cloned VM) is
    /// started on the same storage: it must refuse to start (exit ≠ 0) naming the copy, and never serve.
    /// </summary>
    private static async Task StartCopyAsync(string data, string ownerName, int cycle, string dll, SharedStorage storage, TextWriter output, CrashResult result)
    {
        var copy = Path.Combine(data, $"copy-{cycle}");
        await LiveDirectoryCopy.CopyAsync(Path.Combine(data, ownerName), copy);
        var log = Path.Combine(data, $"copy-{cycle}.log");
        using (var host = new HostProcess(dll, storage.Environment(copy, LeaseSeconds, TimeSpan.FromMilliseconds(500)), log))
        {
            host.Start();
            int code;
            try
            {
                code = await host.WaitForExitAsync(ReadyDeadline);
            }
            catch (OperationCanceledException)
            {
                throw new InvalidOperationException($"A host started on a copy of the owner's data directory ({copy}) kept running beside the owner; see {log}.");
            }

            if (code == 0 || !(await File.ReadAllTextAsync(log)).Contains("copied data directory", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"A host started on a copy of the owner's data directory exited with code {code} without naming the copy; see {log}.");
            }
        }

        result.RefusedCopies++;
        Directory.Delete(copy, recursive: true);
        output.WriteLine($"  copy of host {ownerName}'s data directory started beside it: refused");
    }

    /// <summary>
    /// The Counters table deleted behind the owner's back under load: the owner must re-create it and rewrite every live
    /// counter before it truncates its journal, so that the next owner (which restores from the table) loses nothing.
    /// </summary>
    private static async Task DeleteTableAsync(SharedStorage storage, HostProcess owner, TextWriter output, CrashResult result)
    {
        var before = await RewritesAsync(owner.LogPath);
        await storage.Counters.DeleteAsync();
        result.TablesDeleted++;
        // The owner finds out at its next snapshot (every 500 ms here): wait for its line, then let the writes go on a little.
        var deadline = Stopwatch.StartNew();
        while (await RewritesAsync(owner.LogPath) <= before)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"The owner did not rewrite the deleted table within 60 s; see {owner.LogPath}.");
            }

            await Task.Delay(100); // another process's log: there is nothing else to watch
        }

        output.WriteLine("  Counters table deleted under load: re-created and rewritten by the owner");
    }

    /// <summary>How many lines of a host's log (all its starts) say that the table was rewritten after its loss.</summary>
    private static async Task<int> RewritesAsync(string log)
    {
        var text = await File.ReadAllTextAsync(log);
        var seen = 0;
        for (var at = text.IndexOf("rewritten after its loss", StringComparison.Ordinal); at >= 0; at = text.IndexOf("rewritten after its loss", at + 1, StringComparison.Ordinal))
        {
            seen++;
        }

        return seen;
    }

    private static async Task EndAsync(CancellationTokenSource stop, Task[] writers)
    {
        await stop.CancelAsync();
        await Task.WhenAll(writers);
    }

    /// <summary>On the owner: the values lie in range, the writes of unknown outcome are re-sent, then the values are exact.</summary>
    private static async Task SettleAsync(HttpClient http, HostProcess owner, string[] keys, Ledger ledger, CrashResult result, CrashOptions options)
    {
        await CrashHarness.CheckRangesAsync(http, owner.BaseAddress, keys, ledger, result, exact: false);
        await CrashHarness.ResendUnknownAsync(http, owner.BaseAddress, ledger, options.Writers);
        await CrashHarness.CheckRangesAsync(http, owner.BaseAddress, keys, ledger, result, exact: true);
    }

    /// <summary>Waits until the table holds every acknowledged write (the owner's snapshots caught up).</summary>
    private static async Task WaitPersistedAsync(SharedStorage storage, Ledger ledger)
    {
        var deadline = Stopwatch.StartNew();
        while (!ledger.AllPersisted((await storage.ReadRowsAsync()).ToDictionary(static r => r.Key, static r => r.Value.Value)))
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException("The owner's snapshots did not persist every acknowledged write within 60 s.");
            }

            await Task.Delay(100); // another process's snapshots: the table is all there is to watch
        }
    }

    private static async Task PauseAndTakeOverAsync(HttpClient http, HostProcess current, HostProcess next, SharedStorage storage, string[] keys, Ledger ledger, CrashResult result, Random random, int cycle)
    {
        await current.PauseAsync();
        Task<CrashHarness.Outcome>[] probes;
        Write[] sent;
        try
        {
            // Writes sent to the frozen owner: they sit in its socket until it wakes, by then behind a newer owner.
            sent = [.. Enumerable.Range(0, 8).Select(i => new Write($"t{cycle}p{i}", i % 2 == 0 ? WriteKind.AddWait : WriteKind.Add, [keys[random.Next(keys.Length)]]))];
            probes = [.. sent.Select(w =>
            {
                ledger.Sent(w);
                return CrashHarness.SendAsync(http, current.BaseAddress, w, ledger, CancellationToken.None, firstAttempt: true);
            })];
            await storage.WaitLeaseExpiredAsync(TimeSpan.FromSeconds(60));
            next.Start("--allow-unclean-takeover");
            await next.WaitReadyAsync(http, ReadyDeadline);
        }
        finally
        {
            await current.ResumeAsync();
        }

        var outcomes = await Task.WhenAll(probes);
        for (var i = 0; i < sent.Length; i++)
        {
            if (outcomes[i] == CrashHarness.Outcome.Acknowledged)
            {
                result.StaleAcknowledged++;
                ledger.Acknowledged(sent[i], firstTime: true); // counted, so that the checks show what it did to the data
            }
            else
            {
                ledger.Unknown(sent[i]); // refused or cut off: the client re-sends it to the new owner
            }
        }

        if (await current.WaitForExitAsync(TimeSpan.FromSeconds(60)) == 0)
        {
            throw new InvalidOperationException("The woken owner, behind a newer one, exited with code 0.");
        }
    }
}
