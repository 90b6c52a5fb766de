using System.Text;
using System.Text.Json;
using FuncMap.Journal;
using FuncMap.Storage;
using FuncMap.Testing;

namespace FuncMap.Local.Storage.Tests;

/// <summary>Queue ingestion: exact totals, deduplication, poison envelopes, deletion only when safe.</summary>
[Collection(StorageTestGroup.Name)]
public sealed class IngestionTests(AzuriteFixture azurite)
{
    internal static string Batch(string batchId, params (string Key, long Delta)[] items) =>
        JsonSerializer.Serialize(new { batchId, items = items.Select(static i => new { key = i.Key, delta = i.Delta }) });

    [Theory]
    [InlineData(DurabilityMode.Journal)]
    [InlineData(DurabilityMode.Snapshot)]
    public async Task ManyBatches_ExactTotalsInMemoryAndInTable(DurabilityMode mode)
    {
        using var setup = new StorageSetup(azurite, mode);
        await setup.Queue.CreateIfNotExistsAsync();
        var expected = new Dictionary<string, long>(StringComparer.Ordinal);
        var random = new Random(42);
        var sends = new List<Task>();
        for (var b = 0; b < 200; b++)
        {
            var items = new (string, long)[20];
            for (var i = 0; i < items.Length; i++)
            {
                var key = $"key{random.Next(50)}";
                var delta = random.Next(-5, 100);
                items[i] = (key, delta);
                expected[key] = expected.GetValueOrDefault(key) + delta;
            }

            var text = Batch($"batch-{b}", items);
            sends.Add(setup.Queue.SendMessageAsync(b % 2 == 0 ? text : Convert.ToBase64String(Encoding.UTF8.GetBytes(text))));
        }

        await Task.WhenAll(sends);
        await using var host = setup.Start();
        await host.WaitReadyAsync();
        await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "the queue to be drained");

        foreach (var (key, value) in expected)
        {
            Assert.Equal(value, (await host.GetAsync(key))!.Value);
        }

