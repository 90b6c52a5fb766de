using System.Collections.Concurrent;
using System.Diagnostics;
using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using FuncMap.Batches;
using FuncMap.Engine;
using FuncMap.Storage;
using FuncMap.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Local.Storage;

/// <summary>
/// Polls <c>counter-increments</c> with <see cref="StorageOptions.IngestionConcurrency"/> loops and applies each
/// batch with its batch id as operation id (a redelivered batch counts once). A message is deleted only when its
/// effect is safe: with the journal, when <see cref="CounterEngine.ApplyBatchAsync"/> completed (after the fsync);
/// without it, once a snapshot that started after the batch was applied has persisted (until then its visibility
/// is renewed). A message that can never succeed goes to the poison queue as a <see cref="PoisonEnvelope"/>;
/// one that failed for a passing reason is left to reappear, and poisoned after <see cref="StorageOptions.MaxDeliveries"/>.
/// <para>
/// Queues that come back: a queue found missing (<see cref="QueueErrorCode.QueueNotFound"/>) while receiving or
/// poisoning is re-created at once (<see cref="QueueClient.CreateIfNotExistsAsync"/>); with an identity-based connection
/// a failed creation is logged naming the queue and the role it needs (Storage Queue Data Contributor).
/// </para>
/// <para>
/// Bounded deliveries: a message whose poisoning fails (however it fails) is left to reappear while it has been delivered
/// at most <see cref="StorageOptions.MaxDeliveries"/> times; at delivery MaxDeliveries + 1 it is parked instead: left on
/// the queue, invisible for <see cref="ParkVisibility"/> (the service's longest visibility timeout), counted
/// (<c>funcmap.storage.ingestion.messages</c>, outcome <c>parked</c>) and logged as critical once. So no message is
/// delivered more than MaxDeliveries + 1 times in a week, and none is dropped without a trace.
/// </para>
/// </summary>
public sealed class QueueIngestionService : BackgroundService
{
    /// <summary>How long a parked message stays invisible: the queue service's maximum visibility timeout (7 days).</summary>
    public static readonly TimeSpan ParkVisibility = TimeSpan.FromDays(7);

    /// <summary>The built-in Azure role an identity needs to create (and use) the host's queues.</summary>
    internal const string QueueRole = "Storage Queue Data Contributor";

    private const int MaxPendingMessages = 8192;

    /// <summary>Parked message ids remembered so that each is logged once (beyond this many, the set starts over).</summary>
    private const int ParkedIdsRemembered = 10_000;

    private readonly CounterEngine _engine;
    private readonly CounterStorage _storage;
    private readonly StorageOptions _options;
    private readonly SnapshotService _snapshots;
    private readonly LeaseService _lease;
    private readonly StartGate _gate;
    private readonly StorageStatus _status;
    private readonly StorageMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CompletedBatches _completed;
    private readonly ConcurrentDictionary<string, PendingMessage> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _parkedIds = new(StringComparer.Ordinal);
    private long _applied;
    private long _parked;
    private Task? _stop;

    internal QueueIngestionService(CounterEngine engine, CounterStorage storage, IOptions<StorageOptions> options, SnapshotService snapshots,
        LeaseService lease, StartGate gate, StorageStatus status, StorageMetrics metrics, TimeProvider time, ILogger<QueueIngestionService> logger)
    {
        _engine = engine;
        _storage = storage;
        _options = options.Value;
        _snapshots = snapshots;
        _lease = lease;
        _gate = gate;
        _status = status;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _completed = new CompletedBatches(_options.CompletedBatchIdCapacity);
        metrics.ObservePending(() => _pending.Count);
    }

    /// <summary>Messages applied and waiting for a snapshot before they are deleted (Snapshot mode).</summary>
    public int PendingCount => _pending.Count;

    /// <summary>Batches applied from the queue since start (duplicates not counted).</summary>
    public long AppliedBatches => Interlocked.Read(ref _applied);

    /// <summary>Messages parked since start: their poisoning failed at their last allowed delivery (see the class summary).</summary>
    public long ParkedMessages => Interlocked.Read(ref _parked);

