using FuncMap.LoadGen;
using FuncMap.Testing;

namespace FuncMap.Storage.Tests;

/// <summary>The load generator's fill (bench/FuncMap.LoadGen) stopped part way, against a real Azurite queue.</summary>
[Collection(AzuriteTests.Name)]
public sealed class LoadGenFillTests(AzuriteFixture azurite)
{
    /// <summary>
    /// A fill stopped part way (Ctrl+C cancels the token) returns the totals of exactly the batches on the queue: the sends
    /// in flight finish and are counted, none is started after the stop (issue 21, item 17: it used to write nothing).
    /// </summary>
    [Fact]
    public async Task SendAsync_StoppedPartWay_TotalsAreExactlyThoseOfTheBatchesOnTheQueue()
    {
        var queue = await azurite.NewQueueAsync("fill");
        var batches = new QueueFill(400, 10, 50, "fill:").Build(base64: false);
        using var stop = new CancellationTokenSource();
        var sent = 0;

        var result = await QueueFill.SendAsync(batches, text => queue.SendMessageAsync(text), concurrency: 8, () =>
        {
            if (Interlocked.Increment(ref sent) == 60)
            {
                stop.Cancel();
            }
        }, stop.Token);

        Assert.True(result.Stopped);
        Assert.Null(result.Error);
        Assert.InRange(result.Batches, 60, 67); // the stop came at the 60th; at most 7 more were in flight
        var onQueue = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var messages = 0;
        while (true)
        {
            var received = (await queue.ReceiveMessagesAsync(32, TimeSpan.FromMinutes(5))).Value;
            if (received.Length == 0)
            {
                break;
            }

            foreach (var message in received)
            {
                messages++;
                foreach (var (key, delta) in IncrementMessages.Parse(message).Batch!.Deltas)
                {
                    onQueue[key] = onQueue.GetValueOrDefault(key) + delta;
                }
            }
        }

        Assert.Equal(result.Batches, messages);
        Assert.Equal(result.Batches * 10, result.Items);
        Assert.Equal(onQueue, new SortedDictionary<string, long>(result.Totals.ToDictionary(), StringComparer.Ordinal));
        Assert.StartsWith($"Sent {result.Batches} of 400 batches ({result.Items} items) in ", QueueFill.Summarize(result, 400, TimeSpan.FromSeconds(1), "x.json"), StringComparison.Ordinal);
    }
}
