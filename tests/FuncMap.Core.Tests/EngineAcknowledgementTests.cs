using FuncMap.Counters;
using FuncMap.Engine;

namespace FuncMap.Core.Tests;

/// <summary>
/// Where a caller's continuation runs once its operation is answered: inline on the journal's acknowledgement
/// (a pool thread, after the group's fsync: no hop per request), never on the owner loop.
/// </summary>
public sealed class EngineAcknowledgementTests
{
    private static readonly OperationResult Applied = new(OperationStatus.Applied, new CounterSnapshot("k", 1, 1, default));

    [Fact]
    public async Task OperationCompletion_CompleteInline_RunsTheCallerBeforeReturning()
    {
        var completion = new OperationCompletion();
        var caller = AwaitAsync(completion);

        completion.Complete(Applied, inline: true);

        // The caller's continuation ran inside Complete, on this thread.
        Assert.True(caller.IsCompletedSuccessfully);
        Assert.Equal(Environment.CurrentManagedThreadId, await caller);
    }

    [Fact]
    public async Task OperationCompletion_CompleteNotInline_NeverRunsTheCallerOnTheCompletingThread()
    {
        var completion = new OperationCompletion();
        var caller = AwaitAsync(completion);

        completion.Complete(Applied);

        Assert.NotEqual(Environment.CurrentManagedThreadId, await caller.WaitAsync(Engines.Guard));
    }

    [Fact]
    public async Task OperationCompletion_FailAfterComplete_IsIgnored()
    {
        var completion = new OperationCompletion();
        var caller = AwaitAsync(completion);

        completion.Complete(Applied, inline: true);

        Assert.False(completion.Fail(new EngineTimeoutException(TimeSpan.FromSeconds(1))));
        Assert.True(completion.IsCompleted);
        await caller; // answered, not failed
    }

    [Fact]
    public async Task ExecuteAsync_GroupBecomesDurable_AnswersCallersInlineAChunkPerCore()
    {
        // Two callers per core in one group: each chunk of two is answered on one thread, one caller after the other.
        var callers = 2 * Environment.ProcessorCount;
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var durable = new TaskCompletionSource();
        using var gate = new ManualResetEventSlim(false);
        var log = new ScriptedLog
        {
            Next = call =>
            {
                if (call == 1)
                {
                    // The first Append holds the owner until every caller is in the mailbox: they share the next drain.
                    hold.TrySetResult();
                    Assert.True(gate.Wait(Engines.Guard));
                    return Task.CompletedTask;
                }

                return durable.Task;
            },
        };
        await using var engine = CounterEngine.CreateJournaled(Engines.Options(1), log);
        engine.Start();

        var warmup = engine.ExecuteAsync("w", CounterOperation.Add(1));
        await hold.Task.WaitAsync(Engines.Guard);
        var adds = new Task<OperationResult>[callers];
        for (var i = 0; i < callers; i++)
        {
            adds[i] = engine.ExecuteAsync("k", CounterOperation.Add(1));
        }

        var ran = new Task<(int Thread, bool NextAnswered)>[callers];
        for (var i = 0; i < callers; i++)
        {
            var next = i + 1 < callers ? adds[i + 1] : Task.CompletedTask;
            ran[i] = adds[i].ContinueWith(_ => (Environment.CurrentManagedThreadId, next.IsCompleted), TaskContinuationOptions.ExecuteSynchronously);
        }

        gate.Set();
        await warmup.WaitAsync(Engines.Guard);
        var append = await log.NextAppendAsync();
        while (append.Number < 2)
        {
            append = await log.NextAppendAsync();
        }

        Assert.Equal(callers, append.Operations.Length); // one drain, one group
        Assert.DoesNotContain(adds, add => add.IsCompleted); // nothing is answered before the group is durable
        durable.SetResult();

        var seen = await Task.WhenAll(ran).WaitAsync(Engines.Guard);
        for (var chunk = 0; chunk < callers; chunk += 2)
        {
            Assert.False(seen[chunk].NextAnswered); // the first of a chunk ran to its end before the second was answered
            Assert.Equal(seen[chunk].Thread, seen[chunk + 1].Thread);
        }

        Assert.Equal(Enumerable.Range(1, callers).Select(static v => (long)v), (await Task.WhenAll(adds)).Select(static r => r.Counter.Value));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ExecuteAsync_AnsweredByTheOwnerLoop_CallerNeverRunsOnIt(bool journaled)
    {
        // A journal whose group is already durable when the owner appends (and an engine without a journal) is
        // answered by the owner loop itself. A caller that then waits for another operation of the same shard
        // would wait forever if its continuation ran on that loop.
        var log = journaled ? new ScriptedLog() : null;
        await using var engine = Engines.Started(Engines.Options(1), log);

        var first = engine.ExecuteAsync("a", CounterOperation.Add(1));
        var nested = first.ContinueWith(
            _ => engine.ExecuteAsync("b", CounterOperation.Add(1)).Wait(Engines.Guard),
            TaskContinuationOptions.ExecuteSynchronously);

        Assert.True(await nested.WaitAsync(Engines.Guard));
    }

    private static async Task<int> AwaitAsync(OperationCompletion completion)
    {
        await completion.Task.ConfigureAwait(false);
        return Environment.CurrentManagedThreadId;
    }
}
