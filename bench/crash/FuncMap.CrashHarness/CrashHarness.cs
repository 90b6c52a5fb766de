using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FuncMap.Testing;

namespace FuncMap.Crash;

/// <summary>
/// Runs the local host (Journal mode) as a child process, drives concurrent HTTP writes (adds, adds with
/// wait, batches; each with its own operation id and delta 1), kills the host with SIGKILL at seeded
/// random moments, restarts it and checks, after every restart and at the end, exactly:
/// acknowledged ⊆ applied ⊆ sent, no value counted twice, versions consistent.
/// </summary>
public static class CrashHarness
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(90);

    public static async Task<CrashResult> RunAsync(CrashOptions options, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        var root = FindRepositoryRoot();
        var dll = options.HostDll ?? Path.Combine(root, "functions", "FuncMap.Local", "bin", "Release", "net10.0", "FuncMap.Local.dll");
        var ownsData = options.DataDirectory is null;
        var data = Path.GetFullPath(options.DataDirectory ?? Path.Combine(Path.GetTempPath(), "funcmap-crash", Guid.NewGuid().ToString("N")));
        Directory.CreateDirectory(data);

        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["FuncMap__Durability__Mode"] = options.Durability,
            ["FuncMap__DataDirectory"] = data,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__FuncMap"] = "Information",
        };

        // Storage (snapshots that truncate the journal, the lease) when the host registers it: against an
        // Azurite of our own, with names no one else uses. Without Azurite it is switched off.
        AzuriteFixture? azurite = null;
        var useAzurite = options.Azurite ?? File.Exists(Path.Combine(root, "node_modules", "azurite", "dist", "src", "azurite.js"));
        if (useAzurite)
        {
            azurite = new AzuriteFixture();
            await azurite.StartAsync();
            environment["FuncMap__Storage__ConnectionString"] = azurite.ConnectionString;
            environment["FuncMap__Storage__TableName"] = AzuriteFixture.UniqueTableName("crash");
            environment["FuncMap__Storage__LeaseTableName"] = AzuriteFixture.UniqueTableName("crashlease");
            environment["FuncMap__Storage__QueueName"] = AzuriteFixture.UniqueQueueName("crash");
            environment["FuncMap__Storage__PoisonQueueName"] = AzuriteFixture.UniqueQueueName("crash-poison");
            environment["FuncMap__Storage__SnapshotInterval"] = "00:00:01";
            // A restart after kill -9 watches its own unreleased lease row for a lease duration before it reclaims it.
            environment["FuncMap__Storage__LeaseDuration"] = "00:00:06";
            environment["FuncMap__Storage__LeaseSafetyMargin"] = "00:00:02";
        }
        else
        {
            environment["FuncMap__Storage__Enabled"] = "false";
        }

        var keys = Enumerable.Range(0, options.Keys).Select(static i => "crash:" + i.ToString("D4", CultureInfo.InvariantCulture)).ToArray();
        var ledger = new Ledger(keys);
        var result = new CrashResult { DataDirectory = data, Storage = useAzurite ? "Azurite (when registered)" : "off" };
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = options.Writers * 2, PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = TimeSpan.FromSeconds(5) };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
        using var host = new HostProcess(dll, environment, Path.Combine(data, "host.log"));
        var random = new Random(options.Seed);
        var clock = Stopwatch.StartNew();
        output.WriteLine($"crash harness ({options.Durability} mode): {options.Kills} kills over ~{options.Seconds:0} s, {options.Writers} writers, {options.Keys} keys, seed {options.Seed}, data {data}, storage {result.Storage}");

        try
        {
            var share = options.Seconds / options.Kills;
            for (var cycle = 0; ; cycle++)
            {
                host.Start();
                if (cycle < options.Kills && random.NextDouble() < 0.15)
                {
                    // Now and then, kill it while it starts (replaying the journal, loading the snapshot).
                    await Task.Delay(TimeSpan.FromMilliseconds(random.Next(50, 400)));
                    host.Kill();
                    result.Kills++;
                    result.KillsDuringStartup++;
                    host.Start();
                }

                await host.WaitReadyAsync(http, ReadyDeadline);
                await CheckRangesAsync(http, host.BaseAddress, keys, ledger, result, exact: false);
                await ResendUnknownAsync(http, host.BaseAddress, ledger, options.Writers);
                await CheckRangesAsync(http, host.BaseAddress, keys, ledger, result, exact: true);
                if (result.Kills >= options.Kills)
                {
                    break;
                }

                var runFor = TimeSpan.FromSeconds(share * (0.2 + (1.6 * random.NextDouble())));
                using var stop = new CancellationTokenSource();
                var writers = Enumerable.Range(0, options.Writers)
                    .Select(w => WriteLoopAsync(http, host.BaseAddress, keys, ledger, new Random(HashCode.Combine(options.Seed, cycle, w)), $"c{cycle}w{w}", stop.Token))
                    .ToArray();
                await Task.Delay(runFor);
                host.Kill(); // in the middle of the writes: whatever is in flight has an unknown outcome
                result.Kills++;
                await stop.CancelAsync();
                await Task.WhenAll(writers);
                var totals = ledger.Totals();
                output.WriteLine($"  kill {result.Kills,3} after {runFor.TotalSeconds,5:0.0} s: {totals.Writes,8:N0} writes so far, {ledger.UnknownWrites().Length,3} of unknown outcome");
            }

            // A graceful stop and start must keep everything too.
            await host.StopAsync();
            host.Start();
            await host.WaitReadyAsync(http, ReadyDeadline);
            await CheckRangesAsync(http, host.BaseAddress, keys, ledger, result, exact: true);
            await host.StopAsync();
        }
        catch (Exception ex)
        {
            result.Error = ex.Message;
        }
        finally
        {
            if (azurite is not null)
            {
                await azurite.DisposeAsync();
            }
        }

        Finish(result, ledger, clock.Elapsed, output, result.Summary, ownsData, data, "host log: " + Path.Combine(data, "host.log"));
        return result;
    }

    /// <summary>
    /// Ends a run (both modes): the ledger's totals into <paramref name="result"/>, the summary written, and the data
    /// directory deleted after a pass when the harness made it (kept with <paramref name="failedNote"/> otherwise).
    /// </summary>
    internal static void Finish(CrashResult result, Ledger ledger, TimeSpan elapsed, TextWriter output, Func<string> summary, bool ownsData, string data, string failedNote)
    {
        var t = ledger.Totals();
        result.Writes = t.Writes;
        result.Operations = t.Operations;
        result.AcknowledgedFirstTime = t.AcknowledgedFirstTime;
        result.Unknown = t.EverUnknown;
        result.Batches = t.Batches;
        result.Waits = t.Waits;
        result.VersionsReused += ledger.VersionsReused;
        result.ConflictingVersions = ledger.ConflictingVersions;
        result.AnswersInconsistent = ledger.AnswersInconsistent;
        result.Elapsed = elapsed;
        output.WriteLine(summary());
        if (result.Passed && ownsData)
        {
            Directory.Delete(data, recursive: true);
        }
        else if (!result.Passed)
        {
            output.WriteLine(failedNote);
        }
    }

    /// <summary>
    /// Each writer keeps one write in flight; a 503 is retried with the same id (what a client does). With
    /// <paramref name="refusals"/> (the disk-fault mode, where the host stays up while its journal cannot write), a
    /// first answer of 503 <c>journal.unavailable</c> that says the write is not applied is recorded as refused and
    /// never re-sent; one that leaves the outcome open, or comes after an earlier open one, makes the write unknown
    /// (re-sent once the journal works again), and the writer goes on with its next write.
    /// </summary>
    internal static async Task WriteLoopAsync(HttpClient http, Uri baseAddress, string[] keys, Ledger ledger, Random random, string prefix, CancellationToken stop, bool refusals = false)
    {
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var roll = random.NextDouble();
            var kind = roll < 0.70 ? WriteKind.Add : roll < 0.85 ? WriteKind.AddWait : WriteKind.Batch;
            var writeKeys = kind == WriteKind.Batch
                ? random.GetItems(keys, 8).Distinct().Take(4).ToArray()
                : [keys[random.Next(keys.Length)]];
            var write = new Write($"{prefix}-{n.ToString(CultureInfo.InvariantCulture)}", kind, writeKeys);
            ledger.Sent(write);
            var firstTime = true;
            while (true)
            {
                var outcome = await SendAsync(http, baseAddress, write, ledger, CancellationToken.None, firstAttempt: firstTime);
                if (outcome == Outcome.Acknowledged)
                {
                    ledger.Acknowledged(write, firstTime);
                    break;
                }

                if (outcome == Outcome.Unknown)
                {
                    // The host is gone (or stuck): this writer waits for the restart. So the writes of unknown
                    // outcome are the ones in flight at the kill, at most one per writer, far inside the
                    // deduplication window of 64 operation ids per counter that the re-send relies on.
                    ledger.Unknown(write);
                    return;
                }

                if (refusals && outcome is Outcome.Refused or Outcome.MaybeApplied)
                {
                    if (outcome == Outcome.Refused && firstTime)
                    {
                        ledger.Refused(write);
                    }
                    else
                    {
                        ledger.Unknown(write);
                    }

                    // Paced like a client honouring Retry-After would be, without waiting the whole 5 s.
                    await Task.Delay(50, CancellationToken.None);
                    break;
                }

                // Busy (503 with the host alive): the same write again, as a client honouring Retry-After would.
                firstTime = false;
                if (stop.IsCancellationRequested)
                {
                    ledger.Unknown(write);
                    return;
                }

                await Task.Delay(20, CancellationToken.None);
            }
        }
    }

    internal enum Outcome
    {
        Acknowledged,

        /// <summary>503 for another reason than the journal (owner busy, lease lapsed, stopping): retried with the same id.</summary>
        Busy,

        /// <summary>503 <c>journal.unavailable</c> for a single write, saying it is not applied.</summary>
        Refused,

        /// <summary>503 <c>journal.unavailable</c> with the outcome open ("may still take effect", or a batch).</summary>
        MaybeApplied,

        Unknown,
    }

    /// <summary>
    /// Sends one write. Only a first attempt's wait answer is recorded as the version this write got: a
    /// re-sent write that was applied before answers as a duplicate, with the counter as it is now.
    /// </summary>
    internal static async Task<Outcome> SendAsync(HttpClient http, Uri baseAddress, Write write, Ledger ledger, CancellationToken cancellationToken, bool firstAttempt = false)
    {
        using var request = write.Kind == WriteKind.Batch
            ? new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, "api/counters/batch"))
            {
                Content = JsonContent.Create(new { batchId = write.Id, items = write.Keys.Select(static k => new { key = k, delta = 1 }) }),
            }
            : new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, $"api/counters/{write.Keys[0]}/add" + (write.Kind == WriteKind.AddWait ? "?wait=true" : "")))
            {
                Content = new StringContent("""{"delta": 1}""", Encoding.UTF8, "application/json"),
            };
        if (write.Kind != WriteKind.Batch)
        {
            request.Headers.Add("Idempotency-Key", write.Id);
        }

        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                if (write.Kind == WriteKind.AddWait && firstAttempt)
                {
                    var counter = await response.Content.ReadFromJsonAsync<CounterDto>(Json, cancellationToken);
                    ledger.Answered(write.Keys[0], counter!.Value, counter.Version);
                    ledger.Observed(write.Keys[0], counter.Version, counter.Value);
                }

                return Outcome.Acknowledged;
            }

            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                var problem = ReadProblem(await response.Content.ReadAsStringAsync(cancellationToken));
                return problem?.Rule != "journal.unavailable" ? Outcome.Busy
                    : Ledger.IsRefusal(write.Kind, problem.Rule, problem.Detail) ? Outcome.Refused
                    : Outcome.MaybeApplied;
            }

            throw new InvalidOperationException($"{write.Kind} {write.Id} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            // Connection refused or reset, or timed out: the write may or may not have been applied.
            return Outcome.Unknown;
        }
    }

    /// <summary>Re-sends every write of unknown outcome with its own id until each is acknowledged.</summary>
    internal static async Task ResendUnknownAsync(HttpClient http, Uri baseAddress, Ledger ledger, int parallelism)
    {
        for (var attempt = 0; ledger.UnknownWrites() is { Length: > 0 } pending; attempt++)
        {
            if (attempt == 100)
            {
                throw new InvalidOperationException($"{pending.Length} writes still not acknowledged after 100 re-sends.");
            }

            if (attempt > 0)
            {
                // Still refused (503): paced, as a client honouring Retry-After would, not in a tight loop.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 100 * attempt)));
            }

            await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (write, ct) =>
            {
                if (await SendAsync(http, baseAddress, write, ledger, ct) == Outcome.Acknowledged)
                {
                    ledger.Acknowledged(write, firstTime: false);
                }
            });
        }
    }

    /// <summary>
    /// Reads every key and checks acknowledged ≤ value ≤ acknowledged + unknown (exact: value = acknowledged,
    /// nothing unknown left), value = version (only adds of 1) and version ≥ every version a wait answered.
    /// </summary>
    internal static async Task CheckRangesAsync(HttpClient http, Uri baseAddress, string[] keys, Ledger ledger, CrashResult result, bool exact)
    {
        var values = new Dictionary<string, CounterDto>();
        string? token = null;
        do
        {
            var uri = "api/counters?prefix=crash:&pageSize=1000" + (token is null ? "" : "&continuationToken=" + Uri.EscapeDataString(token));
            var page = await http.GetFromJsonAsync<CounterPageDto>(new Uri(baseAddress, uri), Json);
            foreach (var item in page!.Items)
            {
                values[item.Key] = item;
            }

            token = page.ContinuationToken;
        }
        while (token is not null);

        long lost = 0, duplicated = 0, appliedUnknown = 0, inconsistent = 0;
        foreach (var key in keys)
        {
            var (acknowledged, unknown) = ledger.Of(key);
            var (value, version) = values.TryGetValue(key, out var counter) ? (counter.Value, counter.Version) : (0L, 0L);
            if (counter is not null)
            {
                ledger.Observed(key, version, value);
            }

            lost += Math.Max(0, acknowledged - value);
            duplicated += Math.Max(0, value - (acknowledged + unknown));
            appliedUnknown += Math.Clamp(value - acknowledged, 0, unknown);
            if (value != version || version < ledger.MaxAnsweredVersion(key))
            {
                inconsistent++;
            }
        }

        result.Checks++;
        result.Lost += lost;
        result.Duplicated += duplicated;
        result.VersionsReused += inconsistent;
        if (!exact)
        {
            result.UnknownFoundApplied += appliedUnknown;
        }

        if (lost > 0 || duplicated > 0 || inconsistent > 0)
        {
            throw new InvalidOperationException($"Check {result.Checks} failed: {lost} acknowledged operations lost, {duplicated} counted twice or never sent, {inconsistent} keys with inconsistent versions.");
        }
    }

    internal static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FuncMap.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("No repository root (a folder with FuncMap.sln) above " + AppContext.BaseDirectory);
    }

    internal sealed record CounterDto(string Key, long Value, long Version);

    internal sealed record ProblemDto(string? Rule, string? Detail);

    private static ProblemDto? ReadProblem(string body)
    {
        try
        {
            return JsonSerializer.Deserialize<ProblemDto>(body, Json);
        }
        catch (JsonException)
        {
            return null; // not a ProblemDetails body: treated as any other 503
        }
    }

    internal sealed record CounterPageDto(List<CounterDto> Items, string? ContinuationToken);
}

