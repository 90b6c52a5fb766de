using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using FuncMap.Batches;
using FuncMap.Counters;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FuncMap.Engine;

/// <summary>
/// The channel-owned counter map: N shards, each with one bounded mailbox and one owner loop that
/// alone applies its keys' operations, in arrival order. Writers post messages; readers read the
/// owners' published cells and never wait. A key's shard is its table partition modulo N.
/// </summary>
public sealed class CounterEngine : IAsyncDisposable
{
    private readonly Shard[] _shards;
    private readonly int _shardMask;
    private readonly CounterEngineOptions _options;
    private readonly EngineMetrics _metrics;
    private readonly Meter? _ownedMeter;
    private readonly ILogger _logger;
    private readonly TimeoutSweeper _sweeper;
    private Task[]? _loops;
    private Task? _stopping;
    private object? _stopGate;
    private int _state; // 0 = loading, 1 = running, 2 = stopping

    /// <summary>Creates an engine; call <see cref="Load"/> for restored counters, then <see cref="Start"/>.</summary>
    public CounterEngine(
        CounterEngineOptions options,
        IOperationLog? log = null,
        TimeProvider? timeProvider = null,
        ILogger<CounterEngine>? logger = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        IsJournaled = log is not null;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        var meter = meterFactory?.Create(EngineInstruments.MeterName) ?? (_ownedMeter = new Meter(EngineInstruments.MeterName));
        _metrics = new EngineMetrics(meter, MailboxDepths, () => CounterCount);
        _sweeper = new TimeoutSweeper(options.OperationTimeout, () => _metrics.Rejected("timeout"));

        var count = options.ResolveShardCount();
        _shardMask = count - 1;
        _shards = new Shard[count];
        for (var i = 0; i < count; i++)
        {
            _shards[i] = new Shard(i, options, log, timeProvider ?? TimeProvider.System, _metrics, _logger);
        }
    }

    /// <summary>The number of shards (owners).</summary>
    public int ShardCount => _shards.Length;

    /// <summary>True when a log makes every acknowledged write durable before it is acknowledged.</summary>
    public bool IsJournaled { get; }

    /// <summary>Counters in memory, tombstones included.</summary>
    public long CounterCount
    {
        get
        {
            long total = 0;
            foreach (var shard in _shards)
            {
                total += shard.CounterCount;
            }

            return total;
        }
    }

    /// <summary>The shard that owns <paramref name="key"/>.</summary>
    public int ShardOf(string key) => CounterPartition.Of(key) & _shardMask;

    /// <summary>
    /// Loads a counter before <see cref="Start"/>: from the snapshot table (<paramref name="persisted"/> true)
    /// or from the journal (false: it still needs a snapshot). Of two loads of one key, the one written under the
    /// newer lease <paramref name="epoch"/> wins (0: no lease, the local host without storage and the tests); under
    /// one epoch the higher version wins.
    /// </summary>
    public void Load(string key, in CounterData data, IEnumerable<string>? recentOperationIds, bool persisted, long epoch = 0)
    {
        if (Volatile.Read(ref _state) != 0)
        {
            throw new InvalidOperationException("Counters can only be loaded before the engine starts.");
        }

        _shards[ShardOf(key)].Load(key, data, recentOperationIds, persisted, epoch);
    }

