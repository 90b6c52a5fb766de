using System.Threading.Channels;

namespace FuncMap.Engine;

/// <summary>The outcome of a post that does not wait.</summary>
internal enum PostResult : byte
{
    Posted,
    Full,
    Closed,
}

/// <summary>
/// A shard's mailbox: many writers, one reader (the shard's owner loop), bounded by count.
/// Items travel through an unbounded single-reader channel, whose write path is a lock-free enqueue;
/// the bound is a counter that writers reserve and the reader releases per drained batch. A full
/// mailbox is backpressure: writers wait a bounded time for room, then give up, so memory never grows
/// without bound.
/// </summary>
internal sealed class Mailbox<T>
{
    private readonly Channel<T> _channel;
    private readonly int _capacity;
    private int _count;
    private int _waiters;
    private TaskCompletionSource _room = NewSignal();

    public Mailbox(int capacity)
    {
        _capacity = capacity;
        _channel = Channel.CreateUnbounded<T>(new UnboundedChannelOptions
        {
            SingleReader = true,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        });
    }

    public ChannelReader<T> Reader => _channel.Reader;

    /// <summary>Items posted and not yet released by the reader.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Posts without waiting.</summary>
    public PostResult TryPost(T item)
    {
        if (Interlocked.Increment(ref _count) > _capacity)
        {
            Interlocked.Decrement(ref _count);
            return PostResult.Full;
        }

        if (_channel.Writer.TryWrite(item))
        {
            return PostResult.Posted;
        }

        Interlocked.Decrement(ref _count);
        return PostResult.Closed;
    }

    /// <summary>
    /// Posts, waiting at most <paramref name="wait"/> for room (<see cref="Timeout.InfiniteTimeSpan"/>: as long
    /// as <paramref name="cancellationToken"/> allows). Returns false when there was no room in time; throws
    /// <see cref="ChannelClosedException"/> when the mailbox no longer accepts items.
    /// </summary>
    public async ValueTask<bool> PostAsync(T item, TimeSpan wait, CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        Interlocked.Increment(ref _waiters);
        try
        {
            while (true)
            {
                // Read the signal before trying: room made after a failed try completes this signal.
                var room = Volatile.Read(ref _room);
                switch (TryPost(item))
                {
                    case PostResult.Posted:
                        return true;
                    case PostResult.Closed:
                        throw new ChannelClosedException();
                }

                var remaining = wait == Timeout.InfiniteTimeSpan ? wait : wait - TimeProvider.System.GetElapsedTime(started);
                if (remaining != Timeout.InfiniteTimeSpan && remaining <= TimeSpan.Zero)
                {
                    return false;
                }

                try
                {
                    await room.Task.WaitAsync(remaining, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // One last try below, then give up.
                    return TryPost(item) switch
                    {
                        PostResult.Posted => true,
                        PostResult.Closed => throw new ChannelClosedException(),
                        _ => false,
                    };
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }
    }

    /// <summary>The reader took <paramref name="items"/> items: their room is free again.</summary>
    public void Release(int items)
    {
        if (items == 0)
        {
            return;
        }

        Interlocked.Add(ref _count, -items);
        if (Volatile.Read(ref _waiters) > 0)
        {
            Signal();
        }
    }

    /// <summary>Stops accepting items; the reader still drains what was accepted, and waiting writers give up.</summary>
    public void Complete()
    {
        _channel.Writer.TryComplete();
        Signal();
    }

    private void Signal() => Interlocked.Exchange(ref _room, NewSignal()).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