/// <summary>What a crash run found.</summary>
public sealed class CrashResult
{
    public int Kills { get; set; }

    public int KillsDuringStartup { get; set; }

    public long Writes { get; set; }

    public long Operations { get; set; }

    public long Batches { get; set; }

    public long Waits { get; set; }

    public long AcknowledgedFirstTime { get; set; }

    /// <summary>Writes whose outcome was unknown at least once (then re-sent with the same id).</summary>
    public long Unknown { get; set; }

    /// <summary>Per-key operations of unknown outcome that a restart showed applied.</summary>
    public long UnknownFoundApplied { get; set; }

    public long Lost { get; set; }

    public long Duplicated { get; set; }

    public long VersionsReused { get; set; }

    public long AnswersInconsistent { get; set; }

    public int Checks { get; set; }

    /// <summary>Two-host mode: owner changes done, by how the old owner left.</summary>
    public int Switches { get; set; }

    public int SwitchesByStop { get; set; }

    public int SwitchesByCrash { get; set; }

    public int SwitchesByPause { get; set; }

    /// <summary>Two-host mode: starts of the other host refused while the owner had crashed (lease live or unclean).</summary>
    public int RefusedTakeovers { get; set; }

    /// <summary>Two-host mode: starts on a copy of the owner's data directory, refused as a copy (every fourth switch).</summary>
    public int RefusedCopies { get; set; }