        await host.WaitForSnapshotAsync();
        var rows = await setup.ReadTableAsync();
        Assert.Equal(expected.OrderBy(static e => e.Key, StringComparer.Ordinal), rows.Select(static r => KeyValuePair.Create(r.Key, r.Value.GetInt64(CounterRows.Value)!.Value)).OrderBy(static e => e.Key, StringComparer.Ordinal));
        Assert.Equal(200, host.Ingestion.AppliedBatches);
    }

    [Fact]
    public async Task SameBatchDeliveredThreeTimes_CountedOnce()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await setup.Queue.CreateIfNotExistsAsync();
        var text = Batch("once", ("a", 5), ("b", 7), ("a", 1));
        for (var i = 0; i < 3; i++)
        {
            await setup.Queue.SendMessageAsync(i == 1 ? Convert.ToBase64String(Encoding.UTF8.GetBytes(text)) : text);
        }

        await using var host = setup.Start();
        await host.WaitReadyAsync();
        await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "the queue to be drained");
        Assert.Equal((6L, 1L), ((await host.GetAsync("a"))!.Value, (await host.GetAsync("a"))!.Version));
        Assert.Equal((7L, 1L), ((await host.GetAsync("b"))!.Value, (await host.GetAsync("b"))!.Version));
        Assert.Equal(0, await setup.PoisonQueue.GetApproximateCountAsync());
    }

    [Fact]
    public async Task HotKey_MoreThan64BatchesBeforeRedelivery_CountedOnce()
    {
        // The per-counter window holds 64 operation ids; the ingestion's completed-batch set covers the rest.
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await setup.Queue.CreateIfNotExistsAsync();
        await using var host = setup.Start();
        await host.WaitReadyAsync();
        await setup.Queue.SendMessageAsync(Batch("first", ("hot", 1)));
        await Eventually.TrueAsync(async () => (await host.GetAsync("hot"))?.Value == 1, "the first batch");
        for (var i = 0; i < 100; i++)
        {
            await setup.Queue.SendMessageAsync(Batch($"later-{i}", ("hot", 1)));
        }

        await Eventually.TrueAsync(async () => (await host.GetAsync("hot"))?.Value == 101, "the later batches");
        await setup.Queue.SendMessageAsync(Batch("first", ("hot", 1)));
        await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "the redelivery to be handled");
        Assert.Equal((101L, 101L), ((await host.GetAsync("hot"))!.Value, (await host.GetAsync("hot"))!.Version));
    }

    /// <summary>
    /// The field report: a reused batch id skipped a whole message, so a key the first batch never touched was never
    /// applied and nothing went to the poison queue. Now one rule, per counter, the same as the HTTP batch and the
    /// same after a restart: a new key is applied, the same (key, total) is a replay, another total is refused and
    /// reported on the poison queue with reason idempotency.mismatch.
    /// </summary>
    [Fact]
    public async Task ReusedBatchId_NewKeyApplied_SameKeyOnce_OtherTotalPoisoned_AlsoAfterRestart()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await setup.Queue.CreateIfNotExistsAsync();
        await using (var host = setup.Start())
        {
            await host.WaitReadyAsync();
            await setup.Queue.SendMessageAsync(Batch("dup-1", ("d:a", 1)));
            await Eventually.TrueAsync(async () => (await host.GetAsync("d:a"))?.Value == 1, "the first batch");
            await setup.Queue.SendMessageAsync(Batch("dup-1", ("d:b", 1), ("d:a", 1)));
            await Eventually.TrueAsync(async () => (await host.GetAsync("d:b"))?.Value == 1, "the new key of the reused batch id");
            await setup.Queue.SendMessageAsync(Batch("dup-1", ("d:a", 2), ("d:c", 1)));
            var envelope = Assert.Single(await setup.ReceivePoisonAsync(1));
            Assert.StartsWith("idempotency.mismatch", envelope.Reason, StringComparison.Ordinal);
            Assert.Equal("dup-1", envelope.BatchId);
            Assert.Equal(["d:a"], envelope.Keys!);
            Assert.Equal([("d:a", "idempotency.mismatch")], envelope.Errors.Select(static e => (e.Field, e.Rule)));
            await Eventually.TrueAsync(async () => (await host.GetAsync("d:c"))?.Value == 1, "the rest of the mismatched batch");
            await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "every message handled");
            Assert.Equal((1L, 1L), ((await host.GetAsync("d:a"))!.Value, (await host.GetAsync("d:a"))!.Version));
        }

        await using var restarted = setup.Start();
        await restarted.WaitReadyAsync();
        await setup.Queue.SendMessageAsync(Batch("dup-1", ("d:e", 1), ("d:a", 1), ("d:b", 1)));
        await Eventually.TrueAsync(async () => (await restarted.GetAsync("d:e"))?.Value == 1, "a new key after the restart");
        await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "the message handled");
        Assert.Equal((1L, 1L, 1L), ((await restarted.GetAsync("d:a"))!.Value, (await restarted.GetAsync("d:b"))!.Value, (await restarted.GetAsync("d:c"))!.Value));
    }

    /// <summary>The field report: a plain message starting with a UTF-8 BOM was poisoned as "neither JSON nor base64".</summary>
    [Fact]
    public async Task PlainMessageWithUtf8ByteOrderMark_Applied()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await setup.Queue.CreateIfNotExistsAsync();
        await using var host = setup.Start();
        await host.WaitReadyAsync();

        await setup.Queue.SendMessageAsync(new BinaryData([0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Batch("bom-1", ("bom", 4)))]));

        await Eventually.TrueAsync(async () => (await host.GetAsync("bom"))?.Value == 4, "the message with a byte order mark");
        Assert.Equal(0, await setup.PoisonQueue.GetApproximateCountAsync());
    }

    [Fact]
    public async Task MalformedMessages_EachPoisonedWithReason_NothingApplied_ValidUnaffected()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await setup.Queue.CreateIfNotExistsAsync();
        var bad = new Dictionary<string, string>
        {
            ["json.syntax"] = """{"batchId": "x", "items": [ {"key": "bad1", "delta": 1 } """,
            ["message.encoding"] = "!!not*base64~~",
            ["batchId.required"] = """{"items": [{"key": "bad2", "delta": 1}]}""",
            ["key.charset"] = """{"batchId": "b-key", "items": [{"key": "ok", "delta": 1}, {"key": "bad key!", "delta": 1}]}""",
            ["overflow"] = Batch("b-overflow", ("bad3", long.MaxValue), ("bad3", 1), ("ok", 1)),
            ["base64 schema"] = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"batchId": "b64", "items": []}""")),
        };
        foreach (var text in bad.Values)
        {
            await setup.Queue.SendMessageAsync(text);
        }

        await setup.Queue.SendMessageAsync(Batch("valid", ("good", 3)));
        await using var host = setup.Start();
        await host.WaitReadyAsync();

        // Azurite refuses to store a message over 64 KiB, so that one is handed to the handler directly.
        var huge = Batch("huge", ("bad4", 1)) + new string(' ', 64 * 1024);
        await host.Ingestion.HandleAsync(Azure.Storage.Queues.Models.QueuesModelFactory.QueueMessage("huge-id", "receipt", BinaryData.FromString(huge), 1, insertedOn: DateTimeOffset.UtcNow), CancellationToken.None);

        var envelopes = await setup.ReceivePoisonAsync(bad.Count + 1);
        Assert.Equal(bad.Count + 1, envelopes.Count);
        foreach (var envelope in envelopes)
        {
            Assert.StartsWith("invalid message", envelope.Reason, StringComparison.Ordinal);
            Assert.NotEmpty(envelope.Errors);
            Assert.False(string.IsNullOrEmpty(envelope.MessageId));
            Assert.Equal(1, envelope.DequeueCount);
        }

        var rules = envelopes.SelectMany(static e => e.Errors.Select(static x => x.Rule)).ToHashSet();
        Assert.Contains("json.syntax", rules);
        Assert.Contains("message.encoding", rules);
        Assert.Contains("batchId.required", rules);
        Assert.Contains("message.size", rules);
        Assert.Contains("items.empty", rules);
        Assert.Contains(rules, static r => r.StartsWith("key.", StringComparison.Ordinal));
        Assert.Contains(rules, static r => r.Contains("overflow", StringComparison.Ordinal));
        var hugeEnvelope = Assert.Single(envelopes, static e => e.MessageId == "huge-id");
        Assert.True(hugeEnvelope.OriginalMessageTruncated);

        await Eventually.TrueAsync(async () => (await host.GetAsync("good"))?.Value == 3, "the valid batch");
        await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "the queue to be drained");
        foreach (var key in new[] { "bad1", "bad2", "bad3", "bad4", "ok" })
        {
            Assert.Null(await host.GetAsync(key));
        }
    }

    [Fact]
    public async Task OverflowAtApply_OtherKeysApplied_EnvelopeNamesTheKeys()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await setup.Queue.CreateIfNotExistsAsync();
        await using var host = setup.Start();
        await host.WaitReadyAsync();
        await host.AddAsync("full", long.MaxValue - 1);
        await setup.Queue.SendMessageAsync(Batch("mixed", ("full", 5), ("fine", 2)));

        var envelope = Assert.Single(await setup.ReceivePoisonAsync(1));
        Assert.StartsWith("overflow at apply", envelope.Reason, StringComparison.Ordinal);
        Assert.Equal(["full"], envelope.Keys);
        Assert.Equal("mixed", envelope.BatchId);
        Assert.Equal(long.MaxValue - 1, (await host.GetAsync("full"))!.Value);
        Assert.Equal(2L, (await host.GetAsync("fine"))!.Value);
        await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "the message to be deleted");
    }

    [Fact]
    public async Task SnapshotMode_MessageDeletedOnlyAfterSnapshotPersistedIt()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Snapshot);
        await setup.Queue.CreateIfNotExistsAsync();
        // No periodic snapshot during the test; a short visibility timeout so that renewal has to happen.
        await using var host = setup.Start(s =>
        {
            s["FuncMap:Storage:SnapshotInterval"] = "01:00:00";
            s["FuncMap:Storage:VisibilityTimeout"] = "00:00:03";
        });
        await host.WaitReadyAsync();
        await setup.Queue.SendMessageAsync(Batch("pending", ("p", 4)));
        await Eventually.TrueAsync(async () => (await host.GetAsync("p"))?.Value == 4, "the batch to be applied");

        // Applied but not persisted: still on the queue (held invisible by renewals), not in the table.
        var renewedAt = DateTime.UtcNow + TimeSpan.FromSeconds(4);
        await Eventually.TrueAsync(() => Task.FromResult(DateTime.UtcNow > renewedAt), "one visibility timeout to pass");
        Assert.Equal(1, host.Ingestion.PendingCount);
        Assert.Equal(1, await setup.Queue.GetApproximateCountAsync());
        Assert.Empty((await setup.Queue.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(3))).Value);
        Assert.Empty(await setup.ReadTableAsync());

        Assert.True(await host.Snapshots.SnapshotNowAsync(CancellationToken.None));
        await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "the message to be deleted after the snapshot");
        Assert.Equal(0, host.Ingestion.PendingCount);
        Assert.Equal(4L, (await setup.ReadTableAsync())["p"].GetInt64(CounterRows.Value));
        Assert.Equal(1L, host.Ingestion.AppliedBatches);
    }

    [Fact]
    public async Task JournalMode_MessageDeletedOnceApplied_WithoutSnapshot()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        await setup.Queue.CreateIfNotExistsAsync();
        await using var host = setup.Start(s => s["FuncMap:Storage:SnapshotInterval"] = "01:00:00");
        await host.WaitReadyAsync();
        await setup.Queue.SendMessageAsync(Batch("j", ("j", 4)));
        await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "the message to be deleted");
        Assert.Equal(4L, (await host.GetAsync("j"))!.Value);
        Assert.Equal(0L, host.Snapshots.PersistedRun);
    }
}
