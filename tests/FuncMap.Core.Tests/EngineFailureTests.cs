using FuncMap.Counters;
using FuncMap.Engine;

namespace FuncMap.Core.Tests;

public sealed class EngineFailureTests
{
    [Fact]
    public async Task ExecuteAsync_LogNeverCompletes_ThrowsEngineTimeoutAfterOperationTimeout()
    {
        var log = new ScriptedLog { Next = _ => new TaskCompletionSource().Task };
        var options = Engines.Options(1);
        options.OperationTimeout = TimeSpan.FromMilliseconds(200);
        await using var engine = Engines.Started(options, log);

        var error = await Assert.ThrowsAsync<EngineTimeoutException>(() => engine.ExecuteAsync("k", CounterOperation.Add(1)));

        Assert.Equal(TimeSpan.FromMilliseconds(200), error.Timeout);
        Assert.IsType<TimeoutException>(error, exactMatch: false);
    }

    [Fact]
    public async Task PostAsync_MailboxFullWhileOwnerStalls_ThrowsBusyThenAppliesEverythingAccepted()
    {
        using var log = new BlockingLog();
        var options = Engines.Options(1);
        options.MailboxCapacity = 4;
        options.BackpressureWait = TimeSpan.FromMilliseconds(100);
        var engine = Engines.Started(options, log);

        await engine.PostAsync("k", CounterOperation.Add(1));
        await log.Entered.WaitAsync(Engines.Guard); // the owner is now stuck inside Append
        for (var i = 0; i < options.MailboxCapacity; i++)
        {
            await engine.PostAsync("k", CounterOperation.Add(1)); // fills the mailbox
        }

        var busy = await Assert.ThrowsAsync<EngineBusyException>(() => engine.PostAsync("k", CounterOperation.Add(1)).AsTask());
        await Assert.ThrowsAsync<EngineBusyException>(() => engine.ExecuteAsync("k", CounterOperation.Add(1)));
        Assert.Equal(0, busy.Shard);

        log.Release();
        await engine.StopAsync().WaitAsync(Engines.Guard);

        Assert.True(engine.TryGet("k", out var counter));
        Assert.Equal((5L, 5L), (counter.Value, counter.Version));
        await engine.DisposeAsync();
    }

    [Fact]
    public async Task AcceptAsync_Journaled_CompletesOnlyAfterTheLogIsDurable()
    {
        var durable = new TaskCompletionSource();
        var log = new ScriptedLog { Next = _ => durable.Task };
        var engine = CounterEngine.CreateJournaled(Engines.Options(1), log);
        engine.Start();

        var accept = engine.AcceptAsync("k", CounterOperation.Add(3, "op-1"));
        var append = await log.NextAppendAsync();

        Assert.True(engine.IsJournaled);
        var applied = Assert.Single(append.Operations);
        Assert.Equal(("k", 3L, 1L, "op-1\tadd:3"), (applied.Key, applied.After.Value, applied.After.Version, applied.OperationId));
        Assert.False(accept.IsCompleted);

        durable.SetResult();
        var result = await accept.WaitAsync(Engines.Guard);

        Assert.Equal(OperationStatus.Applied, result?.Status);
        Assert.Equal(3, result?.Counter.Value);
        await engine.DisposeAsync();
    }

    [Fact]
    public async Task ApplyBatchAsync_Journaled_CompletesOnlyAfterTheLogIsDurable()
    {
        var durable = new TaskCompletionSource();
        var log = new ScriptedLog { Next = _ => durable.Task };
        await using var engine = CounterEngine.CreateJournaled(Engines.Options(1), log);
        engine.Start();
        var batch = FuncMap.Batches.IncrementBatchParser.Aggregate("b-1", [new("a", 1), new("b", 2)]).Batch!;

        var apply = engine.ApplyBatchAsync(batch);
        var applied = new List<AppliedOperation>();
        while (applied.Count < 2)
        {
            applied.AddRange((await log.NextAppendAsync()).Operations);
        }

        Assert.False(apply.IsCompleted);
        durable.SetResult();
        Assert.Equal(2, (await apply.WaitAsync(Engines.Guard)).Applied);
    }

    [Fact]
    public async Task ExecuteAsync_LogFaults_FailsCallerAndLoopKeepsRunning()
    {
        var log = new ScriptedLog
        {
            Next = call => call switch
            {
                1 => Task.FromException(new IOException("disk full")),
                2 => throw new InvalidOperationException("journal closed"),
                _ => Task.CompletedTask,
            },
        };
        await using var engine = CounterEngine.CreateJournaled(Engines.Options(1), log);
        engine.Start();

        var faulted = await Assert.ThrowsAsync<IOException>(() => engine.ExecuteAsync("k", CounterOperation.Add(1, "a")));
        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => engine.AcceptAsync("k", CounterOperation.Add(1, "b")));
        var after = await engine.ExecuteAsync("k2", CounterOperation.Add(7, "c"));

        Assert.Equal("disk full", faulted.Message);
        Assert.Equal("journal closed", thrown.Message);
        Assert.Equal((OperationStatus.Applied, 7L), (after.Status, after.Counter.Value));
    }

    [Fact]
    public async Task ExecuteAsync_LogFaultsLater_FailsCaller()
    {
        var durable = new TaskCompletionSource();
        var log = new ScriptedLog { Next = _ => durable.Task };
        await using var engine = CounterEngine.CreateJournaled(Engines.Options(1), log);
        engine.Start();

        var execute = engine.ExecuteAsync("k", CounterOperation.Add(1, "a"));
        await log.NextAppendAsync();
        durable.SetException(new IOException("fsync failed"));

        var error = await Assert.ThrowsAsync<IOException>(() => execute.WaitAsync(Engines.Guard));
        Assert.Equal("fsync failed", error.Message);
    }

    [Fact]
    public async Task ExecuteAsync_RetryOfAWriteNotYetDurable_IsNotAcknowledgedBeforeIt()
    {
        // The original write's record is still being made durable; an acknowledged duplicate would tell
        // the retrying client "done" for a write a crash could still lose.
        var firstDurable = new TaskCompletionSource();
        var log = new ScriptedLog { Next = call => call == 1 ? firstDurable.Task : Task.CompletedTask };
        var options = Engines.Options(1);
        // Long enough that the retry after the record is durable answers within it on a loaded CI machine
        // (300 ms made it time out there now and then); the duplicate before that must still time out.
        options.OperationTimeout = TimeSpan.FromSeconds(1);
        await using var engine = CounterEngine.CreateJournaled(options, log);
        engine.Start();

        var original = engine.ExecuteAsync("k", CounterOperation.Add(1, "op"));
        await log.NextAppendAsync();

        await Assert.ThrowsAsync<EngineTimeoutException>(() => engine.ExecuteAsync("k", CounterOperation.Add(1, "op")));

        firstDurable.SetResult();
        var retry = await engine.ExecuteAsync("k", CounterOperation.Add(1, "op"));
        Assert.Equal((OperationStatus.Duplicate, 1L), (retry.Status, retry.Counter.Value));
        await Record.ExceptionAsync(() => original); // timed out or answered; either is fine here
    }
}