    /// <summary>Two-host mode: times the Counters table was deleted under load (every fourth switch) and rewritten by the owner.</summary>
    public int TablesDeleted { get; set; }

    /// <summary>Two-host mode: writes a paused owner acknowledged after it woke up behind a newer owner (must stay 0).</summary>
    public long StaleAcknowledged { get; set; }

    /// <summary>Versions of a key seen with two different values, in any read or answer (must stay 0).</summary>
    public long ConflictingVersions { get; set; }

    /// <summary>Disk-fault mode: faults injected (the data directory's disk filled), and of them recovered without a restart.</summary>
    public int DiskFaults { get; set; }

    public int FaultsRecovered { get; set; }

    /// <summary>Disk-fault mode: faults during which the host refused writes (the others ended before the journal needed the space).</summary>
    public int FaultsRefusing { get; set; }

    /// <summary>Disk-fault mode: single writes refused with 503 <c>journal.unavailable</c> as not applied (never re-sent).</summary>
    public long RefusedWrites { get; set; }

    /// <summary>Disk-fault mode: reads while the writes ran, and of them the ones that showed more than sent minus refused (must stay 0).</summary>
    public long ReadsUnderLoad { get; set; }

    public long RefusedServed { get; set; }

    public string? Error { get; set; }

    public string DataDirectory { get; set; } = "";

