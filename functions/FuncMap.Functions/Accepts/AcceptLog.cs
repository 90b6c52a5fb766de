using System.Collections.Concurrent;
using System.Threading.Channels;
using Azure;
using Azure.Data.Tables;
using Azure.Data.Tables.Models;
using FuncMap.Counters;
using FuncMap.Storage;
using Microsoft.Extensions.Logging;

namespace FuncMap.Functions.Accepts;

/// <summary>
/// The group commit of plain adds (no <c>Idempotency-Key</c>, no <c>?wait=true</c>): concurrent adds are buffered and
/// one flush at a time writes all of them as ONE row of table <c>Accepted</c> (<see cref="AcceptedRows"/>: PartitionKey
/// = this process's <see cref="Source"/>, RowKey = the flush number). Each add's task completes only after the row was
/// inserted, so a 202 means the add is in Azure Table storage; a failed insert fails every add of the flush and
/// nothing of it is promised. The next flush starts as soon as the previous one ended, so the group grows with the load
/// and a lone add waits for one insert only. <see cref="AcceptFolder"/> folds the rows into the counters' entities.
/// </summary>
/// <remarks>
/// A flush takes at most <see cref="AcceptedRows.MaxPropertyChars"/> characters of items (one 64 KiB string property:
/// 285 adds of 90-character keys, thousands of short ones); the rest waits for the next flush.
/// </remarks>
public sealed class AcceptLog : IAsyncDisposable
{
    private readonly TableClient _table;
    private readonly ILogger<AcceptLog> _logger;
    private readonly Channel<PendingAdd> _adds = Channel.CreateUnbounded<PendingAdd>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = false, AllowSynchronousContinuations = false });
    private readonly ConcurrentDictionary<string, long> _lastFlushOfKey = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, WrittenFlush> _unfolded = new();
    private readonly TimeProvider _timeProvider;
    private readonly Task _loop;
    private long _lastFlush;
    private bool _tableReady;

    /// <summary>Starts the log of a new source (<see cref="SourceSequences.NewSourceId"/>) on table <paramref name="table"/>.</summary>
    public AcceptLog(TableClient table, TimeProvider timeProvider, ILogger<AcceptLog> logger)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _table = table;
        _logger = logger;
        _timeProvider = timeProvider;
        Source = SourceSequences.NewSourceId(timeProvider.GetUtcNow());
        _loop = Task.Run(RunAsync);
    }

    /// <summary>This process's accept source: the PartitionKey of every row it writes, fresh at every start.</summary>
    public string Source { get; }

    /// <summary>The table the rows go to.</summary>
    public TableClient Table => _table;

    /// <summary>The number of the last flush whose row was inserted (0 before the first).</summary>
    public long LastFlush => Volatile.Read(ref _lastFlush);

    /// <summary>
    /// Accepts the add of <paramref name="delta"/> to <paramref name="key"/> (a valid key): completes once it is in a row
    /// of <c>Accepted</c>; throws the storage failure (nothing promised) or <see cref="ObjectDisposedException"/> when the
    /// log is stopping. Cancelling stops the wait, not the write.
    /// </summary>
    public Task AcceptAsync(string key, long delta, CancellationToken cancellationToken)
    {
        var pending = new PendingAdd(new AcceptedItem(key, delta), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_adds.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(AcceptLog), "The accept log is stopping.");
        }

        return pending.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>The flush that last wrote an add of <paramref name="key"/> (0 when this process accepted none since it was forgotten).</summary>
    public long LastFlushOf(string key) => _lastFlushOfKey.TryGetValue(key, out var flush) ? flush : 0;

    /// <summary>Forgets that <paramref name="key"/> was last written by <paramref name="flush"/>, unless a later flush wrote it since.</summary>
    internal void Forget(string key, long flush) => _lastFlushOfKey.TryRemove(KeyValuePair.Create(key, flush));

    /// <summary>The keys with an add of this process not yet known to be folded, with their last flush.</summary>
    internal IEnumerable<KeyValuePair<string, long>> PendingKeys => _lastFlushOfKey;

    /// <summary>
    /// The flushes this process wrote and its folder has not yet put into a fold transaction, with their items and when
    /// their insert was confirmed: what the process answered 202 for, so that a row storage loses after confirming it
    /// (an emulator killed before it persisted, a storage account rolled back) is noticed and reported with its count
    /// (<see cref="AcceptFolder"/>). At most <see cref="MaxUnfolded"/>; the oldest beyond are no longer watched.
    /// </summary>
    internal IReadOnlyDictionary<long, WrittenFlush> Unfolded => _unfolded;

    /// <summary>How many unfolded flushes are kept in memory (each at most one 64 KiB row's items).</summary>
    internal const int MaxUnfolded = 1024;

    /// <summary>The folder put flush <paramref name="flush"/> into a fold transaction (whatever its outcome): it is no longer watched.</summary>
    internal void Taken(long flush) => _unfolded.TryRemove(flush, out _);

    /// <summary>
    /// Stops taking adds (a later <see cref="AcceptAsync"/> throws <see cref="ObjectDisposedException"/>: 503
    /// <c>service.stopping</c>) and completes once every add taken before was written or failed: after it,
    /// <see cref="LastFlush"/> covers everything this process answered 202. Idempotent.
    /// </summary>
    public async Task CompleteAsync()
    {
        _adds.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await CompleteAsync().ConfigureAwait(false);

    private async Task RunAsync()
    {
        var group = new List<PendingAdd>();
        var items = new List<AcceptedItem>();
        PendingAdd? carry = null;
        var reader = _adds.Reader;
        while (carry is not null || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            items.Clear();
            var chars = 0;
            if (carry is { } first)
            {
                group.Add(first);
                chars += AcceptedRows.CharsOf(first.Item);
                carry = null;
            }

            while (reader.TryRead(out var next))
            {
                var size = AcceptedRows.CharsOf(next.Item);
                if (chars + size > AcceptedRows.MaxPropertyChars && group.Count > 0)
                {
                    carry = next;
                    break;
                }

                group.Add(next);
                chars += size;
            }

            foreach (var pending in group)
            {
                items.Add(pending.Item);
            }

            var flush = _lastFlush + 1;
            try
            {
                await InsertAsync(AcceptedRows.ToEntity(Source, flush, items)).ConfigureAwait(false);
            }
            catch (Exception ex) when (StorageFailures.IsStorage(ex))
            {
                // The flush number is not reused: the row may exist after all (a response lost after the service wrote it).
                Volatile.Write(ref _lastFlush, flush);
                Log.FlushFailed(_logger, ex, Source, flush, group.Count, StorageFailures.Status(ex), StorageFailures.ErrorCode(ex));
                foreach (var pending in group)
                {
                    pending.Done.TrySetException(ex);
                }

                continue;
            }

            // Recorded before the adds are answered, so that a later write of the same key in this process sees it.
            foreach (var pending in group)
            {
                _lastFlushOfKey[pending.Item.Key] = flush;
            }

            _unfolded[flush] = new WrittenFlush([.. items], _timeProvider.GetUtcNow());
            if (_unfolded.Count > MaxUnfolded)
            {
                _unfolded.TryRemove(_unfolded.Keys.Min(), out _);
            }

            Volatile.Write(ref _lastFlush, flush);
            foreach (var pending in group)
            {
                pending.Done.TrySetResult();
            }
        }
    }

    private async Task InsertAsync(TableEntity row)
    {
        if (!_tableReady)
        {
            await _table.CreateIfNotExistsAsync().ConfigureAwait(false);
            _tableReady = true;
        }

        try
        {
            await _table.AddEntityAsync(row).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == TableErrorCode.EntityAlreadyExists)
        {
            // Only this process writes this partition, and each flush number once: the SDK retried an insert whose
            // first attempt the service had already written.
        }
        catch (RequestFailedException ex) when (ex.ErrorCode == TableErrorCode.TableNotFound)
        {
            _tableReady = false;
            await _table.CreateIfNotExistsAsync().ConfigureAwait(false);
            _tableReady = true;
            await _table.AddEntityAsync(row).ConfigureAwait(false);
        }
    }

    private sealed record PendingAdd(AcceptedItem Item, TaskCompletionSource Done);
}

/// <summary>A flush whose row storage confirmed: its items and when the confirmation came.</summary>
/// <param name="Items">The adds of the row.</param>
/// <param name="WrittenAt">When the insert was confirmed (this process's clock).</param>
internal sealed record WrittenFlush(IReadOnlyList<AcceptedItem> Items, DateTimeOffset WrittenAt);
