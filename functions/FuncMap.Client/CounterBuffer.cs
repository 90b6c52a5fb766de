using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using FuncMap.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace FuncMap.Client;

/// <summary>
/// An aggregating writer: <see cref="Increment"/> adds to an in-memory sum per key and returns at once, without I/O; the
/// sums are flushed every <see cref="CounterBufferOptions.FlushInterval"/>, or as soon as
/// <see cref="CounterBufferOptions.MaxPendingKeys"/> keys are pending, as increment batches. A batch's id is this
/// writer's id (a random GUID per buffer) and a sequence number, fixed when the batch is formed: a batch is sent again
/// with that same id until the server acknowledges it, and the server applies a batch id once per counter, so every
/// increment counts exactly once. One batch is in flight at a time, in order, so a retry reaches a counter before this
/// writer's later batches do (the server remembers the last 64 operation ids per counter).
/// </summary>
/// <remarks>
/// Memory is bounded by <see cref="CounterBufferOptions.Capacity"/> keys held (pending or not yet acknowledged); when
/// full, an increment of a new key waits or throws (<see cref="CounterBufferOptions.FullMode"/>). Sums are exact Int64:
/// an increment that would take a key's pending sum out of the Int64 range (which the server refuses as
/// <c>batch.overflow</c>) seals the sums so far into their own batch and starts a new sum, so a sum never wraps and no
/// batch is refused for its sums. The server applies or refuses each sum as a whole (<c>counter.overflow</c> when the
/// counter would leave Int64), so near the Int64 limits the outcome can differ from sending the increments one by one
/// (one by one, +3 +3 on a counter at long.MaxValue − 5 applies the first; as the sum +6, neither). A batch the server refuses as a whole (a 4xx) or keys it refuses (overflow of the
/// counter, an id reused with another total) are reported (<see cref="FlushResult.Refused"/>, logs, metrics), never retried.
/// </remarks>
public sealed class CounterBuffer : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly Func<FuncMapClient> _client;
    private readonly CounterBufferOptions _options;
    private readonly ILogger _logger;
    private readonly ClientMetrics _metrics;
    private readonly bool _ownsMetrics;
    private readonly TimeProvider _time;
    private readonly Queue<Batch> _sealed = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
        SingleWriter = false,
        AllowSynchronousContinuations = false,
    });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private Dictionary<string, PendingSum> _pending = new(StringComparer.Ordinal);
    private int _held;
    private long _sequence;
    private bool _closed;
    private Task<FlushResult>? _close;

    /// <summary>Creates a buffer that sends through <paramref name="client"/> and starts its flush loop.</summary>
    public CounterBuffer(FuncMapClient client, CounterBufferOptions? options = null, ILogger<CounterBuffer>? logger = null,
        System.Diagnostics.Metrics.IMeterFactory? meterFactory = null, TimeProvider? timeProvider = null)
        : this(ClientOf(client), options ?? new CounterBufferOptions(), logger ?? (ILogger)NullLogger.Instance,
            new ClientMetrics(meterFactory), timeProvider ?? TimeProvider.System, ownsMetrics: true)
    {
    }

    internal CounterBuffer(Func<FuncMapClient> client, CounterBufferOptions options, ILogger logger, ClientMetrics metrics, TimeProvider timeProvider, bool ownsMetrics = false)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Validate() is { } invalid)
        {
            throw new ArgumentException(invalid, nameof(options));
        }

        _client = client;
        _options = options;
        _logger = logger;
        _metrics = metrics;
        _ownsMetrics = ownsMetrics;
        _time = timeProvider;
        WriterId = (options.WriterIdPrefix is { Length: > 0 } prefix ? prefix + "-" : string.Empty) + Guid.NewGuid().ToString("N");
        _metrics.Meter.CreateObservableGauge(ClientInstruments.PendingKeys, () => Volatile.Read(ref _held), "{key}",
            "Keys held: summed and not yet acknowledged.");
        _loop = Task.Run(RunAsync);
    }

    /// <summary>This writer's id, the start of each of its batch ids (<c>{WriterId}-{sequence}</c>).</summary>
    public string WriterId { get; }

    /// <summary>Keys held now: pending, or sent and not yet acknowledged.</summary>
    public int HeldKeys => Volatile.Read(ref _held);

    /// <summary>
    /// Adds <paramref name="delta"/> to <paramref name="key"/>'s pending sum and returns, without I/O. Throws
    /// <see cref="ArgumentException"/> for a key that breaks the server's key rule (so it can never spoil a batch),
    /// <see cref="CounterBufferFullException"/> when full in <see cref="CounterBufferFullMode.Throw"/> mode (in
    /// <see cref="CounterBufferFullMode.Wait"/> mode it blocks until room is freed), and
    /// <see cref="ObjectDisposedException"/> once the buffer is closing.
    /// </summary>
    public void Increment(string key, long delta = 1)
    {
        if (CounterKey.Validate(key) is { } invalid)
        {
            throw new ArgumentException(invalid.Message + $" ({invalid.Rule})", nameof(key));
        }

        var signal = false;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            ref var sum = ref CollectionsMarshal.GetValueRefOrNullRef(_pending, key);
            if (!Unsafe.IsNullRef(ref sum))
            {
                var total = unchecked(sum.Delta + delta);
                if (((sum.Delta ^ total) & (delta ^ total)) >= 0)
                {
                    sum.Delta = total;
                    sum.Increments++;
                    return;
                }

                // The key's total would leave Int64, which the server refuses for a whole batch (batch.overflow): the
                // sums so far become their own batch (sent by the next flush), and this delta starts the next sum of the key.
                SealLocked();
            }

            while (_held >= _options.Capacity)
            {
                if (_options.FullMode == CounterBufferFullMode.Throw)
                {
                    _metrics.RefusedIncrements.Add(1, new KeyValuePair<string, object?>("reason", "full"));
                    throw new CounterBufferFullException(
                        $"The counter buffer holds its capacity of {_options.Capacity} keys that are not yet acknowledged; increment {key} was refused.");
                }

                Monitor.Wait(_gate);
                ObjectDisposedException.ThrowIf(_closed, this);
            }

            _pending.Add(key, new PendingSum(delta, 1));
            _held++;
            signal |= _pending.Count >= _options.MaxPendingKeys;
        }

        if (signal)
        {
            _wake.Writer.TryWrite(true);
        }
    }

    /// <summary>
    /// Sends everything pending now and every batch not yet acknowledged, once each through the client's resilience
    /// pipeline, and returns what was acknowledged and refused. Batches still not acknowledged stay held and are sent
    /// again (same id) by the flush loop: <see cref="FlushResult.Unsent"/> lists them.
    /// </summary>
    public Task<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => FlushPassAsync(untilDone: false, cancellationToken);

    /// <summary>
    /// Stops taking increments, stops the flush loop and sends what is left, sending again (same id, after
    /// <see cref="CounterBufferOptions.RetryDelay"/>) until acknowledged or until <paramref name="cancellationToken"/> is
    /// cancelled. What is still not acknowledged then is given up and reported in <see cref="FlushResult.Unsent"/> (it may
    /// or may not have been applied). Calling it again returns the first call's result.
    /// </summary>
    public Task<FlushResult> CloseAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_close is null)
            {
                _closed = true;
                Monitor.PulseAll(_gate);
                _close = CloseCoreAsync(cancellationToken);
            }

            return _close;
        }
    }

    /// <summary>Closes the buffer (<see cref="CloseAsync"/>) within <see cref="CounterBufferOptions.DisposeTimeout"/>; what could not be sent is logged.</summary>
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(_options.DisposeTimeout, _time);
        await CloseAsync(timeout.Token).ConfigureAwait(false);
        _stopping.Dispose();
        _sendLock.Dispose();
        if (_ownsMetrics)
        {
            _metrics.Dispose();
        }
    }

    private async Task<FlushResult> CloseCoreAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        var result = await FlushPassAsync(untilDone: true, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _sealed.Clear();
            _held = 0;
        }

        if (result.Unsent.Count > 0)
        {
            var increments = result.Unsent.Sum(static u => u.Increments);
            _metrics.RefusedIncrements.Add(increments, new KeyValuePair<string, object?>("reason", "unsent"));
            Log.ClosedWithUnsent(_logger, WriterId, result.Unsent.Count, increments, result.LastError?.Message ?? "cancelled");
        }

        return result;
    }

    private async Task RunAsync()
    {
        var stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                using var interval = new CancellationTokenSource(_options.FlushInterval, _time);
                using var either = CancellationTokenSource.CreateLinkedTokenSource(interval.Token, stopping);
                await _wake.Reader.WaitToReadAsync(either.Token).ConfigureAwait(false);
                _wake.Reader.TryRead(out _);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                // The interval elapsed: flush.
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await FlushPassAsync(untilDone: false, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The loop must outlive any one flush: the batch stays queued and the next pass sends it again.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.FlushFailed(_logger, WriterId, ex);
            }
        }
    }

    private async Task<FlushResult> FlushPassAsync(bool untilDone, CancellationToken cancellationToken)
    {
        // A close waits for a flush in progress whatever its token says: it must report what is left.
        await _sendLock.WaitAsync(untilDone ? CancellationToken.None : cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                SealLocked();
            }

            var batches = 0;
            long increments = 0;
            var refused = new List<RefusedIncrement>();
            Exception? lastError = null;
            while (true)
            {
                Batch? batch;
                lock (_gate)
                {
                    if (!_sealed.TryPeek(out batch))
                    {
                        break;
                    }
                }

                var (outcome, error) = await SendAsync(batch, refused, cancellationToken).ConfigureAwait(false);
                if (outcome == Outcome.Failed)
                {
                    // The cancellation that ends a close says less than the send failure before it.
                    if (error is not OperationCanceledException || lastError is null)
                    {
                        lastError = error;
                    }

                    if (!untilDone || cancellationToken.IsCancellationRequested)
                    {
                        break;
                    }

                    try
                    {
                        await Task.Delay(_options.RetryDelay, _time, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }

                    continue;
                }

                if (outcome == Outcome.Acknowledged)
                {
                    batches++;
                    increments += batch.Increments;
                }

                lock (_gate)
                {
                    _sealed.Dequeue();
                    _held -= batch.Items.Length;
                    Monitor.PulseAll(_gate);
                }
            }

            var unsent = new List<RefusedIncrement>();
            lock (_gate)
            {
                foreach (var held in _sealed)
                {
                    for (var i = 0; i < held.Items.Length; i++)
                    {
                        unsent.Add(new RefusedIncrement(held.Items[i].Key, held.Items[i].Delta, held.Counts[i], "unsent"));
                    }
                }
            }

            return new FlushResult(batches, increments, refused, unsent, lastError);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Sends <paramref name="batch"/> once (the client's pipeline retries inside) and says what became of it.</summary>
    private async Task<(Outcome Outcome, Exception? Error)> SendAsync(Batch batch, List<RefusedIncrement> refused, CancellationToken cancellationToken)
    {
        if (batch.Attempts++ > 0)
        {
            _metrics.BatchRetries.Add(1);
        }

        try
        {
            var result = await _client().SendBatchAsync(batch.Items, batch.Id, cancellationToken).ConfigureAwait(false);
            var refusedIncrements = Refuse(batch, result.OverflowedKeys, "counter.overflow", refused) + Refuse(batch, result.MismatchedKeys, "idempotency.mismatch", refused);
            _metrics.FlushedIncrements.Add(batch.Increments - refusedIncrements);
            _metrics.FlushDuration.Record(_time.GetElapsedTime(batch.SealedAt).TotalSeconds);
            return (Outcome.Acknowledged, null);
        }
        catch (FuncMapException ex) when (!ex.IsTransient)
        {
            var reason = ex.Rule ?? ((int)ex.StatusCode!).ToString(System.Globalization.CultureInfo.InvariantCulture);
            for (var i = 0; i < batch.Items.Length; i++)
            {
                refused.Add(new RefusedIncrement(batch.Items[i].Key, batch.Items[i].Delta, batch.Counts[i], reason));
            }

            _metrics.RefusedIncrements.Add(batch.Increments, new KeyValuePair<string, object?>("reason", reason));
            Log.BatchRefused(_logger, batch.Id, batch.Items.Length, batch.Increments, reason, ex);
            return (Outcome.Refused, ex);
        }
        catch (FuncMapException ex)
        {
            Log.BatchNotAcknowledged(_logger, batch.Id, batch.Items.Length, batch.Attempts, ex.Message);
            return (Outcome.Failed, ex);
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            return (Outcome.Failed, ex);
        }
    }

    private long Refuse(Batch batch, IReadOnlyList<string> keys, string reason, List<RefusedIncrement> refused)
    {
        if (keys.Count == 0)
        {
            return 0;
        }

        long count = 0;
        var set = new HashSet<string>(keys, StringComparer.Ordinal);
        for (var i = 0; i < batch.Items.Length; i++)
        {
            if (set.Contains(batch.Items[i].Key))
            {
                refused.Add(new RefusedIncrement(batch.Items[i].Key, batch.Items[i].Delta, batch.Counts[i], reason));
                count += batch.Counts[i];
            }
        }

        _metrics.RefusedIncrements.Add(count, new KeyValuePair<string, object?>("reason", reason));
        Log.KeysRefused(_logger, batch.Id, keys.Count, reason);
        return count;
    }

    /// <summary>Turns the pending sums into batches of at most <see cref="CounterBufferOptions.MaxBatchItems"/>, each with its id for good.</summary>
    private void SealLocked()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        var sealedAt = _time.GetTimestamp();
        var size = Math.Min(_pending.Count, _options.MaxBatchItems);
        var items = new List<CounterIncrement>(size);
        var counts = new List<long>(size);
        foreach (var (key, sum) in _pending)
        {
            items.Add(new CounterIncrement(key, sum.Delta));
            counts.Add(sum.Increments);
            if (items.Count == _options.MaxBatchItems)
            {
                Enqueue(items, counts, sealedAt);
                items.Clear();
                counts.Clear();
            }
        }

        if (items.Count > 0)
        {
            Enqueue(items, counts, sealedAt);
        }

        _pending = new Dictionary<string, PendingSum>(StringComparer.Ordinal);

        void Enqueue(List<CounterIncrement> items, List<long> counts, long sealedAt)
        {
            var id = WriterId + "-" + (++_sequence).ToString(System.Globalization.CultureInfo.InvariantCulture);
            _sealed.Enqueue(new Batch(id, items.ToArray(), counts.ToArray(), counts.Sum(), sealedAt));
        }
    }

    private static Func<FuncMapClient> ClientOf(FuncMapClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return () => client;
    }

    private enum Outcome
    {
        Acknowledged,
        Refused,
        Failed,
    }

    private struct PendingSum(long delta, long increments)
    {
        public long Delta = delta;
        public long Increments = increments;
    }

    /// <summary>A sealed batch: its id and items never change, so every send of it is the same request to the server.</summary>
    private sealed record Batch(string Id, CounterIncrement[] Items, long[] Counts, long Increments, long SealedAt)
    {
        public int Attempts { get; set; }
    }
}

/// <summary>The client's log events (EventIds 7000–7099).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 7000, Level = LogLevel.Warning,
        Message = "Batch {BatchId} ({Items} keys) is not acknowledged after send {Attempt}: {Reason} It stays held and is sent again with the same id.")]
    public static partial void BatchNotAcknowledged(ILogger logger, string batchId, int items, int attempt, string reason);

    [LoggerMessage(EventId = 7001, Level = LogLevel.Error,
        Message = "Batch {BatchId} ({Items} keys, {Increments} increments) was refused as a whole ({Reason}); its increments are not applied and not sent again.")]
    public static partial void BatchRefused(ILogger logger, string batchId, int items, long increments, string reason, Exception exception);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning,
        Message = "Batch {BatchId}: the server refused {Keys} of its keys ({Reason}); their increments are not applied.")]
    public static partial void KeysRefused(ILogger logger, string batchId, int keys, string reason);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Error,
        Message = "Counter buffer {WriterId} closed with {Keys} keys ({Increments} increments) not acknowledged ({Reason}): they may or may not have been applied.")]
    public static partial void ClosedWithUnsent(ILogger logger, string writerId, int keys, long increments, string reason);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Error,
        Message = "Counter buffer {WriterId}: a flush failed unexpectedly; its batches stay held and the next flush sends them again.")]
    public static partial void FlushFailed(ILogger logger, string writerId, Exception exception);
}