    public string Storage { get; set; } = "";

    public TimeSpan Elapsed { get; set; }

    public bool Passed => Error is null && Lost == 0 && Duplicated == 0 && VersionsReused == 0 && AnswersInconsistent == 0
        && StaleAcknowledged == 0 && ConflictingVersions == 0 && RefusedServed == 0 && (Kills > 0 || Switches > 0 || DiskFaults > 0) && AcknowledgedFirstTime > 0;

    public string DiskFaultSummary() =>
        $"""
        disk faults: {DiskFaults} ({FaultsRefusing} of them refused writes; {FaultsRecovered} recovered without a restart, {Kills} with kill -9 and restart); {Checks} checks, {Elapsed.TotalSeconds:0} s
        writes: {Writes:N0} ({Operations:N0} counter operations; {Waits:N0} with wait, {Batches:N0} batches); acknowledged at once: {AcknowledgedFirstTime:N0}; refused (503 journal.unavailable, not applied): {RefusedWrites:N0}; unknown outcome: {Unknown:N0} (re-sent with the same id)
        reads under load: {ReadsUnderLoad:N0}; refused writes served: {RefusedServed}; lost: {Lost}; refused or duplicated found applied: {Duplicated}; versions with two values: {ConflictingVersions}; versions reused or inconsistent: {VersionsReused}
        {(Passed ? "PASSED" : "FAILED" + (Error is null ? "" : ": " + Error))}
        """;

