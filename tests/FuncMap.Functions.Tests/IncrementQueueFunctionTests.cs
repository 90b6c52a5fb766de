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
        new(Options.Create(new FuncMapFunctionsOptions()), new FunctionsMetrics(new TestMeterFactory()), NullLogger<IncrementQueueFunction>.Instance);

    [Fact]
    public async Task HandleAsync_ValidBatch_OneAddPerKeyWithBatchIdAndNoPoison()
    {
        var entities = new FakeEntityClient();

        var poison = await CreateFunction().HandleAsync(Batch, "m1", 1, entities, CancellationToken.None);

        Assert.Empty(poison);
        var signals = entities.Signals.OrderBy(s => s.Id.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(2, signals.Count);
        Assert.All(signals, s => Assert.Equal(CounterOperations.Add, s.Operation));
        Assert.Equal(new CounterCommand("2026-11-22T10:00:00Z-worker7-000123", -1), signals[0].Input);
        Assert.Equal("page:cart", signals[0].Id.Key);
        Assert.Equal(new CounterCommand("2026-11-22T10:00:00Z-worker7-000123", 5), signals[1].Input);
        Assert.Equal("page:home", signals[1].Id.Key);
    }

    [Fact]
    public async Task HandleAsync_Base64Message_SameAsPlain()
    {
        var entities = new FakeEntityClient();
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(Batch));

        var poison = await CreateFunction().HandleAsync(encoded, "m1", 1, entities, CancellationToken.None);

        Assert.Empty(poison);
        Assert.Equal(2, entities.Signals.Count);
    }

    [Theory]
    [InlineData("not json at all {")]
    [InlineData("""{ "batchId": "b", "items": [ { "key": "bad key", "delta": 1 } ] }""")]
    [InlineData("""{ "items": [ { "key": "k", "delta": 1 } ] }""")]
    [InlineData("""{ "batchId": "b", "items": [ { "key": "k", "delta": 9223372036854775807 }, { "key": "k", "delta": 1 } ] }""")]
    public async Task HandleAsync_BatchThatCanNeverSucceed_PoisonEnvelopeAndNothingSignalled(string message)
    {
        var entities = new FakeEntityClient();

        var poison = await CreateFunction().HandleAsync(message, "m-42", 1, entities, CancellationToken.None);

        Assert.Empty(entities.Signals);
        var envelope = Assert.Single(poison);
        using var json = JsonDocument.Parse(envelope);
        Assert.Equal("m-42", json.RootElement.GetProperty("messageId").GetString());
        Assert.Equal(message, json.RootElement.GetProperty("message").GetString());
        Assert.NotEqual(0, json.RootElement.GetProperty("errors").GetArrayLength());
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("errors")[0].GetProperty("rule").GetString()));
    }

    [Fact]
    public async Task HandleAsync_StorageUnavailable_ThrowsSoTheRuntimeRetries()
    {
        var entities = new FakeEntityClient { FailSignalsWith = new IOException("storage down") };

        await Assert.ThrowsAsync<IOException>(() => CreateFunction().HandleAsync(Batch, "m1", 1, entities, CancellationToken.None));
    }

    [Fact]
    public void CreatePoisonEnvelope_LargeMessage_QuotesABoundedPrefix()
    {
        var message = new string('x', 60 * 1024);

        var envelope = IncrementQueueFunction.CreatePoisonEnvelope(message, "m", [new("$", "json.syntax", "bad")]);

        using var json = JsonDocument.Parse(envelope);
        Assert.True(json.RootElement.GetProperty("messageTruncated").GetBoolean());
        Assert.Equal(IncrementQueueFunction.MaxQuotedMessageChars, json.RootElement.GetProperty("message").GetString()!.Length);
        Assert.True(Encoding.UTF8.GetByteCount(envelope) < 64 * 1024);
    }
}
