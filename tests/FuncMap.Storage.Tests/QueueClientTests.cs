using FuncMap.Testing;

namespace FuncMap.Storage.Tests;

[Collection(AzuriteTests.Name)]
public sealed class QueueClientTests(AzuriteFixture azurite)
{
    private static readonly TimeSpan Long = TimeSpan.FromMinutes(5);

    private async Task<IQueueClient> NewQueueAsync()
    {
        var queue = StorageConnection.FromConnectionString(azurite.ConnectionString).GetQueueClient(AzuriteFixture.UniqueQueueName());
        await queue.CreateIfNotExistsAsync();
        return queue;
    }

    [Fact]
    public async Task CreateIfNotExists_CalledTwice_Succeeds()
    {
        var queue = await NewQueueAsync();
        await queue.CreateIfNotExistsAsync();

        Assert.Equal(0, await queue.GetApproximateCountAsync());
    }

    [Fact]
    public async Task SendReceiveDelete_RoundTripsAndRemovesMessage()
    {
        var queue = await NewQueueAsync();
        var sent = await queue.SendMessageAsync("hello");

        var received = Assert.Single(await queue.ReceiveMessagesAsync(32, Long));

        Assert.Equal(sent.MessageId, received.MessageId);
        Assert.Equal("hello", received.MessageText);
        Assert.Equal(1, received.DequeueCount);
        Assert.Equal(1, await queue.GetApproximateCountAsync());
        await queue.DeleteMessageAsync(received.MessageId, received.PopReceipt);
        Assert.Equal(0, await queue.GetApproximateCountAsync());
    }

    [Fact]
    public async Task ReceiveMessages_DuringVisibilityTimeout_MessageIsInvisibleUntilVisibilityUpdatedToZero()
    {
        var queue = await NewQueueAsync();
        await queue.SendMessageAsync("work");
        var first = Assert.Single(await queue.ReceiveMessagesAsync(1, Long));

        Assert.Empty(await queue.ReceiveMessagesAsync(32, Long));

        var receipt = await queue.UpdateVisibilityAsync(first.MessageId, first.PopReceipt, TimeSpan.Zero);
        Assert.NotEqual(first.PopReceipt, receipt);
        var second = Assert.Single(await queue.ReceiveMessagesAsync(1, Long));
        Assert.Equal(first.MessageId, second.MessageId);
        Assert.Equal(2, second.DequeueCount);

        var stale = await Assert.ThrowsAsync<StorageException>(() => queue.DeleteMessageAsync(first.MessageId, first.PopReceipt));
        Assert.Equal(400, stale.Status);
        Assert.Equal("PopReceiptMismatch", stale.ErrorCode);
        await queue.DeleteMessageAsync(second.MessageId, second.PopReceipt);
    }

    [Fact]
    public async Task UpdateVisibility_NewPopReceipt_IsTheOneThatDeletes()
    {
        var queue = await NewQueueAsync();
        await queue.SendMessageAsync("lease me");
        var message = Assert.Single(await queue.ReceiveMessagesAsync(1, Long));

        var renewed = await queue.UpdateVisibilityAsync(message.MessageId, message.PopReceipt, Long);

        Assert.Empty(await queue.ReceiveMessagesAsync(1, Long));
        await queue.DeleteMessageAsync(message.MessageId, renewed);
        Assert.Equal(0, await queue.GetApproximateCountAsync());
    }

    [Fact]
    public async Task SendMessage_VisibilityDelay_HidesMessage()
    {
        var queue = await NewQueueAsync();
        await queue.SendMessageAsync("later", visibilityDelay: Long, timeToLive: TimeSpan.FromHours(1));

        Assert.Empty(await queue.ReceiveMessagesAsync(32, Long));
        Assert.Equal(1, await queue.GetApproximateCountAsync());
    }

    [Fact]
    public async Task SendMessage_XmlSpecialCharacters_RoundTrip()
    {
        var queue = await NewQueueAsync();
        const string Text = "{\"batchId\":\"a<b>&c\",\"q\":'x'}\r\n]]> <![CDATA[ &amp; \t é 😀";
        await queue.SendMessageAsync(Text);

        var received = Assert.Single(await queue.ReceiveMessagesAsync(1, Long));

        Assert.Equal(Text, received.MessageText);
    }

    [Fact]
    public async Task ReceiveMessages_MoreThan32_Rejected()
    {
        var queue = await NewQueueAsync();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => queue.ReceiveMessagesAsync(33, Long));
    }

    [Fact]
    public async Task ReceiveMessages_ManyMessages_ReturnsAtMostMaxAndEachOnce()
    {
        var queue = await NewQueueAsync();
        for (var i = 0; i < 40; i++)
        {
            await queue.SendMessageAsync("m" + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var first = await queue.ReceiveMessagesAsync(32, Long);
        var second = await queue.ReceiveMessagesAsync(32, Long);

        Assert.Equal(32, first.Count);
        Assert.Equal(8, second.Count);
        Assert.Equal(40, first.Concat(second).Select(m => m.MessageText).Distinct().Count());
    }

    [Fact]
    public async Task Clear_RemovesAllMessages()
    {
        var queue = await NewQueueAsync();
        await queue.SendMessageAsync("a");
        await queue.SendMessageAsync("b");

        await queue.ClearAsync();

        Assert.Equal(0, await queue.GetApproximateCountAsync());
        Assert.Empty(await queue.ReceiveMessagesAsync(32, Long));
    }

    [Fact]
    public async Task AnyRequest_MissingQueue_Throws404QueueNotFound()
    {
        var queue = StorageConnection.FromConnectionString(azurite.ConnectionString).GetQueueClient(AzuriteFixture.UniqueQueueName());

        var ex = await Assert.ThrowsAsync<StorageException>(() => queue.SendMessageAsync("x"));

        Assert.Equal(404, ex.Status);
        Assert.Equal("QueueNotFound", ex.ErrorCode);
    }
}