    public string ToDiskFaultMarkdown(CrashOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return $"""
            Last run: {DateTime.UtcNow:yyyy-MM-dd}, `sudo bash bench/crash/run.sh --disk-faults {options.DiskFaults} --seed {options.Seed} --writers {options.Writers} --keys {options.Keys}` ({options.Writers} writers, {options.Keys} keys, {Environment.ProcessorCount} cores; the data directory on a 16 MiB tmpfs, journal segments of 64 KiB, Azurite for snapshots and the lease). Each fault: the disk filled under load (completely, or leaving up to 64 KiB), writes go on into it for 1–3 s, then the space is freed (the journal recovers without a restart) or the host is killed with SIGKILL and restarted; after each, unknown writes are re-sent with their ids and every key is checked exactly. A refused write is never re-sent: it must never be read, nor found after a recovery or restart.

            | faults (that refused writes; recovered / kill -9) | writes (counter ops) | acknowledged at once | refused | unknown outcome | reads under load | refused served | lost | refused or duplicated applied | versions with two values | result |
            |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
            | {DiskFaults} ({FaultsRefusing}; {FaultsRecovered} / {Kills}) | {Writes:N0} ({Operations:N0}) | {AcknowledgedFirstTime:N0} | {RefusedWrites:N0} | {Unknown:N0} | {ReadsUnderLoad:N0} | {RefusedServed} | {Lost} | {Duplicated} | {ConflictingVersions} | {(Passed ? "passed" : "FAILED")} |
            """;
    }