    /// <summary>Starts the owner loops.</summary>
    public void Start()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            throw new InvalidOperationException("The engine was already started.");
        }

        foreach (var shard in _shards)
        {
            shard.EndLoading();
        }

        _loops = Array.ConvertAll(_shards, shard => Task.Run(shard.RunAsync));
        Log.Started(_logger, _shards.Length, _options.MailboxCapacity, CounterCount);
    }

    /// <summary>Reads a counter as its owner last published it. Never waits for the owner.</summary>
    public bool TryGet(string key, out CounterSnapshot counter)
    {
        if (_shards[ShardOf(key)].TryRead(key, out var data))
        {
            counter = new CounterSnapshot(key, data.Value, data.Version, data.UpdatedAt);
            return true;
        }

        counter = default;
        return false;
    }

    /// <summary>
    /// Posts an operation without waiting for it to be applied: completes when the owner's mailbox
    /// accepted it. Throws <see cref="EngineBusyException"/> when the mailbox stayed full.
    /// </summary>
    public ValueTask PostAsync(string key, CounterOperation operation, CancellationToken cancellationToken = default) =>
        PostCommandAsync(ShardOf(key), Command.ForOperation(key, operation, completion: null), cancellationToken);

    /// <summary>
    /// Applies an operation and returns its result once it is applied and, with a log, durable.
    /// Throws <see cref="EngineTimeoutException"/> when the owner does not answer within the timeout.
    /// </summary>
    public async Task<OperationResult> ExecuteAsync(string key, CounterOperation operation, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.GetTimestamp();
        var completion = new OperationCompletion();
        await PostCommandAsync(ShardOf(key), Command.ForOperation(key, operation, completion), cancellationToken).ConfigureAwait(false);

        // The wait is bounded by the operation timeout (the sweeper), not by the token: once posted, the
        // operation will be applied, and the caller learns how it ended or that it timed out.
        _sweeper.Track(completion);
        var result = await completion.Task.ConfigureAwait(false);
        _metrics.Answered(Stopwatch.GetElapsedTime(started));
        return result;
    }

    /// <summary>
    /// Accepts an operation durably: with a log, waits until it is applied and durable (the result is
    /// returned); without one, returns once the mailbox accepted it (null result). An operation with an id
    /// always waits for its owner's verdict (returned), because only the owner can tell a repeat (a replay)
    /// and an id reused for another request (refused) from a new operation.
    /// </summary>
    public async Task<OperationResult?> AcceptAsync(string key, CounterOperation operation, CancellationToken cancellationToken = default)
    {
        if (IsJournaled || operation.OperationId is not null)
        {
            return await ExecuteAsync(key, operation, cancellationToken).ConfigureAwait(false);
        }

        await PostAsync(key, operation, cancellationToken).ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// Applies a batch: one add per key with the batch id as operation id, so a batch delivered again
    /// counts once. Completes when every key is applied (and durable, with a log).
    /// If the batch is cut short by backpressure, some keys may be applied: submitting it again is
    /// safe, because the batch id deduplicates them.
    /// </summary>
    public async Task<BatchResult> ApplyBatchAsync(IncrementBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Deltas.Count == 0)
        {
            // Nothing to post, so no owner would ever complete the batch.
            return new BatchResult(batch.BatchId, 0, 0, [], []);
        }

        // One mailbox item per shard, not per key: the owner applies its part of the batch in one go.
        var completion = new BatchCompletion(batch.BatchId, batch.Deltas.Count);
        foreach (var (shard, part) in SplitByShard(batch.Deltas))
        {
            try
            {
                await PostCommandAsync(shard, Command.ForBatch(batch.BatchId, part, completion), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Keys already posted may still be applied: resubmitting the batch is safe (its id deduplicates them).
                completion.Fail(ex);
                throw;
            }
        }

        _sweeper.Track(completion);
        return await completion.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// One page of existing counters whose key starts with <paramref name="prefix"/>, ordered by key
    /// (ordinal), after <paramref name="afterKey"/>. Reads published cells; never waits for owners.
    /// Costs a pass over all counters: O(n log pageSize).
    /// </summary>
    public CounterPage List(string? prefix, int pageSize, string? afterKey)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        // pageSize + 1 must not overflow, and a large page size must not allocate up front.
        pageSize = Math.Min(pageSize, Array.MaxLength - 1);
        prefix ??= string.Empty;
        // A max-heap of the pageSize + 1 smallest keys seen so far.
        var heap = new PriorityQueue<(string Key, CounterData Data), string>(Math.Min(pageSize, 1024) + 1, Comparer<string>.Create(static (a, b) => string.CompareOrdinal(b, a)));
        foreach (var shard in _shards)
        {
            foreach (var cell in shard.Cells)
            {
                var key = cell.Key;
                if (!key.StartsWith(prefix, StringComparison.Ordinal) || (afterKey is not null && string.CompareOrdinal(key, afterKey) <= 0))
                {
                    continue;
                }

                if (heap.Count > pageSize && string.CompareOrdinal(key, heap.Peek().Key) >= 0)
                {
                    continue;
                }

                var data = cell.Read();
                if (!data.Exists)
                {
                    continue;
                }

                heap.Enqueue((key, data), key);
                if (heap.Count > pageSize + 1)
                {
                    heap.Dequeue();
                }
            }
        }

        var hasMore = heap.Count > pageSize;
        if (hasMore)
        {
            heap.Dequeue();
        }

        var items = new CounterSnapshot[heap.Count];
        for (var i = items.Length - 1; i >= 0; i--)
        {
            var (key, data) = heap.Dequeue();
            items[i] = new CounterSnapshot(key, data.Value, data.Version, data.UpdatedAt);
        }

        return new CounterPage(items, hasMore ? items[^1].Key : null);
    }

    /// <summary>
    /// Collects every counter whose version differs from the version last persisted, each read by its
    /// owner between two operations. Nothing is marked: call <see cref="MarkPersistedAsync"/> after the
    /// changes were written; if writing failed, do nothing and they are collected again next time.
    /// </summary>
    public Task<IReadOnlyList<CounterChange>> CollectChangesAsync(CancellationToken cancellationToken = default) =>
        CollectAsync(all: false, cancellationToken);

    /// <summary>
    /// Collects every live counter (and every changed one, tombstones included) with its operation window, each read by
    /// its owner between two operations and, with a journal, answered once durable: what a snapshot writes when the
    /// table must be rewritten whole (it was lost), so that the rows keep their operation ids. Marking works as for
    /// <see cref="CollectChangesAsync"/>.
    /// </summary>
    public Task<IReadOnlyList<CounterChange>> CollectAllAsync(CancellationToken cancellationToken = default) =>
        CollectAsync(all: true, cancellationToken);

    private async Task<IReadOnlyList<CounterChange>> CollectAsync(bool all, CancellationToken cancellationToken)
    {
        if (!await OwnersRunningAsync().ConfigureAwait(false))
        {
            return CollectDirectly(all);
        }

        try
        {
            var replies = new Task<List<CounterChange>>[_shards.Length];
            for (var i = 0; i < _shards.Length; i++)
            {
                var reply = new TaskCompletionSource<List<CounterChange>>(TaskCreationOptions.RunContinuationsAsynchronously);
                await PostControlAsync(_shards[i], Command.ForCollect(reply, all), cancellationToken).ConfigureAwait(false);
                replies[i] = reply.Task;
            }

            var lists = await Task.WhenAll(replies).WaitAsync(cancellationToken).ConfigureAwait(false);
            return lists.SelectMany(static l => l).ToList();
        }
        catch (EngineStoppedException)
        {
            // Stopped meanwhile: once the owners have drained, read their cells directly.
            await StopAsync().ConfigureAwait(false);
            return CollectDirectly(all);
        }
    }

    /// <summary>Records that <paramref name="changes"/> are in the snapshot table; tombstones that did not change since are forgotten.</summary>
    public async Task MarkPersistedAsync(IReadOnlyList<CounterChange> changes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var perShard = new List<CounterChange>?[_shards.Length];
        foreach (var change in changes)
        {
            (perShard[ShardOf(change.Key)] ??= []).Add(change);
        }

        if (!await OwnersRunningAsync().ConfigureAwait(false))
        {
            MarkPersistedDirectly(perShard);
            return;
        }

        try
        {
            var replies = new List<Task>();
            for (var i = 0; i < _shards.Length; i++)
            {
                if (perShard[i] is { } list)
                {
                    var reply = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    await PostControlAsync(_shards[i], Command.ForPersisted(list, reply), cancellationToken).ConfigureAwait(false);
                    replies.Add(reply.Task);
                }
            }

            await Task.WhenAll(replies).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (EngineStoppedException)
        {
            // Marking twice is harmless: a cell is only ever marked up to the version it was persisted at.
            await StopAsync().ConfigureAwait(false);
            MarkPersistedDirectly(perShard);
        }
    }

    /// <summary>
    /// Stops accepting operations, lets every owner drain what it accepted, and waits for the loops.
    /// Every call, the first or a later one, completes only once the owners have drained.
    /// </summary>
    public Task StopAsync()
    {
        Volatile.Write(ref _state, 2);
        return LazyInitializer.EnsureInitialized(ref _stopping, ref _stopGate, StopOwnersAsync);
    }

    private async Task StopOwnersAsync()
    {
        foreach (var shard in _shards)
        {
            shard.Mailbox.Complete();
        }

        if (_loops is not null)
        {
            await Task.WhenAll(_loops).ConfigureAwait(false);
        }

        Log.Stopped(_logger);
    }

    /// <summary>
    /// True while the owner loops run. Otherwise (not started yet, or stopped: then after they drained)
    /// no loop touches the cells and the caller may read and mark them directly.
    /// </summary>
    private async Task<bool> OwnersRunningAsync()
    {
        switch (Volatile.Read(ref _state))
        {
            case 1:
                return true;
            case 2:
                await StopAsync().ConfigureAwait(false);
                return false;
            default:
                return false;
        }
    }

    /// <summary>Splits a batch's deltas into one exactly sized array per shard, keeping their order.</summary>
    private List<(int Shard, KeyDelta[] Part)> SplitByShard(IReadOnlyList<KeyDelta> deltas)
    {
        if (_shards.Length == 1)
        {
            return [(0, deltas as KeyDelta[] ?? [.. deltas])];
        }

        Span<int> counts = stackalloc int[_shards.Length];
        var owners = System.Buffers.ArrayPool<int>.Shared.Rent(deltas.Count);
        try
        {
            for (var i = 0; i < deltas.Count; i++)
            {
                counts[owners[i] = ShardOf(deltas[i].Key)]++;
            }

            var parts = new KeyDelta[_shards.Length][];
            var split = new List<(int, KeyDelta[])>(_shards.Length);
            for (var shard = 0; shard < parts.Length; shard++)
            {
                if (counts[shard] > 0)
                {
                    parts[shard] = new KeyDelta[counts[shard]];
                    split.Add((shard, parts[shard]));
                    counts[shard] = 0;
                }
            }

            for (var i = 0; i < deltas.Count; i++)
            {
                var shard = owners[i];
                parts[shard][counts[shard]++] = deltas[i];
            }

            return split;
        }
        finally
        {
            System.Buffers.ArrayPool<int>.Shared.Return(owners);
        }
    }

    private List<CounterChange> CollectDirectly(bool all) => _shards.SelectMany(shard => shard.CollectChanges(all)).ToList();

    private void MarkPersistedDirectly(List<CounterChange>?[] perShard)
    {
        for (var i = 0; i < _shards.Length; i++)
        {
            if (perShard[i] is { } list)
            {
                _shards[i].MarkPersisted(list);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        await _sweeper.DisposeAsync().ConfigureAwait(false);
        _ownedMeter?.Dispose();
    }

    /// <summary>Creates an engine whose acknowledgements wait for <paramref name="log"/>.</summary>
    public static CounterEngine CreateJournaled(CounterEngineOptions options, IOperationLog log, TimeProvider? timeProvider = null, ILogger<CounterEngine>? logger = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        return new CounterEngine(options, log, timeProvider, logger, meterFactory);
    }

    private ValueTask PostCommandAsync(int shardId, Command command, CancellationToken cancellationToken)
    {
        var shard = _shards[shardId];
        if (Volatile.Read(ref _state) == 1 && shard.Mailbox.TryPost(command) == PostResult.Posted)
        {
            return ValueTask.CompletedTask;
        }

        return PostSlowAsync(shard, command, cancellationToken);
    }

    private async ValueTask PostSlowAsync(Shard shard, Command command, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _state) != 1)
        {
            _metrics.Rejected("stopped");
            throw new EngineStoppedException();
        }

        bool posted;
        try
        {
            posted = await shard.Mailbox.PostAsync(command, _options.BackpressureWait, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            _metrics.Rejected("stopped");
            throw new EngineStoppedException();
        }

        if (!posted)
        {
            _metrics.Rejected("busy");
            Log.ShardBusy(_logger, shard.Id, _options.BackpressureWait.TotalMilliseconds);
            throw new EngineBusyException(shard.Id, _options.BackpressureWait);
        }
    }

    private static async ValueTask PostControlAsync(Shard shard, Command command, CancellationToken cancellationToken)
    {
        // Control commands (snapshot collection) wait for room as long as the caller lets them.
        try
        {
            await shard.Mailbox.PostAsync(command, Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new EngineStoppedException();
        }
    }

    private IEnumerable<Measurement<int>> MailboxDepths()
    {
        foreach (var shard in _shards)
        {
            yield return new Measurement<int>(shard.MailboxDepth, new KeyValuePair<string, object?>("funcmap.shard", shard.Id));
        }
    }
}
