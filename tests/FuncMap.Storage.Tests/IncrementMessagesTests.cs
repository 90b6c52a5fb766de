using System.Text;
using Azure.Storage.Queues.Models;
using FuncMap.Testing;

namespace FuncMap.Storage.Tests;

/// <summary>The queue codec, the poison envelope and the retry decision, on messages received from a real Azurite.</summary>
[Collection(AzuriteTests.Name)]
public sealed class IncrementMessagesTests(AzuriteFixture azurite)
{
    private const string Batch = """{"batchId":"b-1","items":[{"key":"k","delta":2},{"key":"k","delta":3}]}""";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Parse_PlainOrBase64Message_SameBatch(bool base64)
    {
        var queue = await azurite.NewQueueAsync();
        await queue.SendMessageAsync(IncrementMessages.Encode(Batch, base64));

        var parsed = IncrementMessages.Parse(await queue.ReceiveOneAsync());

        Assert.True(parsed.IsValid);
        Assert.Equal("b-1", parsed.Batch!.BatchId);
        Assert.Equal(5, Assert.Single(parsed.Batch.Deltas).Delta);
    }

    [Fact]
    public async Task Invalid_MalformedMessage_EnvelopeCarriesReceivedIdentityRulesAndOriginal_AndSurvivesThePoisonQueue()
    {
        var queue = await azurite.NewQueueAsync();
        const string text = """{"batchId": "x", "items": [ {"key": "bad key!", "delta": 1 }]}""";
        await queue.SendMessageAsync(text);
        var message = await queue.ReceiveOneAsync();
        var parsed = IncrementMessages.Parse(message);
        Assert.False(parsed.IsValid);

        var envelope = await azurite.ThroughPoisonQueueAsync(IncrementMessages.Invalid(message, parsed.Errors).ToJson());

        Assert.Equal(IncrementMessages.InvalidReason, envelope.Reason);
        Assert.Equal((message.MessageId, message.DequeueCount, message.InsertedOn), (envelope.MessageId, envelope.DequeueCount, envelope.InsertedOn));
        Assert.Equal(text, envelope.OriginalMessage);
        Assert.False(envelope.OriginalMessageTruncated);
        Assert.Contains(envelope.Errors, static e => e.Rule == "key.charset");
    }

    [Fact]
    public void ToJson_OriginalOverTheQueueLimit_CutToFitAndFlagged()
    {
        var huge = new string('x', 100_000);
        var message = QueuesModelFactory.QueueMessage("id", "receipt", BinaryData.FromString(huge), 1, insertedOn: DateTimeOffset.UtcNow);

        var json = IncrementMessages.Invalid(message, []).ToJson();

        Assert.True(Encoding.UTF8.GetByteCount(json) <= PoisonEnvelope.MaxBytes);
        var envelope = PoisonEnvelope.Parse(json)!;
        Assert.True(envelope.OriginalMessageTruncated);
        Assert.Equal(huge.Length, envelope.OriginalMessageLength);
        Assert.StartsWith(envelope.OriginalMessage, huge, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GiveUp_BelowMaxDeliveries_Retry_AtMax_PoisonWithTheFailure()
    {
        var queue = await azurite.NewQueueAsync();
        await queue.SendMessageAsync(Batch);
        var first = await queue.ReceiveOneAsync();
        await queue.UpdateMessageAsync(first.MessageId, first.PopReceipt, (string?)null, TimeSpan.Zero);
        var second = await queue.ReceiveOneAsync();
        Assert.Equal(2, second.DequeueCount);
        var failure = new InvalidOperationException("engine busy");

        Assert.Null(IncrementMessages.GiveUp(second, failure, maxDeliveries: 3));
        var envelope = IncrementMessages.GiveUp(second, failure, maxDeliveries: 2);

        Assert.NotNull(envelope);
        Assert.Equal(IncrementMessages.TooManyDeliveriesReason + "engine busy", envelope.Reason);
        Assert.Equal((second.MessageId, 2L, Batch), (envelope.MessageId, envelope.DequeueCount, envelope.OriginalMessage));
    }
}