    public string TwoHostSummary() =>
        $"""
        switches: {Switches} (stop {SwitchesByStop}, crash {SwitchesByCrash}, pause {SwitchesByPause}); takeovers refused while the owner had crashed: {RefusedTakeovers}; copies of the owner's directory refused: {RefusedCopies}; Counters table deleted under load: {TablesDeleted}; {Checks} checks, {Elapsed.TotalSeconds:0} s
        writes: {Writes:N0} ({Operations:N0} counter operations; {Waits:N0} with wait, {Batches:N0} batches); acknowledged at once: {AcknowledgedFirstTime:N0}; unknown outcome: {Unknown:N0} (re-sent with the same id)
        lost: {Lost}; duplicated: {Duplicated}; versions with two values: {ConflictingVersions}; acknowledged by a stale owner: {StaleAcknowledged}; versions reused or inconsistent: {VersionsReused}
        {(Passed ? "PASSED" : "FAILED" + (Error is null ? "" : ": " + Error))}
        """;

    public string ToTwoHostMarkdown(CrashOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return $"""
            Last run: {DateTime.UtcNow:yyyy-MM-dd}, `bash bench/crash/run.sh --switches {options.Switches} --seed {options.Seed} --writers {options.Writers} --keys {options.Keys}` (two hosts with their own data directories on one Azurite, lease 6 s; {options.Writers} writers, {options.Keys} keys, {Environment.ProcessorCount} cores). Each switch: the owner is stopped (SIGTERM), crashed (SIGKILL: the other host's start is refused, the owner recovers from its journal and then stops) or paused (SIGSTOP after its writes were snapshotted; the other host takes over with `--allow-unclean-takeover`; writes sent to the paused owner must not be acknowledged when it wakes). Every fourth switch, under load before it: a copy of the owner's data directory is started beside it (it must refuse to start, naming the copy), or the `Counters` table is deleted behind the owner's back (it must re-create and rewrite it; the next owner restores from it).

            | switches (stop / crash / pause) | copies refused | table deleted | writes (counter ops) | acknowledged at once | unknown outcome | lost | duplicated | versions with two values | acknowledged by a stale owner | result |
            |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
            | {Switches} ({SwitchesByStop} / {SwitchesByCrash} / {SwitchesByPause}) | {RefusedCopies} | {TablesDeleted} | {Writes:N0} ({Operations:N0}) | {AcknowledgedFirstTime:N0} | {Unknown:N0} | {Lost} | {Duplicated} | {ConflictingVersions} | {StaleAcknowledged} | {(Passed ? "passed" : "FAILED")} |
            """;
    }

    public string Summary() =>
        $"""
        kills: {Kills} ({KillsDuringStartup} during startup), {Checks} checks, {Elapsed.TotalSeconds:0} s
        writes: {Writes:N0} ({Operations:N0} counter operations; {Waits:N0} with wait, {Batches:N0} batches)
        acknowledged at once: {AcknowledgedFirstTime:N0}; unknown outcome: {Unknown:N0} (re-sent with the same id; {UnknownFoundApplied:N0} operations of them had been applied before the crash)
        lost: {Lost} {(Lost == 0 ? "(= 0)" : "(!)")}; duplicated: {Duplicated} {(Duplicated == 0 ? "(= 0)" : "(!)")}; versions reused or inconsistent: {VersionsReused} / wait answers with value ≠ version: {AnswersInconsistent}
        {(Passed ? "PASSED" : "FAILED" + (Error is null ? "" : ": " + Error))}
        """;

    public string ToMarkdown(CrashOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return $"""
            Last run: {DateTime.UtcNow:yyyy-MM-dd}, `bash bench/crash/run.sh --kills {options.Kills} --seconds {options.Seconds:0} --seed {options.Seed}` ({options.Writers} writers, {options.Keys} keys, {Environment.ProcessorCount} cores, journal on local disk, storage {Storage}).

            | kills (during startup) | writes (counter ops) | acknowledged at once | unknown outcome (found applied) | lost | duplicated | result |
            |---:|---:|---:|---:|---:|---:|---|
            | {Kills} ({KillsDuringStartup}) | {Writes:N0} ({Operations:N0}) | {AcknowledgedFirstTime:N0} | {Unknown:N0} ({UnknownFoundApplied:N0}) | {Lost} | {Duplicated} | {(Passed ? "passed" : "FAILED")} |
            """;
    }
}
