using System.Text;
using System.Text.Json;
using FuncMap.Functions.Batches;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

public class IncrementQueueFunctionTests
{
    private const string Batch = """
        { "batchId": "2026-11-22T10:00:00Z-worker7-000123",
          "items": [ { "key": "page:home", "delta": 3 }, { "key": "page:cart", "delta": -1 }, { "key": "page:home", "delta": 2 } ] }
        """;

    private static IncrementQueueFunction CreateFunction() =>
        new(Options.Create(new FuncMapFunctionsOptions()), new FunctionsMetrics(new TestMeterFactory()), TimeProvider.System, NullLogger<IncrementQueueFunction>.Instance);

    [Fact]
    public async Task HandleAsync_ValidBatch_OneAddPerKeyWithBatchIdAndNoPoison()
    {
        var entities = new FakeEntityClient { RunCounters = true };

        var poison = await CreateFunction().HandleAsync(Batch, new QueueMessageInfo("m1", 1), entities, CancellationToken.None);

        Assert.Empty(poison);
        var signals = entities.Signals.OrderBy(s => s.Id.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(2, signals.Count);
        Assert.All(signals, s => Assert.Equal(CounterOperations.Add, s.Operation));
        Assert.Equal(("2026-11-22T10:00:00Z-worker7-000123", -1L), Command(signals[0].Input));
        Assert.Equal("page:cart", signals[0].Id.Key);
        Assert.Equal(("2026-11-22T10:00:00Z-worker7-000123", 5L), Command(signals[1].Input));
        Assert.Equal("page:home", signals[1].Id.Key);
    }

    private static (string OperationId, long Delta) Command(object? input) =>
        input is CounterCommand command ? (command.OperationId, command.Delta) : throw new InvalidOperationException("not a CounterCommand");

    [Fact]
    public async Task HandleAsync_AddThatOverflowsAStoredCounter_RestAppliedAndPoisonEnvelopeNamesTheKey()
    {
        var entities = new FakeEntityClient { RunCounters = true };
        await entities.SignalEntityAsync(Counter.IdOf("page:max"), CounterOperations.Add, new CounterCommand("fill", long.MaxValue));
        const string message = """{ "batchId": "b-7", "items": [ { "key": "page:max", "delta": 1 }, { "key": "page:ok", "delta": 2 } ] }""";

        var poison = await CreateFunction().HandleAsync(message, new QueueMessageInfo("m-9", 1), entities, CancellationToken.None);

        using var json = JsonDocument.Parse(Assert.Single(poison));
        var root = json.RootElement;
        Assert.StartsWith("overflow at apply", root.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("b-7", root.GetProperty("batchId").GetString());
        Assert.Equal(["page:max"], root.GetProperty("keys").EnumerateArray().Select(k => k.GetString()!).ToArray());
        Assert.Equal(("page:max", "counter.overflow"), (root.GetProperty("errors")[0].GetProperty("field").GetString(), root.GetProperty("errors")[0].GetProperty("rule").GetString()));
        Assert.Equal(message, root.GetProperty("originalMessage").GetString());
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

        await Assert.ThrowsAsync<TimeoutException>(() => function.HandleAsync(Batch, new QueueMessageInfo("m1", 1), entities, CancellationToken.None));
        Assert.Equal(2, entities.Signals.Count);
    }

    [Fact]
    public async Task HandleAsync_Base64Message_SameAsPlain()
    {
        var entities = new FakeEntityClient { RunCounters = true };
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(Batch));

        var poison = await CreateFunction().HandleAsync(encoded, new QueueMessageInfo("m1", 1), entities, CancellationToken.None);

        Assert.Empty(poison);
        Assert.Equal(2, entities.Signals.Count);
    }

    [Theory]
    [InlineData("not json at all {")]
    [InlineData("""{ "batchId": "b", "items": [ { "key": "bad key", "delta": 1 } ] }""")]
    [InlineData("""{ "items": [ { "key": "k", "delta": 1 } ] }""")]
    [InlineData("""{ "batchId": "b", "items": [ { "key": "k", "delta": 9223372036854775807 }, { "key": "k", "delta": 1 } ] }""")]
    [InlineData("""{ "batchId": "b", "batchId": "c", "items": [ { "key": "k", "delta": 1 } ] }""")]
    [InlineData("""{ "batchId": "b", "items": [ { "key": "k", "delta": 1, "delta": 5 } ] }""")]
    [InlineData("""{ "batchId": "b", "items": [ { "key": "k", "key": "other", "delta": 1 } ] }""")]
    public async Task HandleAsync_BatchThatCanNeverSucceed_PoisonEnvelopeAndNothingSignalled(string message)
    {
        var entities = new FakeEntityClient();

        var poison = await CreateFunction().HandleAsync(message, new QueueMessageInfo("m-42", 3), entities, CancellationToken.None);

        Assert.Empty(entities.Signals);
        var envelope = Assert.Single(poison);
        using var json = JsonDocument.Parse(envelope);
        Assert.Equal("m-42", json.RootElement.GetProperty("messageId").GetString());
        Assert.Equal(3, json.RootElement.GetProperty("dequeueCount").GetInt64());
        Assert.Equal(message, json.RootElement.GetProperty("originalMessage").GetString());
        Assert.False(json.RootElement.GetProperty("originalMessageTruncated").GetBoolean());
        Assert.NotEqual(0, json.RootElement.GetProperty("errors").GetArrayLength());
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("errors")[0].GetProperty("rule").GetString()));
    }

    [Fact]
    public async Task HandleAsync_RepeatedBatchId_PoisonNamesTheDuplicatePropertyRule()
    {
        var entities = new FakeEntityClient();

        var poison = await CreateFunction().HandleAsync(
            """{ "batchId": "b", "batchId": "c", "items": [ { "key": "k", "delta": 1 } ] }""", new QueueMessageInfo("m", 1), entities, CancellationToken.None);

        using var json = JsonDocument.Parse(Assert.Single(poison));
        var rules = json.RootElement.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("rule").GetString()).ToList();
        Assert.Contains("batch.duplicateProperty", rules);
    }

    [Fact]
    public void CreatePoisonEnvelope_KnownMessage_LocalHostEnvelopeFields()
    {
        var insertedOn = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

        var envelope = IncrementQueueFunction.CreatePoisonEnvelope("{}", new QueueMessageInfo("m-7", 2, insertedOn), [new("batchId", "id.required", "missing")]);

        using var json = JsonDocument.Parse(envelope);
        var root = json.RootElement;
        Assert.Equal(
            ["reason", "errors", "messageId", "insertedOn", "dequeueCount", "originalMessage", "originalMessageTruncated"],
            root.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(IncrementQueueFunction.InvalidMessageReason, root.GetProperty("reason").GetString());
        Assert.Equal(insertedOn, root.GetProperty("insertedOn").GetDateTimeOffset());
        Assert.Equal("id.required", root.GetProperty("errors")[0].GetProperty("rule").GetString());
        Assert.Equal("batchId", root.GetProperty("errors")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task HandleAsync_StorageUnavailable_ThrowsSoTheRuntimeRetries()
    {
        var entities = new FakeEntityClient { FailSignalsWith = new IOException("storage down") };

        await Assert.ThrowsAsync<IOException>(() => CreateFunction().HandleAsync(Batch, new QueueMessageInfo("m1", 1), entities, CancellationToken.None));
    }

    [Fact]
    public void CreatePoisonEnvelope_LargeMessage_QuotesABoundedPrefix()
    {
        var message = new string('x', 60 * 1024);

        var envelope = IncrementQueueFunction.CreatePoisonEnvelope(message, new QueueMessageInfo("m", 1), [new("$", "json.syntax", "bad")]);

        using var json = JsonDocument.Parse(envelope);
        Assert.True(json.RootElement.GetProperty("originalMessageTruncated").GetBoolean());
        Assert.Equal(message.Length, json.RootElement.GetProperty("originalMessageLength").GetInt32());
        Assert.Equal(IncrementQueueFunction.MaxQuotedMessageChars, json.RootElement.GetProperty("originalMessage").GetString()!.Length);
        Assert.True(Encoding.UTF8.GetByteCount(envelope) < 64 * 1024);
    }
}
