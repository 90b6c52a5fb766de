using FuncMap.Counters;
using FuncMap.Engine;
using static FuncMap.Journal.Tests.Journals;

namespace FuncMap.Journal.Tests;

/// <summary>A real journaled engine: acknowledged (and accepted) writes survive a restart without a snapshot.</summary>
public sealed class JournaledEngineTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Restart_WithoutSnapshot_RestoresExactTotalsVersionsAndDeduplication()
    {
        const int Keys = 10;
        const int Writers = 64;
        const int WritesPerWriter = 40;
        var expected = new Dictionary<string, CounterSnapshot>();

        var journal = new OperationJournal(Options(_directory));
        await using (journal)
        {
            var engine = CounterEngine.CreateJournaled(EngineOptions(), journal);
            await using (engine)
            {
                engine.Start();
                Assert.True(engine.IsJournaled);
                await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
                {
                    for (var i = 0; i < WritesPerWriter; i++)
                    {
                        var key = $"hot-{(w + i) % Keys}";
                        var operation = CounterOperation.Add(w + 1, $"op-{w}-{i}");
                        var result = i % 2 == 0
                            ? await engine.ExecuteAsync(key, operation)
                            : (await engine.AcceptAsync(key, operation))!.Value;
                        Assert.Equal(OperationStatus.Applied, result.Status);
                    }
                })));

                for (var i = 1; i <= 5; i++)
                {
                    Assert.Equal(OperationStatus.Applied, (await engine.ExecuteAsync("dedup", CounterOperation.Add(i, $"dedup-{i}"))).Status);
                }

                Assert.Equal(OperationStatus.Duplicate, (await engine.ExecuteAsync("dedup", CounterOperation.Add(3, "dedup-3"))).Status);
                await engine.ExecuteAsync("gone", CounterOperation.Add(7));
                await engine.ExecuteAsync("gone", CounterOperation.Delete());
                await engine.ExecuteAsync("reset", CounterOperation.Add(7));
                await engine.ExecuteAsync("reset", CounterOperation.Reset("reset-op"));

                // Fire-and-forget posts are journaled too: stopping drains the owners, closing the journal writes their groups.
                for (var i = 0; i < 100; i++)
                {
                    await engine.PostAsync("posted", CounterOperation.Add(1));
                }

                await engine.StopAsync();
                foreach (var key in Enumerable.Range(0, Keys).Select(k => $"hot-{k}").Append("dedup").Append("reset").Append("posted"))
                {
                    expected[key] = engine.Get(key);
                }

                Assert.False(engine.TryGet("gone", out _));
            }
        }

        Assert.Equal(Writers * WritesPerWriter / Keys, expected["hot-0"].Version);
        Assert.Equal(Enumerable.Range(1, Writers).Sum() * (long)WritesPerWriter, Enumerable.Range(0, Keys).Sum(k => expected[$"hot-{k}"].Value));
        Assert.Equal(100, expected["posted"].Value);

        await using var reopened = await ReopenAsync(_directory, journaled: true);
        var restarted = reopened.Engine;
        foreach (var (key, counter) in expected)
        {
            Assert.Equal(counter, restarted.Get(key));
        }

        Assert.False(restarted.TryGet("gone", out _));
        var duplicate = await restarted.ExecuteAsync("dedup", CounterOperation.Add(2, "dedup-2"));
        Assert.Equal((OperationStatus.Duplicate, 15L, 5L), (duplicate.Status, duplicate.Counter.Value, duplicate.Counter.Version));
        // Replay rebuilt each id's fingerprint from the journal: the same id with another delta is refused.
        var mismatch = await restarted.ExecuteAsync("dedup", CounterOperation.Add(100, "dedup-2"));
        Assert.Equal((OperationStatus.Mismatch, 15L, 5L), (mismatch.Status, mismatch.Counter.Value, mismatch.Counter.Version));
        Assert.Equal(OperationStatus.Mismatch, (await restarted.ExecuteAsync("dedup", CounterOperation.Reset("dedup-1"))).Status);
        Assert.Equal(OperationStatus.Duplicate, (await restarted.ExecuteAsync("reset", CounterOperation.Reset("reset-op"))).Status);
        var next = await restarted.ExecuteAsync("dedup", CounterOperation.Add(1, "dedup-6"));
        Assert.Equal((OperationStatus.Applied, 16L, 6L), (next.Status, next.Counter.Value, next.Counter.Version));
    }

    [Fact]
    public async Task SnapshotProtocol_CheckpointCollectTruncate_KeepsOnlyWhatTheSnapshotDoesNotHold()
    {
        IReadOnlyList<CounterChange> table;
        var journal = new OperationJournal(Options(_directory));
        await using (journal)
        {
            var engine = CounterEngine.CreateJournaled(EngineOptions(), journal);
            await using (engine)
            {
                engine.Start();
                await engine.ExecuteAsync("a", CounterOperation.Add(1, "a-1"));
                await engine.ExecuteAsync("b", CounterOperation.Add(2, "b-1"));

                var sequence = journal.Checkpoint();
                table = await engine.CollectChangesAsync();
                await engine.MarkPersistedAsync(table);
                await engine.ExecuteAsync("a", CounterOperation.Add(10, "a-2"));
                journal.TruncateBefore(sequence);
            }
        }

        Assert.Single(_directory.Segments());
        {
            // Restart as the host would: the table's rows (with their operation ids) first, then the journal.
            await using var reopened = new Reopened(new CounterEngine(EngineOptions()), new OperationJournal(Options(_directory)));
            foreach (var row in table)
            {
                reopened.Engine.Load(row.Key, row.Data, row.RecentOperationIds, persisted: true);
            }

            await reopened.Journal.LoadAsync(reopened.Engine, CancellationToken.None);
            reopened.Engine.Start();
            Assert.Equal((11L, 2L), (reopened.Engine.Get("a").Value, reopened.Engine.Get("a").Version));
            Assert.Equal((2L, 1L), (reopened.Engine.Get("b").Value, reopened.Engine.Get("b").Version));
            Assert.Equal(OperationStatus.Duplicate, (await reopened.Engine.ExecuteAsync("b", CounterOperation.Add(2, "b-1"))).Status);
            Assert.Equal(OperationStatus.Duplicate, (await reopened.Engine.ExecuteAsync("a", CounterOperation.Add(1, "a-1"))).Status);
        }
    }
}
