using System.Collections.Concurrent;
using FuncMap.Journal;
using FuncMap.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FuncMap.Local.Storage.Tests;

/// <summary>Issue 19, item 3: queues deleted under a running host come back, and no message is delivered without bound.</summary>
[Collection(StorageTestGroup.Name)]
public sealed class QueueRecoveryTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task PoisonQueueDeletedAtRuntime_InvalidMessage_PoisonedAtItsFirstDelivery_QueueRecreated()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        var logs = new CapturedLogs();
        await using var host = setup.Start(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await host.WaitReadyAsync();
        await Eventually.TrueAsync(async () => (await setup.PoisonQueue.ExistsAsync()).Value, "the host to create the poison queue");

        await setup.PoisonQueue.DeleteAsync();
        await setup.Queue.SendMessageAsync("""{"batchId": "x", "items": [""");

        await Eventually.TrueAsync(async () => (await setup.PoisonQueue.ExistsAsync()).Value, "the host to re-create the poison queue");
        var envelope = Assert.Single(await setup.ReceivePoisonAsync(1));
        Assert.Equal(1, envelope.DequeueCount);
        Assert.StartsWith("invalid message", envelope.Reason, StringComparison.Ordinal);
        Assert.Equal([setup.PoisonQueueName], logs.Events(1450).Select(static e => e.Value("Queue")));
        await Eventually.TrueAsync(async () => await setup.Queue.GetApproximateCountAsync() == 0, "the poisoned message to be deleted");
    }

    [Fact]
    public async Task IncrementQueueDeletedAtRuntime_Recreated_LaterBatchApplied()
    {
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        var logs = new CapturedLogs();
        await using var host = setup.Start(services: s => s.AddSingleton<ILoggerProvider>(logs));
        await host.WaitReadyAsync();
        await Eventually.TrueAsync(async () => (await setup.Queue.ExistsAsync()).Value, "the host to create the queue");

        await setup.Queue.DeleteAsync();
        await Eventually.TrueAsync(async () => (await setup.Queue.ExistsAsync()).Value, "the host to re-create the deleted queue");
        await setup.Queue.SendMessageAsync(IngestionTests.Batch("after-delete", ("q:back", 7)));

        await Eventually.TrueAsync(async () => (await host.GetAsync("q:back"))?.Value == 7, "the batch sent after the re-creation");
        Assert.Contains(setup.QueueName, logs.Events(1450).Select(static e => e.Value("Queue")));
    }

    [Fact]
    public async Task PoisonSendFailsEveryTime_MessageParkedAtDeliveryMaxPlusOne_LoggedCriticalOnce_LeftOnTheQueueInvisible()
    {
        // A poison queue name the service refuses (an underscore): every send to it fails, and so does its creation.
        using var setup = new StorageSetup(azurite, DurabilityMode.Journal);
        var logs = new CapturedLogs();
        await using var host = setup.Start(
            static s =>
            {
                s["FuncMap:Storage:PoisonQueueName"] = "bad_poison";
                s["FuncMap:Storage:MaxDeliveries"] = "2";
                s["FuncMap:Storage:VisibilityTimeout"] = "00:00:03";
            },
            s => s.AddSingleton<ILoggerProvider>(logs));
        await host.WaitReadyAsync();
        await Eventually.TrueAsync(async () => (await setup.Queue.ExistsAsync()).Value, "the host to create the queue");
        await setup.Queue.SendMessageAsync("not json at all {");

        // The count goes up just before the critical line is written: wait for both.
        await Eventually.TrueAsync(() => Task.FromResult(host.Ingestion.ParkedMessages == 1 && logs.Events(1453).Any()), "the message to be parked and logged");
        var parked = Assert.Single(logs.Events(1453));
        Assert.Equal(LogLevel.Critical, parked.Level);
        Assert.Equal((3L, 2, "bad_poison"), ((long)parked.Value("DequeueCount")!, (int)parked.Value("MaxDeliveries")!, (string)parked.Value("PoisonQueue")!));
        Assert.Equal([1L, 2L], logs.Events(1452).Select(static e => (long)e.Value("DequeueCount")!));

        // Still on the queue, and invisible to every receiver: not delivered again.
        Assert.Equal(1, await setup.Queue.GetApproximateCountAsync());
        Assert.Empty((await setup.Queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(3))).Value);
        Assert.Equal(1, host.Ingestion.ParkedMessages);
    }

    [Fact]
    public async Task JournalRefusesTheBatchPastMaxDeliveries_MessageNeverPoisoned_AppliedOnceTheJournalWrites()
    {
        // The log refuses the first three appends (a full disk): with MaxDeliveries 2 the message used to be poisoned
        // at its second delivery, although it is valid and nothing of it was applied.
        var log = new RefusingLog(refusals: 3);
        using var setup = new StorageSetup(azurite, DurabilityMode.Snapshot);
        await using var host = setup.Start(
            static s =>
            {
                s["FuncMap:Storage:MaxDeliveries"] = "2";
                s["FuncMap:Storage:VisibilityTimeout"] = "00:00:03";
            },
            services: s => s.AddSingleton<FuncMap.Engine.IOperationLog>(log));
        await host.WaitReadyAsync();

        await setup.Queue.SendMessageAsync(IngestionTests.Batch("disk-full-1", ("q:disk", 7)));

        await Eventually.TrueAsync(async () => (await host.GetAsync("q:disk"))?.Value == 7, "the batch applied once the journal writes again", TimeSpan.FromSeconds(90));
        Assert.True(log.Calls > 3);
        Assert.Empty((await setup.PoisonQueue.PeekMessagesAsync(32)).Value);
        Assert.Equal(7, (await host.GetAsync("q:disk"))!.Value);
    }

    /// <summary>A log that refuses its first appends as a full disk would, then makes everything durable.</summary>
    private sealed class RefusingLog(int refusals) : FuncMap.Engine.IOperationLog
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public long Generation => 0;

        public Task Append(int shard, ReadOnlySpan<FuncMap.Engine.AppliedOperation> operations, long generation) =>
            Interlocked.Increment(ref _calls) <= refusals
                ? Task.FromException(new FuncMap.Engine.OperationLogUnavailableException("No space left on device.", "ENOSPC", mayBeApplied: false, null))
                : Task.CompletedTask;
    }
}

/// <summary>Every log event of the host, with its structured values, for exact assertions on what was logged.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<CapturedLog> _events = new();

    /// <summary>The events with <paramref name="eventId"/>, in the order they were logged.</summary>
    public IReadOnlyList<CapturedLog> Events(int eventId) => [.. _events.Where(e => e.EventId == eventId)];

    /// <summary>Every event, in the order they were logged.</summary>
    public IReadOnlyList<CapturedLog> All => [.. _events];

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            owner._events.Enqueue(new CapturedLog(eventId.Id, logLevel, formatter(state, exception), values.ToDictionary(static v => v.Key, static v => v.Value, StringComparer.Ordinal)));
        }
    }
}

/// <summary>One captured log event.</summary>
public sealed record CapturedLog(int EventId, LogLevel Level, string Message, IReadOnlyDictionary<string, object?> Values)
{
    public object? Value(string name) => Values.TryGetValue(name, out var value) ? value : null;

}
