using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FuncMap.Crash;

namespace FuncMap.CrashTests;

/// <summary>
/// Issue 12's scenario with real host processes on one Azurite (each with its own data directory): a host paused
/// with SIGSTOP past its lease, a takeover, and the paused host waking up. Lease 6 s (margin 2 s) to keep it short.
/// </summary>
public sealed class LeaseScenarioTests : IAsyncLifetime, IDisposable
{
    private const double LeaseSeconds = 6;
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(90);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "funcmap-lease-scenario", Guid.NewGuid().ToString("N"));
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private SharedStorage? _storage;

    public async Task InitializeAsync() => _storage = await SharedStorage.StartAsync();

    public void Dispose() => _http.Dispose();

    public async Task DisposeAsync()
    {
        await _storage!.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task PausedOwner_WakesAfterTakeover_ItsWriteRefused_NothingAcknowledgedLost_NoVersionWithTwoValues()
    {
        using var a = Host("a", TimeSpan.FromMilliseconds(300));
        using var b = Host("b", TimeSpan.FromMilliseconds(300));

        // 1. A owns the lease; +1 is acknowledged and snapshotted.
        a.Start();
        await a.WaitReadyAsync(_http, Ready);
        Assert.Equal((HttpStatusCode.OK, 1L, 1L), await AddAsync(a, 1));
        await WaitRowAsync("sb:x", 1, 1, epoch: 1);

        // 2. A is paused past its lease. B refuses the unclean takeover without the switch, naming A; with it, B takes over.
        await a.PauseAsync();
        try
        {
            await _storage!.WaitLeaseExpiredAsync(TimeSpan.FromSeconds(30));
            b.Start();
            Assert.NotEqual(0, await b.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            var refusal = await File.ReadAllTextAsync(b.LogPath);
            Assert.Contains("did not stop cleanly", refusal, StringComparison.Ordinal);
            Assert.Contains("--allow-unclean-takeover", refusal, StringComparison.Ordinal);
            Assert.Contains((await _storage.ReadLeaseAsync())!.GetString("Owner")!, refusal, StringComparison.Ordinal);
            Assert.DoesNotContain("Unhandled exception", refusal, StringComparison.Ordinal);

            b.Start("--allow-unclean-takeover");
            await b.WaitReadyAsync(_http, Ready);

            // 3. B: +100 → 101, version 2, snapshotted under epoch 2.
            Assert.Equal((HttpStatusCode.OK, 101L, 2L), await AddAsync(b, 100));
            await WaitRowAsync("sb:x", 101, 2, epoch: 2);
        }
        finally
        {
            // 4. A wakes: its +5 is not acknowledged (its lease lapsed by its own clock), and it stops.
            await a.ResumeAsync();
        }

        var (status, _, _) = await AddAsync(a, 5);
        Assert.NotEqual(HttpStatusCode.OK, status);
        Assert.NotEqual(0, await a.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal((101L, 2L, 2L), (await _storage!.ReadRowsAsync())["sb:x"]);

        // 5. B stops cleanly; A starts on its own data directory, replays its journal, and serves B's history.
        await b.StopAsync();
        a.Start();
        await a.WaitReadyAsync(_http, Ready);
        Assert.Equal((101L, 2L), await GetAsync(a, "sb:x"));
        Assert.Equal((HttpStatusCode.OK, 106L, 3L), await AddAsync(a, 5));
        await a.StopAsync();
    }

    [Fact]
    public async Task OldOwnerRestarts_AfterUncleanTakeover_ItsJournalNeverOverridesTheNewerOwnersRow()
    {
        // A's snapshots never run: its +1 (version 1) lives only in its journal when it is killed.
        using var a = Host("a", TimeSpan.FromHours(1));
        using var b = Host("b", TimeSpan.FromMilliseconds(300));
        a.Start();
        await a.WaitReadyAsync(_http, Ready);
        Assert.Equal((HttpStatusCode.OK, 1L, 1L), await AddAsync(a, 1));
        a.Kill();

        // The operator accepts the loss of A's unsnapshotted writes: B starts from the table (empty) and writes version 1 = 100.
        await _storage!.WaitLeaseExpiredAsync(TimeSpan.FromSeconds(30));
        b.Start("--allow-unclean-takeover");
        await b.WaitReadyAsync(_http, Ready);
        Assert.Equal((HttpStatusCode.OK, 100L, 1L), await AddAsync(b, 100));
        await b.StopAsync();
        Assert.Equal((100L, 1L, 2L), (await _storage.ReadRowsAsync())["sb:x"]);

        // A comes back on its own directory: its journal's version 1 (epoch 1) must not override B's version 1 (epoch 2).
        a.Start();
        await a.WaitReadyAsync(_http, Ready);
        Assert.Equal((100L, 1L), await GetAsync(a, "sb:x"));
        await a.StopAsync();
        Assert.Equal((100L, 1L), ((await _storage.ReadRowsAsync())["sb:x"].Value, (await _storage.ReadRowsAsync())["sb:x"].Version));
    }

    [Fact]
    public async Task CopiedOwnerId_SecondProcessRefusedNamingItsDirectory_FirstKeepsServing_CleanAndKilledRestartsReclaim()
    {
        // Issue 19, item 1: host B's data directory gets a copy of A's owner-id file while A runs.
        using var a = Host("a", TimeSpan.FromMilliseconds(300));
        using var b = Host("b", TimeSpan.FromMilliseconds(300));
        a.Start();
        await a.WaitReadyAsync(_http, Ready);
        Assert.Equal((HttpStatusCode.OK, 1L, 1L), await AddAsync(a, 1));
        File.Copy(Path.Combine(_root, "a", "owner-id"), Path.Combine(_root, "b", "owner-id"));

        b.Start();
        Assert.Equal(1, await b.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var refusal = await File.ReadAllTextAsync(b.LogPath);
        Assert.Contains($"FuncMap will not start on data directory {Path.Combine(_root, "b")}: another running process has the same owner id", refusal, StringComparison.Ordinal);
        Assert.Contains("A copied data directory", refusal, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", refusal, StringComparison.Ordinal);

        // A is untouched: it still owns the lease, at epoch 1, and acknowledges writes.
        Assert.Equal((HttpStatusCode.OK, 2L, 2L), await AddAsync(a, 1));
        var lease = (await _storage!.ReadLeaseAsync())!;
        Assert.Equal((1L, false), (lease.GetInt64("Epoch")!.Value, lease.GetBoolean("Released")!.Value));

        // A clean restart (the stop released the lease) reclaims it, and so does a restart after kill -9 (once nobody
        // renewed the row for a lease duration); the journal holds what the kill cut off.
        await a.StopAsync();
        a.Start();
        await a.WaitReadyAsync(_http, Ready);
        Assert.Equal((HttpStatusCode.OK, 3L, 3L), await AddAsync(a, 1));
        a.Kill();
        a.Start();
        await a.WaitReadyAsync(_http, Ready);
        Assert.Equal((3L, 3L), await GetAsync(a, "sb:x"));
        Assert.Equal((HttpStatusCode.OK, 4L, 4L), await AddAsync(a, 1));
        Assert.Equal(1L, (await _storage.ReadLeaseAsync())!.GetInt64("Epoch"));
        await a.StopAsync();
    }

    [Fact]
    public async Task CopiedDirectoryBehindTheLeaseMark_AfterTheOwnerDied_RefusedAsUncleanTakeover_TheOriginalReclaimsEverything()
    {
        // Issue 19, item 1: a copy of A's whole data directory (a backup, a cloned VM) taken while A runs, started once
        // A is dead, must not pass for A: it lacks what A acknowledged after the copy.
        using var a = Host("a", TimeSpan.FromMilliseconds(300));
        using var b = Host("b", TimeSpan.FromMilliseconds(300));
        using var c = Host("c", TimeSpan.FromMilliseconds(300));
        a.Start();
        await a.WaitReadyAsync(_http, Ready);
        Assert.Equal((HttpStatusCode.OK, 1L, 1L), await AddAsync(a, 1));
        await LiveDirectoryCopy.CopyAsync(Path.Combine(_root, "a") + "/.", Path.Combine(_root, "b"));
        File.Copy(Path.Combine(_root, "b", "owner-id"), Path.Combine(_root, "c", "owner-id"));

        Assert.Equal((HttpStatusCode.OK, 2L, 2L), await AddAsync(a, 1));
        Assert.Equal((HttpStatusCode.OK, 3L, 3L), await AddAsync(a, 1));
        var acknowledged = DateTimeOffset.UtcNow;
        var deadline = acknowledged + Ready;
        while ((await _storage!.ReadLeaseAsync())?.GetDateTimeOffset("RenewedAt") is not { } renewed || renewed <= acknowledged)
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "the lease was not renewed after the last acknowledged write");
            await Task.Delay(100); // another process's renewal: the row is all there is to watch
        }

        var lease = (await _storage.ReadLeaseAsync())!;
        var mark = $"segment {lease.GetInt64("JournalSegment")} offset {lease.GetInt64("JournalOffset")}";
        a.Kill();

        // The whole copy: the same journal, but behind the mark. Only the owner id copied: another journal.
        b.Start();
        Assert.Equal(1, await b.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var refusal = await File.ReadAllTextAsync(b.LogPath);
        Assert.Contains($"FuncMap will not start on data directory {Path.Combine(_root, "b")}", refusal, StringComparison.Ordinal);
        Assert.Contains($"at {mark}, but this directory's journal reaches only segment", refusal, StringComparison.Ordinal);
        Assert.Contains("--allow-unclean-takeover", refusal, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", refusal, StringComparison.Ordinal);
        c.Start();
        Assert.Equal(1, await c.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("but this directory's journal is another one", await File.ReadAllTextAsync(c.LogPath), StringComparison.Ordinal);

        // The lease is untouched, and A's own directory reaches its mark: it reclaims, with every acknowledged write.
        Assert.Equal(lease.ETag, (await _storage.ReadLeaseAsync())!.ETag);
        a.Start();
        await a.WaitReadyAsync(_http, Ready);
        Assert.Equal((3L, 3L), await GetAsync(a, "sb:x"));
        Assert.Equal(1L, (await _storage.ReadLeaseAsync())!.GetInt64("Epoch"));
        await a.StopAsync();
    }

    private HostProcess Host(string name, TimeSpan snapshotInterval)
    {
        var data = Path.Combine(_root, name);
        Directory.CreateDirectory(data);
        return new HostProcess(CrashTests.HostDll(), _storage!.Environment(data, LeaseSeconds, snapshotInterval), Path.Combine(_root, name + ".log"));
    }

    private async Task<(HttpStatusCode Status, long Value, long Version)> AddAsync(HostProcess host, long delta)
    {
        try
        {
            using var response = await _http.PostAsync(new Uri(host.BaseAddress, "api/counters/sb:x/add?wait=true"), new StringContent($$"""{"delta": {{delta}}}""", Encoding.UTF8, "application/json"));
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return (response.StatusCode, 0, 0);
            }

            var counter = await response.Content.ReadFromJsonAsync<CounterDto>(Json);
            return (response.StatusCode, counter!.Value, counter.Version);
        }
        catch (HttpRequestException)
        {
            return (0, 0, 0); // the host went away: no acknowledgement either
        }
    }

    private async Task<(long Value, long Version)> GetAsync(HostProcess host, string key)
    {
        var counter = await _http.GetFromJsonAsync<CounterDto>(new Uri(host.BaseAddress, "api/counters/" + key), Json);
        return (counter!.Value, counter.Version);
    }

    private async Task WaitRowAsync(string key, long value, long version, long epoch)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (!((await _storage!.ReadRowsAsync()).TryGetValue(key, out var row) && row == (value, version, epoch)))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, $"row {key} never became ({value}, {version}, epoch {epoch})");
            await Task.Delay(100); // another process's snapshot: the table is all there is to watch
        }
    }

    private sealed record CounterDto(string Key, long Value, long Version);
}
