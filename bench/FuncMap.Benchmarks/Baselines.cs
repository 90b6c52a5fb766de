using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace FuncMap.Benchmarks;

/// <summary>The practical limit: lock-free adds, but no ordering, no versions, no owner.</summary>
public sealed class ConcurrentDictionaryMap
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _map = new(StringComparer.Ordinal);

    public int Count => _map.Count;

    public void Add(string key, long delta)
    {
        if (!_map.TryGetValue(key, out var box))
        {
            box = _map.GetOrAdd(key, static _ => new StrongBox<long>());
        }

        Interlocked.Add(ref box.Value, delta);
    }

    public long Get(string key) => _map.TryGetValue(key, out var box) ? Volatile.Read(ref box.Value) : 0;
}

/// <summary>One lock around one dictionary.</summary>
public sealed class LockedDictionaryMap
{
    private readonly Dictionary<string, long> _map = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public void Add(string key, long delta)
    {
        lock (_gate)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_map, key, out _) += delta;
        }
    }

    public long Get(string key)
    {
        lock (_gate)
        {
            return _map.GetValueOrDefault(key);
        }
    }
}

/// <summary>
/// The textbook channel-owned map: one owner loop for the whole map, one bounded channel, callers that
/// need an answer await a completion per operation.
/// </summary>
public sealed class SingleChannelMap : IAsyncDisposable
{
    private readonly Channel<Request> _channel = Channel.CreateBounded<Request>(new BoundedChannelOptions(16_384)
    {
        SingleReader = true,
        SingleWriter = false,
        FullMode = BoundedChannelFullMode.Wait,
        AllowSynchronousContinuations = false,
    });

    private readonly Dictionary<string, long> _map = new(StringComparer.Ordinal);
    private readonly Task _loop;

    public SingleChannelMap() => _loop = Task.Run(RunAsync);

    public ValueTask PostAsync(string key, long delta) =>
        _channel.Writer.TryWrite(new Request(key, delta, null)) ? ValueTask.CompletedTask : _channel.Writer.WriteAsync(new Request(key, delta, null));

    public async Task<long> ExecuteAsync(string key, long delta)
    {
        var reply = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _channel.Writer.WriteAsync(new Request(key, delta, reply));
        return await reply.Task;
    }

    /// <summary>Completes when everything posted before it was applied.</summary>
    public Task BarrierAsync() => ExecuteAsync(string.Empty, 0);

    public long Get(string key) => _map.GetValueOrDefault(key); // only after a barrier

    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await _loop;
    }

    private async Task RunAsync()
    {
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var request))
            {
                ref var value = ref CollectionsMarshal.GetValueRefOrAddDefault(_map, request.Key, out _);
                value += request.Delta;
                request.Reply?.TrySetResult(value);
            }
        }
    }

    private readonly record struct Request(string Key, long Delta, TaskCompletionSource<long>? Reply);
}
