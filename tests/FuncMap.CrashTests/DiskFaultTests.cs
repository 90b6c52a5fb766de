using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FuncMap.Crash;

namespace FuncMap.CrashTests;

/// <summary>
/// Issue 18's reproductions with a real host process whose data directory is a small tmpfs (root on Linux; otherwise
/// the tests say why they did not run): the disk filled under a running host, then freed; and a read-only data
/// directory at start. A write answered anything but success is never served and never survives a restart. And a
/// journal segment deleted that the snapshot table does not cover stops the start (any user, no mount needed).
/// </summary>
public sealed class DiskFaultTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(90);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "funcmap-disk-fault", Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private SharedStorage? _storage;
    private string? _mount;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_root);
        _storage = await SharedStorage.StartAsync();
    }

    public void Dispose() => _http.Dispose();

    public async Task DisposeAsync()
    {
        if (_mount is not null)
        {
            await RunAsync("umount", "-l", _mount);
        }

        await _storage!.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [RootOnLinuxFact]
    public async Task DiskFull_WritesRefused503NeverServed_FreedSpaceRecoversWithoutRestart_KillNineKeepsExactlyTheAcknowledged()
    {
        var data = await MountAsync(sizeMiB: 16);
        // No periodic snapshot: its journal truncation would free space, and the journal rightly recover on it.
        using var host = Host(data, ("FuncMap__Storage__SnapshotInterval", "01:00:00"));
        host.Start();
        await host.WaitReadyAsync(_http, Ready);

        // Acknowledged writes first, then the disk filled behind the host's back.
        long acknowledged = 0;
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await AddAsync(host, "df:k", 1)).Status);
            acknowledged++;
        }

        var filler = Fill(data);

        // Writes go on until the journal needs space it cannot get; from then on every write is refused clearly.
        (HttpStatusCode Status, JsonElement Body, string? RetryAfter) refusal = default;
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "the full disk never refused a write");
            var answer = await AddAsync(host, "df:k", 1);
            if (answer.Status == HttpStatusCode.OK)
            {
                acknowledged++;
                continue;
            }

            refusal = answer;
            break;
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refusal.Status);
        Assert.Equal("journal.unavailable", refusal.Body.GetProperty("rule").GetString());
        Assert.Contains("ENOSPC", refusal.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.NotNull(refusal.RetryAfter);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await AddAsync(host, "df:k", 100)).Status);
        }

        // Reads keep working and show only what was acknowledged; readiness names the cause.
        Assert.Equal((acknowledged, acknowledged), await GetAsync(host, "df:k"));
        using (var ready = await _http.GetAsync(new Uri(host.BaseAddress, "readyz")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Contains("ENOSPC", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Space freed: the journal recovers by itself (a fresh segment), no restart.
        File.Delete(filler);
        deadline.Restart();
        while ((await AddAsync(host, "df:k", 1)).Status != HttpStatusCode.OK)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "the journal never recovered after the space was freed");
            await Task.Delay(200); // polling a recovery that runs on the host's own schedule
        }

        acknowledged++;
        Assert.Equal((acknowledged, acknowledged), await GetAsync(host, "df:k"));

        // kill -9: the restart replays exactly the acknowledged writes, and their version numbers.
        host.Kill();
        host.Start();
        await host.WaitReadyAsync(_http, Ready);
        Assert.Equal((acknowledged, acknowledged), await GetAsync(host, "df:k"));
        Assert.Equal((HttpStatusCode.OK, acknowledged + 1, acknowledged + 1), await ValueAsync(host, "df:k", 1));
        await host.StopAsync();
    }

    [RootOnLinuxFact]
    public async Task DiskFilledFourTimesUnderLoad_RefusedWritesNeverServedNorRevived_AcknowledgedExact()
    {
        // The harness's disk-fault mode in short (bench/crash/run.sh --disk-faults runs it long); seed 7 draws a
        // completely full disk, a kill -9 on the full disk and recoveries without a restart.
        using var writer = new StringWriter();
        var result = await DiskFaultHarness.RunAsync(new CrashOptions { DiskFaults = 4, Writers = 16, Keys = 128, Seed = 7, HostDll = CrashTests.HostDll() }, writer);
        Assert.True(result.Passed, result.DiskFaultSummary() + Environment.NewLine + writer);
        Assert.Equal((4, 0L, 0L, 0L, 0L), (result.DiskFaults, result.Lost, result.Duplicated, result.RefusedServed, result.ConflictingVersions));
        Assert.True(result.RefusedWrites > 0 && result.FaultsRefusing > 0, result.DiskFaultSummary());
        Assert.True(result.Kills > 0 && result.FaultsRecovered > 0, result.DiskFaultSummary());
    }

    [RootOnLinuxFact]
    public async Task ReadOnlyDataDirectory_StartFails_NamingTheReadOnlyFileSystem_NotAnotherProcess()
    {
        var data = await MountAsync(sizeMiB: 8);
        using (var first = Host(data))
        {
            // A first start lays out the data directory (owner id, journal), then stops cleanly.
            first.Start();
            await first.WaitReadyAsync(_http, Ready);
            await first.StopAsync();
        }

        Assert.Equal(0, await RunAsync("mount", "-o", "remount,ro", _mount!));
        using var host = Host(data);
        host.Start();

        Assert.Equal(1, await host.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var log = await File.ReadAllTextAsync(host.LogPath);
        var start = log[log.LastIndexOf("---- start", StringComparison.Ordinal)..];
        Assert.Contains("EROFS", start, StringComparison.Ordinal);
        Assert.DoesNotContain("in use by another process", start, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", start, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OldestNeededSegmentDeleted_StartRefusedNamingTheGap_AcceptDataLossStartsFromTheTable()
    {
        // Issue 18, item 5, "the oldest segment still needed": a snapshot records from which segment on the journal is
        // needed, then storage goes away (no snapshot covers what follows), gap:b is acknowledged, kill -9, and the
        // segments up to gap:b's are deleted. What is left chains (the oldest present continues a deleted one, as after
        // any truncation); only the recorded requirement shows that the deleted ones were needed.
        var data = Path.Combine(_root, "data");
        Directory.CreateDirectory(data);
        var journal = Path.Combine(data, "journal");
        long holdingB;
        using (var host = Host(data))
        {
            host.Start();
            await host.WaitReadyAsync(_http, Ready);
            Assert.Equal(HttpStatusCode.OK, (await AddAsync(host, "gap:a", 1)).Status);
            var until = DateTime.UtcNow + Ready;
            while (!(await _storage!.ReadRowsAsync()).ContainsKey("gap:a") || await RequirementAsync() is null)
            {
                Assert.True(DateTime.UtcNow < until, "no snapshot persisted gap:a with a replay requirement");
                await Task.Delay(TimeSpan.FromMilliseconds(200)); // another process's table: nothing to wait on but the rows
            }

            await _storage.Azurite.StopAsync();
            Assert.Equal(HttpStatusCode.OK, (await AddAsync(host, "gap:b", 1)).Status);
            holdingB = Segments(journal).Max();
            while (Segments(journal).Max() == holdingB)
            {
                // The next (failing) snapshot run's checkpoint moves the journal to a new segment.
                Assert.True(DateTime.UtcNow < until, "the journal never moved to a next segment");
                await Task.Delay(TimeSpan.FromMilliseconds(100)); // another process's files: nothing else to wait on
            }

            host.Kill();
            await _storage.Azurite.StartAsync();
        }

        var required = (await RequirementAsync())!;
        Assert.Equal(Guid.Parse(await File.ReadAllTextAsync(Path.Combine(journal, "journal.id"))), required.GetGuid("JournalId"));
        var replayFrom = required.GetInt64("ReplayFrom")!.Value;
        Assert.InRange(replayFrom, 1, holdingB);
        foreach (var sequence in Segments(journal).Where(s => s <= holdingB).ToList())
        {
            File.Delete(Path.Combine(journal, $"journal-{sequence:D20}.log"));
        }

        using (var refused = Host(data))
        {
            refused.Start();
            Assert.Equal(1, await refused.WaitForExitAsync(Ready));
            var log = await File.ReadAllTextAsync(refused.LogPath);
            var start = log[log.LastIndexOf("---- start", StringComparison.Ordinal)..];
            Assert.Contains($"segment {holdingB} is missing", start, StringComparison.Ordinal);
            Assert.Contains($"the snapshot needs the journal from segment {replayFrom} on", start, StringComparison.Ordinal);
            Assert.Contains($"journal-{holdingB:D20}.log", start, StringComparison.Ordinal);
        }

        // Accepting the loss starts from the table (gap:a), without what the deleted segments held (gap:b).
        using var accepted = Host(data, ("FuncMap__Journal__AcceptDataLoss", "true"));
        accepted.Start();
        await accepted.WaitReadyAsync(_http, Ready);
        Assert.Equal((1, 1), await GetAsync(accepted, "gap:a"));
        using var lost = await _http.GetAsync(new Uri(accepted.BaseAddress, "api/counters/gap:b"));
        Assert.Equal(HttpStatusCode.NotFound, lost.StatusCode);
    }

    private static IEnumerable<long> Segments(string journal) =>
        Directory.EnumerateFiles(journal, "journal-*.log").Select(static f => long.Parse(Path.GetFileNameWithoutExtension(f)["journal-".Length..], System.Globalization.CultureInfo.InvariantCulture));

    private async Task<Azure.Data.Tables.TableEntity?> RequirementAsync()
    {
        var response = await _storage!.Leases.GetEntityIfExistsAsync<Azure.Data.Tables.TableEntity>("lease", "journal");
        return response.HasValue ? response.Value : null;
    }

    private async Task<string> MountAsync(int sizeMiB)
    {
        var mount = Path.Combine(_root, "mnt");
        Directory.CreateDirectory(mount);
        Assert.Equal(0, await RunAsync("mount", "-t", "tmpfs", "-o", $"size={sizeMiB}m", "tmpfs", mount));
        _mount = mount;
        var data = Path.Combine(mount, "data");
        Directory.CreateDirectory(data);
        return data;
    }

    /// <summary>Writes a file until the file system is full; returns its path.</summary>
    private static string Fill(string directory)
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

        return path;
    }

    private HostProcess Host(string data, params (string Name, string Value)[] settings)
    {
        var environment = _storage!.Environment(data, leaseSeconds: 15, TimeSpan.FromSeconds(1));
        foreach (var (name, value) in settings)
        {
            environment[name] = value;
        }

        // Small segments: the journal needs new space after a few hundred writes, not after 64 MiB.
        environment["FuncMap__Journal__SegmentMaxBytes"] = "65536";
        return new HostProcess(CrashTests.HostDll(), environment, Path.Combine(_root, "host.log"));
    }

    private async Task<(HttpStatusCode Status, JsonElement Body, string? RetryAfter)> AddAsync(HostProcess host, string key, long delta)
    {
        using var response = await _http.PostAsync(new Uri(host.BaseAddress, $"api/counters/{key}/add?wait=true"), new StringContent($$"""{"delta": {{delta}}}""", Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(Json);
        return (response.StatusCode, body, response.Headers.TryGetValues("Retry-After", out var values) ? values.Single() : null);
    }

    private async Task<(HttpStatusCode Status, long Value, long Version)> ValueAsync(HostProcess host, string key, long delta)
    {
        var (status, body, _) = await AddAsync(host, key, delta);
        return status == HttpStatusCode.OK ? (status, body.GetProperty("value").GetInt64(), body.GetProperty("version").GetInt64()) : (status, 0, 0);
    }

    private async Task<(long Value, long Version)> GetAsync(HostProcess host, string key)
    {
        var counter = await _http.GetFromJsonAsync<JsonElement>(new Uri(host.BaseAddress, "api/counters/" + key), Json);
        return (counter.GetProperty("value").GetInt64(), counter.GetProperty("version").GetInt64());
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

/// <summary>A fact that needs root on Linux (it mounts a tmpfs); elsewhere it is skipped, saying so.</summary>
public sealed class RootOnLinuxFactAttribute : FactAttribute
{
    public RootOnLinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            Skip = "needs root on Linux: it mounts a small tmpfs as the host's data directory";
        }
    }
}
