using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FuncMap.Journal;
using Microsoft.Extensions.DependencyInjection;

namespace FuncMap.Local.Tests;

/// <summary>
/// Durability of the local host: Journal mode by default, with the journal in the data directory; an
/// acknowledged write (202, 200 with wait, batch 202) is replayed after a restart, exactly, and an
/// Idempotency-Key still deduplicates after it. Every test owns its data directory.
/// </summary>
public sealed class DurabilityTests
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// Without storage (as this factory runs), the journal is the data directory's journal-no-storage/, never journal/: a
    /// host with storage on the same directory replays journal/ only, so what a host without storage counted never
    /// reaches a storage (issue 21, item 2: it used to, through the shared journal).
    /// </summary>
    [Fact]
    public async Task Default_IsJournalMode_WithTheJournalInTheDataDirectoryApartFromStorageHosts()
    {
        await using var factory = new LocalHostFactory();
        using var client = await factory.StartAsync();
        Assert.True(factory.Engine.IsJournaled);
        var journal = factory.Services.GetRequiredService<OperationJournal>();
        Assert.Equal(Path.Combine(factory.DataDirectory, JournalRegistration.NoStorageJournalDirectoryName), journal.DirectoryPath);
        Assert.True(File.Exists(Path.Combine(factory.DataDirectory, "journal-no-storage", "journal.lock")));
        Assert.False(Directory.Exists(Path.Combine(factory.DataDirectory, "journal")));
    }

    [Fact]
    public async Task JournalDirectory_WhenConfigured_WinsOverTheDataDirectory()
    {
        using var elsewhere = new TempDirectory();
        await using var factory = new LocalHostFactory(new Dictionary<string, string?> { ["FuncMap:Journal:Directory"] = elsewhere.Path });
        using var client = await factory.StartAsync();
        Assert.Equal(elsewhere.Path, factory.Services.GetRequiredService<OperationJournal>().DirectoryPath);
        Assert.False(Directory.Exists(Path.Combine(factory.DataDirectory, JournalRegistration.NoStorageJournalDirectoryName)));
    }

    [Fact]
    public async Task SnapshotMode_RegistersNoJournal_And202MeansInTheMailbox()
    {
        await using var factory = new LocalHostFactory(new Dictionary<string, string?> { ["FuncMap:Durability:Mode"] = "Snapshot" });
        using var client = await factory.StartAsync();
        Assert.False(factory.Engine.IsJournaled);
        Assert.Null(factory.Services.GetService<OperationJournal>());
        using var accepted = await client.PostAsync("api/counters/s/add", null);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.False(Directory.Exists(Path.Combine(factory.DataDirectory, "journal")));
    }

    [Fact]
    public async Task Add_Accepted202_SurvivesRestartWithExactValueAndVersion()
    {
        using var data = new TempDirectory();
        await using (var first = new LocalHostFactory(dataDirectory: data.Path))
        {
            using var client = await first.StartAsync();
            foreach (var delta in new[] { 5, -2, 40 })
            {
                using var response = await PostAddAsync(client, "a", delta);
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }

            using var created = await client.PostAsync("api/counters/r/add", null);
            Assert.Equal(HttpStatusCode.Accepted, created.StatusCode);
            using var deleted = await client.DeleteAsync("api/counters/r");
            Assert.Equal(HttpStatusCode.Accepted, deleted.StatusCode);
        }

        await using var second = new LocalHostFactory(dataDirectory: data.Path);
        using var after = await second.StartAsync();
        var counter = await GetAsync(after, "a");
        Assert.Equal(("a", 43L, 3L), (counter.Key, counter.Value, counter.Version));
        using var gone = await after.GetAsync("api/counters/r");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Add_Accepted202_IsInTheJournalBeforeTheAnswer()
    {
        // A crash image: the journal's files copied right after the 202, while the host still runs (so no
        // graceful stop flushed anything). A host started on the copy has the write.
        using var image = new TempDirectory();
        await using var live = new LocalHostFactory();
        using var client = await live.StartAsync();
        using (var response = await PostAddAsync(client, "img", 7))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        using (var batch = await PostBatchAsync(client, "img-batch-1", ("img", 3), ("img2", 2)))
        {
            Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        }

        var source = live.Services.GetRequiredService<OperationJournal>().DirectoryPath;
        var target = Path.Combine(image.Path, JournalRegistration.NoStorageJournalDirectoryName);
        Directory.CreateDirectory(target);
        foreach (var file in Directory.GetFiles(source).Where(static f => Path.GetFileName(f) != "journal.lock"))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        await using var restarted = new LocalHostFactory(dataDirectory: image.Path);
        using var after = await restarted.StartAsync();
        Assert.Equal((10L, 2L), Pair(await GetAsync(after, "img")));
        Assert.Equal((2L, 1L), Pair(await GetAsync(after, "img2")));
    }

    [Fact]
    public async Task IdempotencyKey_DedupSurvivesRestart()
    {
        using var data = new TempDirectory();
        CounterDto applied;
        await using (var first = new LocalHostFactory(dataDirectory: data.Path))
        {
            using var client = await first.StartAsync();
            using var accepted = await PostAddAsync(client, "idem", 4, idempotencyKey: "op-accepted");
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            using var waited = await PostAddAsync(client, "idem", 10, idempotencyKey: "op-waited", wait: true);
            applied = await ReadAsync(waited);
            Assert.Equal((14L, 2L), Pair(applied));
            using var batch = await PostBatchAsync(client, "batch-7", ("idem", 100));
            Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        }

        await using var second = new LocalHostFactory(dataDirectory: data.Path);
        using var after = await second.StartAsync();
        using (var again = await PostAddAsync(after, "idem", 4, idempotencyKey: "op-accepted"))
        {
            Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        }

        using (var againWaited = await PostAddAsync(after, "idem", 10, idempotencyKey: "op-waited", wait: true))
        {
            // A duplicate answers with the counter as it is now, and changes nothing.
            Assert.Equal((114L, 3L), Pair(await ReadAsync(againWaited)));
        }

        using (var batchAgain = await PostBatchAsync(after, "batch-7", ("idem", 100)))
        {
            Assert.Equal(HttpStatusCode.Accepted, batchAgain.StatusCode);
        }

        Assert.Equal((114L, 3L), Pair(await GetAsync(after, "idem")));
        using var fresh = await PostAddAsync(after, "idem", 1, idempotencyKey: "op-new", wait: true);
        Assert.Equal((115L, 4L), Pair(await ReadAsync(fresh)));
    }

    [Fact]
    public async Task WaitResult_EqualsWhatIsReplayed()
    {
        using var data = new TempDirectory();
        var last = new Dictionary<string, CounterDto>();
        await using (var first = new LocalHostFactory(dataDirectory: data.Path))
        {
            var client = await first.StartAsync();
            // Concurrent waiters on a few keys: each key's last answer is the state the journal must restore.
            var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async caller =>
            {
                using var own = first.CreateClient();
                var answers = new List<CounterDto>();
                for (var i = 0; i < 25; i++)
                {
                    using var response = await PostAddAsync(own, "w" + ((caller + i) % 3), caller + 1, wait: true);
                    answers.Add(await ReadAsync(response));
                }

                return answers;
            }));
            foreach (var answer in results.SelectMany(static a => a))
            {
                if (!last.TryGetValue(answer.Key, out var seen) || answer.Version > seen.Version)
                {
                    last[answer.Key] = answer;
                }
            }

            client.Dispose();
        }

        Assert.Equal(200, last.Values.Sum(static c => c.Version));
        await using var second = new LocalHostFactory(dataDirectory: data.Path);
        using var after = await second.StartAsync();
        foreach (var expected in last.Values)
        {
            Assert.Equal(expected, await GetAsync(after, expected.Key));
        }
    }

    [Fact]
    public async Task IdempotencyKey_ReusedForOtherRequestAfterRestart_Refused()
    {
        // The journal keeps each operation's fingerprint with its id, so replay rebuilds the window as it was.
        using var data = new TempDirectory();
        await using (var first = new LocalHostFactory(dataDirectory: data.Path))
        {
            using var client = await first.StartAsync();
            using var accepted = await PostAddAsync(client, "fp", 5, idempotencyKey: "op-A");
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            using var batch = await PostBatchAsync(client, "batch-fp", ("fp", 100));
            Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);

            // Without a wait, too: the owner's verdict is awaited for a write with an id.
            using var mismatch = await PostAddAsync(client, "fp", 6, idempotencyKey: "op-A");
            Assert.Equal((HttpStatusCode)422, mismatch.StatusCode);
            using var replay = await PostAddAsync(client, "fp", 5, idempotencyKey: "op-A");
            Assert.Equal((HttpStatusCode.Accepted, "true"), (replay.StatusCode, replay.Headers.GetValues("Idempotent-Replayed").Single()));
        }

        await using var second = new LocalHostFactory(dataDirectory: data.Path);
        using var after = await second.StartAsync();
        using (var again = await PostAddAsync(after, "fp", 6, idempotencyKey: "op-A", wait: true))
        {
            Assert.Equal((HttpStatusCode)422, again.StatusCode);
        }

        using (var batchAgain = await PostBatchAsync(after, "batch-fp", ("fp", 101), ("fp2", 1)))
        {
            Assert.Equal(HttpStatusCode.Accepted, batchAgain.StatusCode);
            var body = await batchAgain.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(["fp"], body.GetProperty("mismatchedKeys").EnumerateArray().Select(static e => e.GetString()));
        }

        Assert.Equal((105L, 2L), Pair(await GetAsync(after, "fp")));
        Assert.Equal((1L, 1L), Pair(await GetAsync(after, "fp2")));
    }

    private static (long Value, long Version) Pair(CounterDto counter) => (counter.Value, counter.Version);

    private static async Task<HttpResponseMessage> PostAddAsync(HttpClient client, string key, long delta, string? idempotencyKey = null, bool wait = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"api/counters/{key}/add" + (wait ? "?wait=true" : ""))
        {
            Content = new StringContent($$"""{"delta": {{delta}}}""", Encoding.UTF8, "application/json"),
        };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return await client.SendAsync(request);
    }

    private static Task<HttpResponseMessage> PostBatchAsync(HttpClient client, string batchId, params (string Key, long Delta)[] items) =>
        client.PostAsJsonAsync("api/counters/batch", new { batchId, items = items.Select(static i => new { key = i.Key, delta = i.Delta }) });

    private static async Task<CounterDto> GetAsync(HttpClient client, string key)
    {
        using var response = await client.GetAsync($"api/counters/{key}");
        return await ReadAsync(response);
    }

    private static async Task<CounterDto> ReadAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {body}");
        return JsonSerializer.Deserialize<CounterDto>(body, Json)!;
    }
}
