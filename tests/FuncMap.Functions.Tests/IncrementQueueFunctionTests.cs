using System.Text.Json;
using Azure;
using Azure.Storage.Queues.Models;
using FuncMap.Functions.Batches;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using FuncMap.Storage;
using FuncMap.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

/// <summary>
/// The queue trigger on messages received from a real Azurite, as the runtime hands them over (the Azure SDK's
/// <see cref="QueueMessage"/>); what it returns is what the poison output binding writes, so it is sent to a real
/// poison queue and read back. The Durable entity client is a test double.
/// </summary>
[Collection(AzuriteTests.Name)]
public sealed class IncrementQueueFunctionTests(AzuriteFixture azurite)
{
    private const string Batch = """
        { "batchId": "2026-11-22T10:00:00Z-worker7-000123",
          "items": [ { "key": "page:home", "delta": 3 }, { "key": "page:cart", "delta": -1 }, { "key": "page:home", "delta": 2 } ] }
        """;

    private static IncrementQueueFunction CreateFunction(int maxDeliveries = 5) =>
        new(Options.Create(new FuncMapFunctionsOptions { MaxDeliveries = maxDeliveries }), new FunctionsMetrics(new TestMeterFactory()), TimeProvider.System, NullLogger<IncrementQueueFunction>.Instance);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task HandleAsync_ValidBatchPlainOrBase64_OneAddPerKeyWithBatchIdAndNoPoison(bool base64)
    {
        var entities = new FakeEntityClient { RunCounters = true };
        var message = await DeliverAsync(IncrementMessages.Encode(Batch, base64));

        var poison = await CreateFunction().HandleAsync(message, entities, CancellationToken.None);

        Assert.Empty(poison);
        var signals = entities.Signals.OrderBy(s => s.Id.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(2, signals.Count);
        Assert.All(signals, s => Assert.Equal(CounterOperations.Add, s.Operation));
        Assert.Equal(("page:cart", "2026-11-22T10:00:00Z-worker7-000123", -1L), Command(signals[0]));
        Assert.Equal(("page:home", "2026-11-22T10:00:00Z-worker7-000123", 5L), Command(signals[1]));
    }

    private static (string Key, string OperationId, long Delta) Command((Microsoft.DurableTask.Entities.EntityInstanceId Id, string Operation, object? Input, Microsoft.DurableTask.Entities.SignalEntityOptions? Options) signal) =>
        signal.Input is CounterCommand command ? (signal.Id.Key, command.OperationId, command.Delta) : throw new InvalidOperationException("not a CounterCommand");

    [Fact]
    public async Task HandleAsync_AddThatOverflowsAStoredCounter_RestAppliedAndPoisonEnvelopeNamesTheKey()
    {
        var entities = new FakeEntityClient { RunCounters = true };
        await entities.SignalEntityAsync(Counter.IdOf("page:max"), CounterOperations.Add, new CounterCommand("fill", long.MaxValue));
        const string text = """{ "batchId": "b-7", "items": [ { "key": "page:max", "delta": 1 }, { "key": "page:ok", "delta": 2 } ] }""";
        var message = await DeliverAsync(text);

        var output = await CreateFunction().HandleAsync(message, entities, CancellationToken.None);

        var envelope = await azurite.ThroughPoisonQueueAsync(Assert.Single(output));
        Assert.StartsWith("overflow at apply", envelope.Reason, StringComparison.Ordinal);
        Assert.Equal("b-7", envelope.BatchId);
        Assert.Equal(["page:max"], envelope.Keys!);
        Assert.Equal(("page:max", IncrementMessages.OverflowRule), (envelope.Errors[0].Field, envelope.Errors[0].Rule));
        Assert.Equal(text, envelope.OriginalMessage);
        var stored = await entities.GetEntityAsync<FuncMap.Counters.CounterState>(Counter.IdOf("page:max"));
        var applied = await entities.GetEntityAsync<FuncMap.Counters.CounterState>(Counter.IdOf("page:ok"));
        Assert.Equal((long.MaxValue, 1L), (stored!.State.Value, stored.State.Version));
        Assert.Equal(2, applied!.State.Value);
    }

    [Fact]
    public async Task HandleAsync_OwnersDoNotAnswer_ThrowsSoTheRuntimeRetries()
    {
        var entities = new FakeEntityClient();
        var function = new IncrementQueueFunction(
            Options.Create(new FuncMapFunctionsOptions { QueueWaitTimeout = TimeSpan.FromMilliseconds(50) }),
            new FunctionsMetrics(new TestMeterFactory()), TimeProvider.System, NullLogger<IncrementQueueFunction>.Instance);
        var message = await DeliverAsync(Batch);

        await Assert.ThrowsAsync<TimeoutException>(() => function.HandleAsync(message, entities, CancellationToken.None));
        Assert.Equal(2, entities.Signals.Count);
    }

    [Theory]
    [InlineData("not json at all {", "message.encoding")]
    [InlineData("{ not json", "json.syntax")]
    [InlineData("""{ "batchId": "b", "items": [ { "key": "bad key", "delta": 1 } ] }""", "key.charset")]
    [InlineData("""{ "items": [ { "key": "k", "delta": 1 } ] }""", null)]
    [InlineData("""{ "batchId": "b", "items": [ { "key": "k", "delta": 9223372036854775807 }, { "key": "k", "delta": 1 } ] }""", null)]
    [InlineData("""{ "batchId": "b", "batchId": "c", "items": [ { "key": "k", "delta": 1 } ] }""", "batch.duplicateProperty")]
    [InlineData("""{ "batchId": "b", "items": [ { "key": "k", "delta": 1, "delta": 5 } ] }""", null)]
    public async Task HandleAsync_BatchThatCanNeverSucceed_EnvelopeOnThePoisonQueueAndNothingSignalled(string text, string? rule)
    {
        var entities = new FakeEntityClient();
        var message = await DeliverAsync(text);

        var output = await CreateFunction().HandleAsync(message, entities, CancellationToken.None);

        Assert.Empty(entities.Signals);
        var envelope = await azurite.ThroughPoisonQueueAsync(Assert.Single(output));
        Assert.Equal(IncrementMessages.InvalidReason, envelope.Reason);
        Assert.Equal((message.MessageId, 1L, message.InsertedOn), (envelope.MessageId, envelope.DequeueCount, envelope.InsertedOn));
        Assert.Equal(text, envelope.OriginalMessage);
        Assert.False(envelope.OriginalMessageTruncated);
        Assert.NotEmpty(envelope.Errors);
        Assert.All(envelope.Errors, static e => Assert.False(string.IsNullOrEmpty(e.Rule)));
        if (rule is not null)
        {
            Assert.Contains(envelope.Errors, e => e.Rule == rule);
        }
    }

    [Fact]
    public async Task HandleAsync_InvalidMessage_EnvelopeHasTheLocalHostsFields()
    {
        var message = await DeliverAsync("{}");

        using var json = JsonDocument.Parse(Assert.Single(await CreateFunction().HandleAsync(message, new FakeEntityClient(), CancellationToken.None)));

        Assert.Equal(
            ["reason", "errors", "messageId", "insertedOn", "dequeueCount", "originalMessage", "originalMessageTruncated"],
            json.RootElement.EnumerateObject().Select(p => p.Name).ToArray());
    }

    [Theory]
    [InlineData(503)]
    [InlineData(403)]
    public async Task HandleAsync_SignalFailsBeforeTheLastDelivery_ThrowsSoTheRuntimeDeliversAgain(int status)
    {
        var entities = new FakeEntityClient { FailSignalsWith = new RequestFailedException(status, "storage refused") };
        var message = await DeliverAsync(Batch);

        await Assert.ThrowsAsync<RequestFailedException>(() => CreateFunction(maxDeliveries: 2).HandleAsync(message, entities, CancellationToken.None));
    }

    [Fact]
    public async Task HandleAsync_SignalFailsOnTheLastDelivery_TooManyDeliveriesEnvelopeInsteadOfARetry()
    {
        var entities = new FakeEntityClient { FailSignalsWith = new RequestFailedException(503, "storage refused") };
        var queue = await azurite.NewQueueAsync("inc");
        await queue.SendMessageAsync(Batch);
        var first = await queue.ReceiveOneAsync();
        await Assert.ThrowsAsync<RequestFailedException>(() => CreateFunction(maxDeliveries: 2).HandleAsync(first, entities, CancellationToken.None));
        // What the runtime does after a failed invocation: the message becomes visible again and is delivered anew.
        await queue.UpdateMessageAsync(first.MessageId, first.PopReceipt, (string?)null, TimeSpan.Zero);
        var second = await queue.ReceiveOneAsync();
        Assert.Equal(2, second.DequeueCount);

        var output = await CreateFunction(maxDeliveries: 2).HandleAsync(second, entities, CancellationToken.None);

        var envelope = await azurite.ThroughPoisonQueueAsync(Assert.Single(output));
        Assert.Equal(IncrementMessages.TooManyDeliveriesReason + "storage refused", envelope.Reason);
        Assert.Equal((second.MessageId, 2L, Batch), (envelope.MessageId, envelope.DequeueCount, envelope.OriginalMessage));
    }

    [Fact]
    public void MaxDeliveries_Default_EqualsHostJsonMaxDequeueCount()
    {
        using var host = JsonDocument.Parse(File.ReadAllText(Path.Combine(azurite.RepositoryRoot, "host.json")));

        var maxDequeueCount = host.RootElement.GetProperty("extensions").GetProperty("queues").GetProperty("maxDequeueCount").GetInt32();

        Assert.Equal(maxDequeueCount, new FuncMapFunctionsOptions().MaxDeliveries);
        Assert.Equal("none", host.RootElement.GetProperty("extensions").GetProperty("queues").GetProperty("messageEncoding").GetString());
    }

    /// <summary>Sends <paramref name="text"/> to a fresh queue and receives it, as the trigger's listener does.</summary>
    private async Task<QueueMessage> DeliverAsync(string text)
    {
        var queue = await azurite.NewQueueAsync("inc");
        await queue.SendMessageAsync(text);
        return await queue.ReceiveOneAsync();
    }
}
