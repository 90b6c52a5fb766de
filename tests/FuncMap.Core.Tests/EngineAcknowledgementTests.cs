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
    public async Task ExecuteAsync_GroupBecomesDurable_AnswersItsCallersOneAfterAnotherOnOneThread()
    {
        // The first Append holds the owner until both callers are in the mailbox, so they share the next drain.
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var durable = new TaskCompletionSource();
        using var gate = new ManualResetEventSlim(false);
        var log = new ScriptedLog
        {
            Next = call =>
            {
                if (call == 1)
                {
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
        var first = engine.ExecuteAsync("k", CounterOperation.Add(1));
        var second = engine.ExecuteAsync("k", CounterOperation.Add(1));
        var firstRan = first.ContinueWith(_ => (Environment.CurrentManagedThreadId, SecondAnswered: second.IsCompleted), TaskContinuationOptions.ExecuteSynchronously);
        var secondRan = second.ContinueWith(_ => Environment.CurrentManagedThreadId, TaskContinuationOptions.ExecuteSynchronously);
        gate.Set();
        await warmup.WaitAsync(Engines.Guard);
        var append = await log.NextAppendAsync();
        while (append.Number < 2)
        {
            append = await log.NextAppendAsync();
        }

        Assert.Equal(2, append.Operations.Length); // one drain, one group
        Assert.False(first.IsCompleted); // nothing is answered before the group is durable
        durable.SetResult();

        var (firstThread, secondAnswered) = await firstRan.WaitAsync(Engines.Guard);
        var secondThread = await secondRan.WaitAsync(Engines.Guard);
        Assert.False(secondAnswered); // the first caller ran to its end before the second was answered
        Assert.Equal(firstThread, secondThread);
        Assert.Equal((1L, 2L), ((await first).Counter.Value, (await second).Counter.Value));
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
