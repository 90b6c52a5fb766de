using System.Threading.Channels;

namespace FuncMap.Engine;

/// <summary>
/// A shard's bounded mailbox: many writers, one reader (the shard's owner loop). A full mailbox is
/// backpressure: writers wait a bounded time for room, then give up, so memory never grows unbounded.
/// </summary>
internal sealed class Mailbox<T>
{
    private readonly Channel<T> _channel;

    public Mailbox(int capacity)
    {
        _channel = Channel.CreateBounded<T>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
            AllowSynchronousContinuations = false,
        });
    }

    public ChannelReader<T> Reader => _channel.Reader;

    /// <summary>Items waiting in the mailbox.</summary>
    public int Count => _channel.Reader.Count;

    /// <summary>Posts without waiting; false when the mailbox is full or completed.</summary>
    public bool TryPost(T item) => _channel.Writer.TryWrite(item);

    /// <summary>
    /// Posts, waiting at most <paramref name="wait"/> for room. Returns false when there was no room in
    /// time; throws <see cref="ChannelClosedException"/> when the mailbox no longer accepts items.
    /// </summary>
    public async ValueTask<bool> PostAsync(T item, TimeSpan wait, CancellationToken cancellationToken)
    {
        if (_channel.Writer.TryWrite(item))
        {
            return true;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(wait);
        try
        {
            await _channel.Writer.WriteAsync(item, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Stops accepting items; the reader still drains what was accepted.</summary>
    public void Complete() => _channel.Writer.TryComplete();
}