    /// <summary>Stops receiving; in Snapshot mode, snapshots once more and deletes the messages that made safe. Idempotent.</summary>
    public override Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_pending)
        {
            return _stop ??= StopCoreAsync(cancellationToken);
        }
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_pending.IsEmpty)
        {
            return;
        }

        try
        {
            if (await _snapshots.SnapshotNowAsync(cancellationToken).ConfigureAwait(false))
            {
                await DeleteSafePendingAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The shutdown timeout ran out: the messages reappear and the batch ids deduplicate them.
        }

        Log.PendingLeft(_logger, _pending.Count);
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.IngestionEnabled)
        {
            return;
        }

        try
        {
            await _lease.WhenClaimed.WaitAsync(stoppingToken).ConfigureAwait(false);
            await _gate.WhenLoaded.WaitAsync(stoppingToken).ConfigureAwait(false);
            await CreateQueuesAsync(stoppingToken).ConfigureAwait(false);
            Log.IngestionStarted(_logger, _storage.Queue.Name, _options.IngestionConcurrency, _engine.IsJournaled ? "apply completed (journal)" : "a later snapshot persisted (Snapshot mode)");
            var loops = new List<Task>();
            for (var i = 0; i < _options.IngestionConcurrency; i++)
            {
                loops.Add(ReceiveLoopAsync(stoppingToken));
            }

            if (!_engine.IsJournaled)
            {
                loops.Add(PendingLoopAsync(stoppingToken));
            }

            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Creates the increment queue (retrying until it exists: nothing can be received without it) and the poison queue
    /// (once: a poison queue that cannot be created now is created again when a message is to be poisoned, and until
    /// then valid messages are ingested as usual).
    /// </summary>
    private async Task CreateQueuesAsync(CancellationToken cancellationToken)
    {
        for (var failures = 0; ; failures++)
        {
            try
            {
                await CreateQueueAsync(_storage.Queue, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (Exception ex) when (StorageFailures.IsStorage(ex))
            {
                _status.IngestionFailed(ex);
                Log.ReceiveFailed(_logger, _storage.Queue.Name, ex.Message);
                await Task.Delay(Backoff.Delay(failures, _options.SnapshotMaxBackoff), _time, cancellationToken).ConfigureAwait(false);
            }
        }

        try
        {
            await CreateQueueAsync(_storage.PoisonQueue, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (StorageFailures.IsStorage(ex))
        {
            Log.ReceiveFailed(_logger, _storage.PoisonQueue.Name, ex.Message);
        }
    }

    /// <summary>
    /// Creates <paramref name="queue"/> when it does not exist; true when this call created it. A failure is rethrown,
    /// after a critical line naming the queue and <see cref="QueueRole"/> when the host runs on an identity (the
    /// usual cause there: the identity may use the queues but not create them).
    /// </summary>
    private async Task<bool> CreateQueueAsync(QueueClient queue, CancellationToken cancellationToken)
    {
        try
        {
            // CreateIfNotExistsAsync answers null when the queue was already there.
            return await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false) is not null;
        }
        catch (Exception ex) when (_options.UsesIdentity && StorageFailures.IsStorage(ex) && !StorageFailures.IsTransient(ex))
        {
            Log.QueueCreateFailedIdentity(_logger, queue.Name, QueueRole, StorageFailures.Status(ex), StorageFailures.ErrorCode(ex) ?? "none");
            throw;
        }
    }

    /// <summary>Re-creates a queue found missing at runtime (deleted by someone); rethrows when it cannot.</summary>
    private async Task RecreateQueueAsync(QueueClient queue, CancellationToken cancellationToken)
    {
        if (await CreateQueueAsync(queue, cancellationToken).ConfigureAwait(false))
        {
            _metrics.Message("queue_recreated");
            Log.QueueRecreated(_logger, queue.Name);
        }
    }

    private static bool IsQueueNotFound(Exception ex) => ex is RequestFailedException failed && failed.ErrorCode == QueueErrorCode.QueueNotFound;

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        var idle = 0;
        var failures = 0;
        var running = new List<Task>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (!_lease.IsValid)
                {
                    // The lease could have lapsed: take nothing this host could not acknowledge (IsValid logged why).
                    await Task.Delay(_options.MaxPollDelay, _time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (_pending.Count >= MaxPendingMessages)
                {
                    // Snapshot mode holds applied messages until a snapshot; do not take more than it can release.
                    await _snapshots.NextPersisted.WaitAsync(_options.VisibilityTimeout / 3, _time, cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
                    continue;
                }

                QueueMessage[] messages;
                try
                {
                    messages = (await _storage.Queue.ReceiveMessagesAsync(_options.ReceiveBatchSize, _options.VisibilityTimeout, cancellationToken).ConfigureAwait(false)).Value;
                    failures = 0;
                    _status.IngestionSucceeded();
                }
                catch (Exception ex) when (StorageFailures.IsStorage(ex))
                {
                    _status.IngestionFailed(ex);
                    Log.ReceiveFailed(_logger, _storage.Queue.Name, ex.Message);
                    if (IsQueueNotFound(ex))
                    {
                        try
                        {
                            await RecreateQueueAsync(_storage.Queue, cancellationToken).ConfigureAwait(false);
                            continue;
                        }
                        catch (Exception createEx) when (StorageFailures.IsStorage(createEx))
                        {
                            Log.ReceiveFailed(_logger, _storage.Queue.Name, createEx.Message);
                        }
                    }

                    await Task.Delay(Backoff.Delay(failures++, _options.SnapshotMaxBackoff), _time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (messages.Length == 0)
                {
                    // An empty queue is polled less often, up to MaxPollDelay.
                    await Task.Delay(Backoff.Delay(idle++, _options.MaxPollDelay), _time, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                idle = 0;
                // The batch's span is current while its handlers start, so the engine's applies link to it; it ends
                // once every handler of the batch has.
                var span = StorageTelemetry.Source.StartRoot(FuncMapTelemetry.QueueBatchSpan, ActivityKind.Consumer);
                var first = running.Count;
                foreach (var message in messages)
                {
                    running.Add(HandleAsync(message, cancellationToken));
                }

                if (span is not null)
                {
                    span.SetTag(FuncMapTelemetry.ItemsTag, messages.Length);
                    Activity.Current = null;
                    _ = Task.WhenAll(running.GetRange(first, messages.Length)).ContinueWith(static (_, s) => ((Activity)s!).Dispose(), span, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }

                // The next receive overlaps this batch's applies and deletes: at most two batches per loop are in flight.
                running.RemoveAll(static t => t.IsCompleted);
                while (running.Count > _options.ReceiveBatchSize)
                {
                    await Task.WhenAny(running).ConfigureAwait(false);
                    running.RemoveAll(static t => t.IsCompleted);
                }
            }
        }
        finally
        {
            // Handlers never throw; a stop lets the ones in flight finish (their messages reappear if cut short).
            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }

    /// <summary>Handles one message; never throws (a failure leaves the message to reappear).</summary>
    internal async Task HandleAsync(QueueMessage message, CancellationToken cancellationToken)
    {
        try
        {
            var parsed = IncrementMessages.Parse(message);
            if (parsed.Batch is not { } batch)
            {
                Log.MessageInvalid(_logger, message.MessageId, message.DequeueCount, string.Join("; ", parsed.Errors));
                await PoisonOrParkAsync(message, IncrementMessages.Invalid(message, parsed.Errors), cancellationToken).ConfigureAwait(false);
                return;
            }

            var content = batch.ContentFingerprint();
            if (_completed.TryGetSame(batch.BatchId, content, out var run))
            {
                _metrics.Message("duplicate");
                Log.MessageDuplicate(_logger, message.MessageId, batch.BatchId);
            }
            else
            {
                // Not cancelled by the stop: an apply cut short is safe (the batch id deduplicates), but completing it is simpler to reason about.
                var result = await _engine.ApplyBatchAsync(batch, CancellationToken.None).ConfigureAwait(false);
                run = _snapshots.RunsStarted;
                _completed.Add(batch.BatchId, content, run);
                Interlocked.Increment(ref _applied);
                _metrics.Message(result.Applied == 0 && result.Duplicates > 0 ? "duplicate" : "applied");
                _metrics.Items(batch.ItemCount);
                if (result.OverflowedKeys.Count > 0)
                {
                    await ReportOverflowAsync(message, batch, result.OverflowedKeys, cancellationToken).ConfigureAwait(false);
                }

                if (result.MismatchedKeys.Count > 0)
                {
                    await ReportMismatchAsync(message, batch, result.MismatchedKeys, cancellationToken).ConfigureAwait(false);
                }
            }

            if (_engine.IsJournaled || _snapshots.PersistedRun > run)
            {
                await DeleteAsync(message.MessageId, message.PopReceipt, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var visibleUntil = message.NextVisibleOn ?? _time.GetUtcNow() + _options.VisibilityTimeout;
                _pending[message.MessageId] = new PendingMessage(message.MessageId, message.PopReceipt, run, visibleUntil);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: the message reappears after its visibility timeout.
        }
        catch (Exception ex)
        {
            // Passing failures (storage, busy or stopping engine) and bugs alike: the message reappears; after
            // MaxDeliveries it goes to the poison queue instead, so a message that keeps failing cannot loop forever.
            if (!IsTransient(ex))
            {
                Log.MessageFailed(_logger, ex, message.MessageId);
            }

            if (ex is OperationLogUnavailableException)
            {
                // The journal refused the batch (a full disk, an I/O error): nothing of it is applied or shown, and the
                // message is valid, so it is never poisoned for this however often it comes back; it is applied once
                // the journal writes again.
                _metrics.Message("retry");
                Log.MessageRetry(_logger, message.MessageId, message.DequeueCount, ex.Message);
                return;
            }

            if (IncrementMessages.GiveUp(message, ex, _options.MaxDeliveries) is not { } envelope)
            {
                _metrics.Message("retry");
                Log.MessageRetry(_logger, message.MessageId, message.DequeueCount, ex.Message);
                return;
            }

            Log.MessageGaveUp(_logger, message.MessageId, message.DequeueCount, ex.Message);
            try
            {
                await PoisonOrParkAsync(message, envelope, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException poisonEx)
            {
                Log.MessageRetry(_logger, message.MessageId, message.DequeueCount, poisonEx.Message);
            }
        }
    }

    /// <summary>
    /// Poisons <paramref name="message"/>; when that fails (the poison queue cannot be written, however), leaves the
    /// message to reappear while it was delivered at most <see cref="StorageOptions.MaxDeliveries"/> times, else parks it.
    /// </summary>
    private async Task PoisonOrParkAsync(QueueMessage message, PoisonEnvelope envelope, CancellationToken cancellationToken)
    {
        try
        {
            await PoisonAsync(message, envelope, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (StorageFailures.IsStorage(ex))
        {
            if (message.DequeueCount <= _options.MaxDeliveries)
            {
                _metrics.Message("retry");
                Log.PoisonFailedRetry(_logger, message.MessageId, message.DequeueCount, _storage.PoisonQueue.Name, ex.Message);
                return;
            }

            await ParkAsync(message, envelope.Reason, ex, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Leaves <paramref name="message"/> on the queue, invisible for <see cref="ParkVisibility"/>: it is not received
    /// again (by this host or any other) for that long. Counted every time, logged as critical once per message id.
    /// </summary>
    private async Task ParkAsync(QueueMessage message, string reason, Exception poisonFailure, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _parked);
        _metrics.Message("parked");
        if (_parkedIds.Count >= ParkedIdsRemembered)
        {
            _parkedIds.Clear();
        }

        if (_parkedIds.TryAdd(message.MessageId, 0))
        {
            Log.MessageParked(_logger, message.MessageId, message.DequeueCount, _options.MaxDeliveries, _storage.PoisonQueue.Name, poisonFailure.Message, reason, ParkVisibility.TotalDays);
        }

        try
        {
            // No new body: only the visibility moves (the SDK sends no message when it is null).
            await _storage.Queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, (string?)null, ParkVisibility, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (StorageFailures.IsStorage(ex))
        {
            // It reappears after its visibility timeout and is parked again at that delivery.
            Log.DeleteFailed(_logger, message.MessageId, ex.Message);
        }
    }

    /// <summary>Sends to the poison queue, re-creating it once when it is missing.</summary>
    private async Task SendPoisonAsync(string envelope, CancellationToken cancellationToken)
    {
        try
        {
            await _storage.PoisonQueue.SendMessageAsync(envelope, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsQueueNotFound(ex))
        {
            await RecreateQueueAsync(_storage.PoisonQueue, cancellationToken).ConfigureAwait(false);
            await _storage.PoisonQueue.SendMessageAsync(envelope, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    private Task ReportOverflowAsync(QueueMessage message, IncrementBatch batch, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        _metrics.Overflowed(keys.Count);
        Log.KeysOverflowed(_logger, batch.BatchId, keys.Count, string.Join(", ", keys.Take(10)));
        return ReportRefusedKeysAsync(IncrementMessages.Overflowed(message, batch.BatchId, keys), cancellationToken);
    }

    /// <summary>
    /// Keys on which the batch id was applied before with another total: refused by their owners (the rest of the batch
    /// stands), and reported on the poison queue with the reason <c>idempotency.mismatch</c>, so nothing is dropped
    /// without a trace.
    /// </summary>
    private Task ReportMismatchAsync(QueueMessage message, IncrementBatch batch, IReadOnlyList<string> keys, CancellationToken cancellationToken)
    {
        _metrics.Mismatched(keys.Count);
        Log.KeysMismatched(_logger, batch.BatchId, keys.Count, string.Join(", ", keys.Take(10)));
        return ReportRefusedKeysAsync(IncrementMessages.Mismatched(message, batch.BatchId, keys), cancellationToken);
    }

    /// <summary>Sends the envelope naming keys an applied batch could not change; the rest of the batch stands either way.</summary>
    private async Task ReportRefusedKeysAsync(PoisonEnvelope envelope, CancellationToken cancellationToken)
    {
        try
        {
            await SendPoisonAsync(envelope.ToJson(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (StorageFailures.IsStorage(ex))
        {
            // The log line written before names the keys.
            Log.RefusedKeysReportFailed(_logger, ex, envelope.BatchId, envelope.Reason);
        }
    }

    private async Task PoisonAsync(QueueMessage message, PoisonEnvelope envelope, CancellationToken cancellationToken)
    {
        await SendPoisonAsync(envelope.ToJson(), cancellationToken).ConfigureAwait(false);
        _metrics.Message("poison");
        Log.MessagePoisoned(_logger, message.MessageId, message.DequeueCount, envelope.Reason);
        await DeleteAsync(message.MessageId, message.PopReceipt, cancellationToken).ConfigureAwait(false);
    }

    private async Task DeleteAsync(string messageId, string popReceipt, CancellationToken cancellationToken)
    {
        // A delete acknowledges the message: only under a valid lease, checked after the apply was durable. Without
        // one, the message reappears after its visibility timeout and its batch id deduplicates it wherever it lands.
        if (!_lease.IsValid)
        {
            Log.DeleteSkippedLeaseLapsed(_logger, messageId);
            return;
        }

        try
        {
            await _storage.Queue.DeleteMessageAsync(messageId, popReceipt, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (StorageFailures.IsStorage(ex) && !StorageFailures.IsTransient(ex))
        {
            // Gone, or delivered to someone else meanwhile (pop receipt changed): that delivery deduplicates.
            Log.DeleteFailed(_logger, messageId, ex.Message);
        }
    }

    private async Task PendingLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        var renewEvery = _options.VisibilityTimeout / 3;
        while (!cancellationToken.IsCancellationRequested)
        {
            await _snapshots.NextPersisted.WaitAsync(renewEvery, _time, cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await DeleteSafePendingAsync(cancellationToken).ConfigureAwait(false);
                await RenewPendingAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (StorageFailures.IsStorage(ex))
            {
                _status.IngestionFailed(ex);
                Log.ReceiveFailed(_logger, _storage.Queue.Name, ex.Message);
            }
        }
    }

    private async Task DeleteSafePendingAsync(CancellationToken cancellationToken)
    {
        var persisted = _snapshots.PersistedRun;
        var safe = _pending.Values.Where(p => persisted > p.Run).ToList();
        await Parallel.ForEachAsync(safe, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (p, ct) =>
        {
            await DeleteAsync(p.MessageId, p.PopReceipt, ct).ConfigureAwait(false);
            _pending.TryRemove(p.MessageId, out _);
        }).ConfigureAwait(false);
    }

    private async Task RenewPendingAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var due = _pending.Values.Where(p => p.VisibleUntil - now < _options.VisibilityTimeout / 2).ToList();
        await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (p, ct) =>
        {
            try
            {
                // No new body: only the visibility moves (the SDK sends no message when it is null).
                var receipt = (await _storage.Queue.UpdateMessageAsync(p.MessageId, p.PopReceipt, (string?)null, _options.VisibilityTimeout, ct).ConfigureAwait(false)).Value;
                _pending[p.MessageId] = p with { PopReceipt = receipt.PopReceipt, VisibleUntil = receipt.NextVisibleOn };
            }
            catch (Exception ex) when (StorageFailures.IsStorage(ex) && !StorageFailures.IsTransient(ex))
            {
                // We no longer hold it (it reappeared and was received again): that delivery takes over.
                _pending.TryRemove(p.MessageId, out _);
                Log.DeleteFailed(_logger, p.MessageId, ex.Message);
            }
        }).ConfigureAwait(false);
    }

    private static bool IsTransient(Exception ex) => ex switch
    {
        _ when StorageFailures.IsStorage(ex) => StorageFailures.IsTransient(ex),
        EngineBusyException or EngineTimeoutException or EngineStoppedException or OperationLogUnavailableException => true,
        OperationCanceledException => true,
        _ => false,
    };

    private sealed record PendingMessage(string MessageId, string PopReceipt, long Run, DateTimeOffset VisibleUntil);
}
