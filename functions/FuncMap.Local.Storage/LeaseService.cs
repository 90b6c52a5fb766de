using System.Net;
using Azure;
using Azure.Data.Tables;
using FuncMap.Journal;
using FuncMap.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Local.Storage;

/// <summary>The host refuses to start because of the storage's single-writer lease; its message is one line for the operator.</summary>
public abstract class LeaseRefusedException(string message) : InvalidOperationException(message);

/// <summary>Another host holds the storage's single-writer lease: it renewed the lease row while this host watched it.</summary>
public sealed class LeaseHeldException(string owner, DateTimeOffset expiresAt, string table)
    : LeaseRefusedException(
        $"Another FuncMap host owns this storage: the lease row (table {table}, PartitionKey 'lease', RowKey 'counters') " +
        $"belongs to '{owner}', which renewed it while this host watched (the row says {expiresAt:O}, by that host's clock). Two hosts must " +
        "never write the same counters; stop the other host (a gracefully stopped host releases the lease at once; a killed one's is free " +
        "once nobody renewed it for a whole lease duration).")
{
    /// <summary>The owner id of the host holding the lease.</summary>
    public string Owner { get; } = owner;

    /// <summary>When its lease expires unless renewed, by the owner's wall clock (as its row says; information only).</summary>
    public DateTimeOffset ExpiresAt { get; } = expiresAt;
}

/// <summary>
/// Another process with this data directory's owner id holds the lease (the row carries another process's nonce and
/// was renewed while this host watched): the data directory, or its <c>owner-id</c> file, was most likely copied.
/// </summary>
public sealed class CopiedDataDirectoryException(string directory, string owner)
    : LeaseRefusedException(
        $"FuncMap will not start on data directory {directory}: another running process has the same owner id '{owner}' and holds this " +
        $"storage's lease (it renewed it while this host watched). A copied data directory (or a copied {HostIdentity.OwnerFileName} file) is " +
        "the likely cause; two hosts must never share one identity. Stop the other process, or start this host on a data directory of its own.")
{
    /// <summary>The data directory this host was started on.</summary>
    public string Directory { get; } = directory;

    /// <summary>The owner id both processes carry.</summary>
    public string Owner { get; } = owner;
}

/// <summary>
/// The data directory held a higher lease epoch of this storage than the storage's lease row has (or there is none):
/// the storage was wiped or replaced, and the operator did not allow a reset.
/// </summary>
public sealed class StorageResetException(string directory, long heldEpoch, long? storageEpoch)
    : LeaseRefusedException(
        $"FuncMap will not start: the data directory {directory} held epoch {heldEpoch} of this storage, the storage's lease is at " +
        $"{(storageEpoch is { } m ? m.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none")}: the storage was wiped or replaced, " +
        "so its table lacks what was written to it. Point FuncMap:Storage at the storage this directory used, or start with " +
        $"{StorageOptions.AllowStorageResetSwitch} (setting {StorageOptions.AllowStorageResetKey}=true) to serve the storage as it is, under a new epoch.")
{
    /// <summary>The highest epoch the data directory recorded.</summary>
    public long HeldEpoch { get; } = heldEpoch;

    /// <summary>The lease row's epoch, or null when there is no lease row.</summary>
    public long? StorageEpoch { get; } = storageEpoch;
}

/// <summary>
/// The lease is this owner id's own and was not released cleanly, but this data directory's journal does not reach the
/// high-water mark the lease row recorded at its last renewal (or is another journal): the directory is a copy or a
/// restored backup, which lacks writes the owner acknowledged. Refused like any unclean takeover.
/// </summary>
public sealed class JournalBehindLeaseException(string directory, string owner, Guid markJournal, JournalPosition mark, Guid journal, JournalPosition? reached)
    : LeaseRefusedException(
        $"FuncMap will not start on data directory {directory}: the lease of owner id '{owner}' was last renewed with journal {markJournal:D} at " +
        $"{mark}, but this directory's journal " +
        (markJournal != journal ? $"is another one ({journal:D})" : reached is { } r ? $"reaches only {r}" : "could not be read") +
        ". It is most likely a copy or an older backup of the data directory that wrote this storage, without the writes acknowledged since. " +
        $"Start the data directory that renewed the lease, or start this one with {StorageOptions.AllowUncleanTakeoverSwitch} " +
        $"(setting {StorageOptions.AllowUncleanTakeoverKey}=true) to take over and lose them.")
{
    /// <summary>The position the lease row recorded.</summary>
    public JournalPosition Mark { get; } = mark;

    /// <summary>How far this directory's journal reached at open (null when it could not be read).</summary>
    public JournalPosition? Reached { get; } = reached;
}

/// <summary>The lease expired but its owner did not stop cleanly, and the operator did not allow an unclean takeover.</summary>
public sealed class UncleanLeaseException(string owner, DateTimeOffset lastSeen)
    : LeaseRefusedException(
        $"FuncMap will not take over this storage: its previous owner '{owner}' (last seen {lastSeen:O}) did not stop cleanly, so its " +
        "journal may hold acknowledged writes that no snapshot has. Restart that host on its data directory to recover them, or start " +
        $"this one with {StorageOptions.AllowUncleanTakeoverSwitch} (setting {StorageOptions.AllowUncleanTakeoverKey}=true) to take over and lose them.")
{
    /// <summary>The owner id of the previous owner.</summary>
    public string Owner { get; } = owner;

    /// <summary>When the previous owner last renewed its lease.</summary>
    public DateTimeOffset LastSeen { get; } = lastSeen;
}

/// <summary>
/// The single-writer lease: before any counter is loaded, the host claims the row (<c>lease</c>, <c>counters</c>) of
/// the lease table (insert when missing; ETag-conditional update when expired or already ours), renews it every third
/// of its duration, and releases it on a graceful stop, saying whether it stopped cleanly (final snapshot persisted).
/// <para>
/// Epoch: a number in the row that grows by one at every takeover (a claim of a row another owner held); the same
/// owner reclaiming its row after a crash keeps it. Snapshot writes are fenced with it and the journal records it.
/// </para>
/// <para>
/// Validity: the host may acknowledge a write only while <see cref="IsValid"/>: by its own monotonic clock
/// (<see cref="TimeProvider.GetTimestamp"/>, which keeps counting while the process is paused), less than
/// <see cref="StorageOptions.LeaseDuration"/> − <see cref="StorageOptions.LeaseSafetyMargin"/> has passed since the
/// last successful claim or renewal request was SENT. The margin covers clock-rate differences and the moments between
/// the check and the answer leaving the process.
/// </para>
/// <para>
/// Expiry, as another host judges it, rests on no wall clock: a host that finds a row it may not take at once (not
/// released, or its own owner id with another process's nonce) watches it on its own monotonic clock and takes it only
/// once the row's ETag did not change for a whole <see cref="StorageOptions.LeaseDuration"/> from its first read, with an
/// ETag-conditional write. Every successful renewal changes the ETag, so no renewal succeeded within that duration,
/// so the owner's validity (less than LeaseDuration − margin from a renewal sent before the first read) has ended; a
/// renewal that lands meanwhile makes the conditional write fail. A row that changes while watched has a live owner:
/// the start is refused (<see cref="LeaseHeldException"/>, or <see cref="CopiedDataDirectoryException"/> for the same
/// owner id). ExpiresAt and RenewedAt stay in the row for people and older hosts only.
/// </para>
/// <para>
/// Identity: a nonce (a GUID) per process start, written into the row at the claim and at every renewal. A renewal
/// whose ETag no longer matches adopts the row only when it carries this process's nonce (its own earlier renewal whose
/// answer was lost); a row of the same owner id with another nonce is another process, and this one is fenced.
/// </para>
/// <para>
/// Wiped storage: the data directory records the highest epoch it held (<see cref="LeaseEpochFile"/>); a claim that
/// finds no row or a lower epoch refuses the start (<see cref="StorageResetException"/>) unless
/// <see cref="StorageOptions.AllowStorageReset"/>, and then claims the directory's epoch + 1.
/// </para>
/// <para>
/// Takeover: an expired lease whose owner did not stop cleanly is taken over only with
/// <see cref="StorageOptions.AllowUncleanTakeover"/>; otherwise the host refuses to start (<see cref="UncleanLeaseException"/>).
/// So is this owner id's own lease when the row's journal high-water mark (the journal's durable position, written at the
/// claim and at every renewal) is beyond what this directory's journal reached at open, or names another journal: a copy
/// or an older backup of the directory (<see cref="JournalBehindLeaseException"/>). The mark lags by at most one renewal
/// interval (a third of the lease duration), so a copy taken after the last renewal passes it; the nonce still refuses
/// the copy while the original runs.
/// </para>
/// </summary>
public sealed class LeaseService : IHostedLifecycleService, IDisposable
{
    internal const string PartitionKey = "lease";
    internal const string RowKey = "counters";

    private readonly CounterStorage _storage;
    private readonly StorageOptions _options;
    private readonly DataDirectory _dataDirectory;
    private readonly IJournalCheckpoint? _journal;
    private readonly StartGate _gate;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly StorageStatus _status;
    private readonly StorageMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _validTicks;
    private readonly TaskCompletionSource _claimed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly string _nonce = Guid.NewGuid().ToString("N");
    private HostIdentity? _identity;
    private ETag _etag;
    private Task? _loop;
    private volatile bool _lost;
    private Task? _stop;
    private long _epoch;
    private long _validUntil = long.MinValue;
    private int _lapsed;
    private bool _claimedClean;
    private volatile bool _stoppedCleanly;

    internal LeaseService(CounterStorage storage, IOptions<StorageOptions> options, DataDirectory dataDirectory, IEnumerable<IJournalCheckpoint> journal,
        StartGate gate, IHostApplicationLifetime lifetime, StorageStatus status, StorageMetrics metrics, TimeProvider time, ILogger<LeaseService> logger)
    {
        _storage = storage;
        _options = options.Value;
        _dataDirectory = dataDirectory;
        _journal = journal.LastOrDefault();
        _gate = gate;
        _lifetime = lifetime;
        _status = status;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _validTicks = (long)((_options.LeaseDuration - _options.LeaseSafetyMargin).TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>This host's owner id (available once the host started).</summary>
    public string OwnerId => _identity?.OwnerId ?? throw new InvalidOperationException("The lease service has not started.");

    /// <summary>Completes once the lease is ours; faults when another host holds it.</summary>
    public Task WhenClaimed => _claimed.Task;

    /// <summary>True while this host may write the storage: the lease was claimed and never lost (it may have lapsed).</summary>
    public bool IsHeld => _claimed.Task.IsCompletedSuccessfully && !_lost;

    /// <summary>This process start's nonce (a GUID, 32 hex digits): written into the lease row, so that a copy of the data directory cannot pass for this process.</summary>
    public string Nonce => _nonce;

    /// <summary>The lease epoch this host holds (0 before the claim).</summary>
    public long Epoch => Interlocked.Read(ref _epoch);

    /// <summary>
    /// True while this host may acknowledge a write: the lease is held and, by this host's monotonic clock, cannot have
    /// expired yet (with the safety margin). Ask at the moment of the acknowledgement, after the write is durable.
    /// The first time it answers false after being valid, the lapse is logged and shown by <c>/readyz</c>.
    /// </summary>
    public bool IsValid
    {
        get
        {
            if (IsHeld && _time.GetTimestamp() < Interlocked.Read(ref _validUntil))
            {
                return true;
            }

            NoteLapse();
            return false;
        }
    }

    /// <summary>Why writes are refused now (for the 503's detail and <c>/readyz</c>), or null while <see cref="IsValid"/>.</summary>
    public string? Refusal =>
        IsValid ? null
        : _lost ? "This host lost the storage's single-writer lease to another host and is stopping."
        : !_claimed.Task.IsCompletedSuccessfully ? "This host has not claimed the storage's single-writer lease yet."
        : $"This host's single-writer lease could have expired (no renewal succeeded within {(_options.LeaseDuration - _options.LeaseSafetyMargin).TotalSeconds:0} s by its own clock); writes resume once a renewal succeeds.";

    /// <summary>Called once the final snapshot persisted every change: the release then says the host stopped cleanly.</summary>
    public void MarkStoppedCleanly() => _stoppedCleanly = true;

    /// <summary>Locks the data directory and claims the lease before any other hosted service starts (hence before restore).</summary>
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        _identity = HostIdentity.Open(_dataDirectory.Path);
        try
        {
            await ClaimAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (LeaseRefusedException ex)
        {
            // Not logged: the host reports the refusal once, in its one line on stderr (FuncMap.Local's HostExit).
            _claimed.TrySetException(ex);
            throw;
        }
        catch (Exception ex) when (StorageFailures.IsTransient(ex))
        {
            // Storage is away: keep claiming in the background; the restore waits for the claim, so readiness stays red.
            Log.LeaseClaimRetrying(_logger, ex.Message);
            _status.LeaseFailed(ex);
        }

        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Stops renewing and releases the lease (expires it now), so the next host can start at once. Idempotent.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        lock (_claimed)
        {
            return _stop ??= StopCoreAsync(cancellationToken);
        }
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _claimed.TrySetCanceled(CancellationToken.None);
        if (!IsHeld)
        {
            return;
        }

        try
        {
            // Clean: the final snapshot persisted everything (the journal holds nothing the table lacks); or nothing
            // was loaded or served, and the storage stays as clean as it was claimed.
            var clean = _stoppedCleanly || (!_gate.WhenLoaded.IsCompleted && _claimedClean);
            var row = NewRow(_time.GetUtcNow(), clean, released: true);
            await _storage.Leases.UpdateEntityAsync(row, _etag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            Log.LeaseReleased(_logger, OwnerId);
        }
        catch (Exception ex) when (StorageFailures.IsStorage(ex) || ex is OperationCanceledException)
        {
            // Storage away, or the stop's time ran out: the lease then expires by itself, and this host's own restart
            // reclaims it at once (its owner id is in the data directory).
            Log.LeaseReleaseFailed(_logger, ex, OwnerId);
        }
    }

    /// <inheritdoc />
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public void Dispose()
    {
        _stopping.Dispose();
        _identity?.Dispose();
    }

    /// <summary>Stops the host because a newer owner fenced this one out (a snapshot write was refused).</summary>
    internal void Fenced(CounterFencedException exception)
    {
        _lost = true;
        _metrics.LeaseRenewal("lost");
        Log.SnapshotFenced(_logger, exception.Message);
        Stop();
    }

    private void NoteLapse()
    {
        if (!_claimed.Task.IsCompletedSuccessfully || Interlocked.Exchange(ref _lapsed, 1) != 0)
        {
            return;
        }

        var ago = (_time.GetTimestamp() - Interlocked.Read(ref _validUntil)) * 1000.0 / _time.TimestampFrequency;
        var reason = _lost ? "lost to another host" : "no renewal succeeded in time";
        Log.LeaseLapsed(_logger, Math.Max(0, ago), reason);
        _status.LeaseLapsed(reason);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            var failures = 0;
            while (!_claimed.Task.IsCompleted)
            {
                await Task.Delay(Backoff.Delay(failures++, TimeSpan.FromSeconds(5)), _time, cancellationToken).ConfigureAwait(false);
                try
                {
                    await ClaimAsync(cancellationToken).ConfigureAwait(false);
                    _status.LeaseRenewed();
                }
                catch (Exception ex) when (ex is LeaseRefusedException or IOException or UnauthorizedAccessException
                    || (ex is InvalidOperationException && !StorageFailures.IsStorage(ex)))
                {
                    // Refused, or the data directory's lease-epoch file could not be read or written: do not serve. The
                    // restore waits for the claim and fails with this exception: the host says why once, as it exits.
                    _claimed.TrySetException(ex);
                    Stop();
                    return;
                }
                catch (Exception ex) when (StorageFailures.IsTransient(ex))
                {
                    Log.LeaseClaimRetrying(_logger, ex.Message);
                    _status.LeaseFailed(ex);
                }
            }

            var period = _options.LeaseDuration / 3;
            failures = 0;
            while (true)
            {
                // After a failure, retry sooner than a period, so one lost request does not use up the margin.
                await Task.Delay(failures == 0 ? period : Backoff.Delay(failures - 1, period), _time, cancellationToken).ConfigureAwait(false);
                _ = IsValid; // a lapse is logged when it happens, not only when a write asks
                try
                {
                    if (!await RenewAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return;
                    }

                    failures = 0;
                    _metrics.LeaseRenewal("success");
                    _status.LeaseRenewed();
                }
                catch (Exception ex) when (StorageFailures.IsStorage(ex))
                {
                    // Nobody can take an unexpired lease; an expired one is only lost if the update finds a new owner.
                    failures++;
                    _metrics.LeaseRenewal("failure");
                    _status.LeaseFailed(ex);
                    Log.LeaseRenewalFailed(_logger, ex.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task ClaimAsync(CancellationToken cancellationToken)
    {
        await _storage.Leases.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
        var directory = _identity!.Directory;
        var held = LeaseEpochFile.Read(directory);
        while (true)
        {
            var current = await ReadAsync(cancellationToken).ConfigureAwait(false);
            var storageEpoch = current?.GetInt64("Epoch");
            var reset = held is { } h && (storageEpoch is null || storageEpoch < h);
            if (reset && !_options.AllowStorageReset)
            {
                throw new StorageResetException(directory, held!.Value, storageEpoch);
            }

            if (current is not null && !IsReleased(current))
            {
                // Someone may be alive (another host, a copy of this directory, or this directory's killed process):
                // judge by the row itself, on this host's monotonic clock.
                var watched = await WatchAsync(current, cancellationToken).ConfigureAwait(false);
                if (watched.Changed)
                {
                    if (watched.Row is null || IsReleased(watched.Row))
                    {
                        continue; // deleted or released meanwhile: decide again on what is there now
                    }

                    var liveOwner = watched.Row.GetString("Owner") ?? string.Empty;
                    if (string.Equals(liveOwner, OwnerId, StringComparison.Ordinal))
                    {
                        throw new CopiedDataDirectoryException(directory, OwnerId);
                    }

                    throw new LeaseHeldException(liveOwner, watched.Row.GetDateTimeOffset("ExpiresAt") ?? DateTimeOffset.MinValue, _storage.Leases.Name);
                }
            }

            var now = _time.GetUtcNow();
            var sent = _time.GetTimestamp();
            long epoch;
            try
            {
                if (current is null)
                {
                    epoch = (held ?? 0) + 1;
                    _claimedClean = true;
                    _etag = ETagOf(await _storage.Leases.AddEntityAsync(NewRow(now + _options.LeaseDuration, clean: false, epoch: epoch), cancellationToken).ConfigureAwait(false));
                }
                else
                {
                    var owner = current.GetString("Owner") ?? string.Empty;
                    var expires = current.GetDateTimeOffset("ExpiresAt") ?? DateTimeOffset.MinValue;
                    var clean = current.GetBoolean("Clean") ?? false;
                    var previous = storageEpoch ?? 0;
                    var mine = string.Equals(owner, OwnerId, StringComparison.Ordinal);
                    var lastSeen = current.GetDateTimeOffset("RenewedAt") ?? expires - _options.LeaseDuration;
                    if (!mine && !clean && !_options.AllowUncleanTakeover)
                    {
                        throw new UncleanLeaseException(owner, lastSeen);
                    }

                    if (mine && !clean)
                    {
                        CheckJournalReachesMark(current, directory);
                    }

                    // The same owner after a crash is no takeover: its journal is replayed, nothing is lost. A reset
                    // storage continues above the epoch the directory held, so that epochs only grow for its journal.
                    epoch = mine ? Math.Max(previous, 1) : previous + 1;
                    if (reset)
                    {
                        epoch = Math.Max(epoch, held!.Value + 1);
                    }

                    _claimedClean = clean;
                    _etag = ETagOf(await _storage.Leases.UpdateEntityAsync(NewRow(now + _options.LeaseDuration, clean: false, epoch: epoch), current.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false));
                    if (!mine && !clean)
                    {
                        Log.UncleanTakeover(_logger, owner, lastSeen, epoch);
                    }
                    else if (!mine && IsReleased(current))
                    {
                        // The previous owner stopped cleanly and released the lease: an ordinary handover, nothing lost.
                        Log.LeaseHandedOver(_logger, owner, current.GetDateTimeOffset("RenewedAt") ?? expires, epoch);
                    }
                    else if (!mine)
                    {
                        Log.LeaseTakenOver(_logger, owner, expires, epoch);
                    }
                }
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
            {
                continue; // Another host raced us: read again and decide on what is there now.
            }

            if (reset)
            {
                Log.StorageReset(_logger, directory, held!.Value, storageEpoch?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none", epoch);
            }

            if (epoch > (held ?? 0))
            {
                // Before anything is written under the new epoch: from here the directory remembers this storage at it.
                LeaseEpochFile.Write(directory, epoch);
                held = epoch;
            }

            Interlocked.Exchange(ref _epoch, epoch);
            Interlocked.Exchange(ref _validUntil, sent + _validTicks);
            // Every record appended from now on is written under this epoch (the engine starts after the claim).
            _journal?.BeginEpoch(epoch);
            _claimed.TrySetResult();
            Log.LeaseClaimed(_logger, OwnerId, _options.LeaseDuration.TotalSeconds, epoch);
            return;
        }
    }

    /// <summary>
    /// Watches <paramref name="row"/> (just read) until its ETag changes or a whole <see cref="StorageOptions.LeaseDuration"/>
    /// passed on this host's monotonic clock without a change. Changed: the row as read then (null when deleted);
    /// unchanged: nobody renewed the lease for a lease duration, so its holder's validity has ended.
    /// </summary>
    private async Task<(bool Changed, TableEntity? Row)> WatchAsync(TableEntity row, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var poll = TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(1).Ticks, _options.LeaseDuration.Ticks / 10));
        Log.LeaseWatching(_logger, row.GetString("Owner") ?? string.Empty, _options.LeaseDuration.TotalSeconds);
        while (true)
        {
            await Task.Delay(poll, _time, cancellationToken).ConfigureAwait(false);
            var now = await ReadAsync(cancellationToken).ConfigureAwait(false);
            if (now is null || now.ETag != row.ETag)
            {
                return (true, now);
            }

            if (_time.GetElapsedTime(started) >= _options.LeaseDuration)
            {
                return (false, row);
            }
        }
    }

    /// <summary>
    /// True when the row's holder released it (a graceful stop): <c>Released</c>, or, in a row of a host without
    /// nonces, an ExpiresAt not after its RenewedAt (such a host released by writing ExpiresAt = now; both are the
    /// writer's clock, so the comparison rests on no clock of this host).
    /// </summary>
    private static bool IsReleased(TableEntity row) =>
        row.GetBoolean("Released") ?? (row.GetString("Nonce") is null
            && row.GetDateTimeOffset("ExpiresAt") is { } expires && row.GetDateTimeOffset("RenewedAt") is { } renewed && expires <= renewed);

    /// <summary>Renews the lease; false when it was lost (the host is being stopped).</summary>
    private async Task<bool> RenewAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            // Validity runs from the moment the request is sent: the service may apply it at any time after.
            var sent = _time.GetTimestamp();
            try
            {
                _etag = ETagOf(await _storage.Leases.UpdateEntityAsync(NewRow(_time.GetUtcNow() + _options.LeaseDuration, clean: false, epoch: Epoch), _etag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false));
                Interlocked.Exchange(ref _validUntil, sent + _validTicks);
                if (Interlocked.Exchange(ref _lapsed, 0) != 0)
                {
                    _status.LeaseLapsed(null);
                    Log.LeaseValidAgain(_logger);
                }

                return true;
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // The ETag changed: ours if an earlier renewal succeeded without us seeing the answer, else lost.
                // Ours only with this process's nonce: the same owner id with another nonce is a copy of the data directory.
                var current = await ReadAsync(cancellationToken).ConfigureAwait(false);
                var owner = current?.GetString("Owner");
                var sameOwner = string.Equals(owner, OwnerId, StringComparison.Ordinal);
                if (current is not null && sameOwner && (current.GetInt64("Epoch") ?? 0) == Epoch && string.Equals(current.GetString("Nonce"), _nonce, StringComparison.Ordinal))
                {
                    _etag = current.ETag;
                    continue;
                }

                _lost = true;
                _ = IsValid;
                _metrics.LeaseRenewal("lost");
                if (sameOwner)
                {
                    Log.LeaseLostToCopy(_logger, OwnerId, current!.GetString("Nonce") ?? "none", _nonce, _identity!.Directory);
                }
                else
                {
                    Log.LeaseLost(_logger, owner ?? "(row deleted)", OwnerId);
                }

                Stop();
                return false;
            }
        }
    }

    private void Stop()
    {
        Environment.ExitCode = 1;
        _lifetime.StopApplication();
    }

    /// <summary>The lease row, or null when there is none.</summary>
    private async Task<TableEntity?> ReadAsync(CancellationToken cancellationToken)
    {
        var response = await _storage.Leases.GetEntityIfExistsAsync<TableEntity>(PartitionKey, RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        return response.HasValue ? response.Value : null;
    }

    /// <summary>The new ETag of a row the service answered a write of (every successful entity write carries one).</summary>
    private static ETag ETagOf(Response response) =>
        response.Headers.ETag ?? throw new InvalidOperationException("The table service answered an entity write without an ETag.");

    /// <summary>
    /// Its own lease, not released cleanly: only a directory whose journal reaches the row's high-water mark holds every
    /// write the owner acknowledged up to its last renewal. A row without a mark (Snapshot mode, older hosts) is not
    /// checked; a journal found corrupt at open is left to the replay, which refuses with the file and offset.
    /// </summary>
    private void CheckJournalReachesMark(TableEntity row, string directory)
    {
        if (_journal is null || row.GetGuid("JournalId") is not { } markJournal || row.GetInt64("JournalSegment") is not { } segment
            || row.GetInt64("JournalOffset") is not { } offset)
        {
            return;
        }

        var mark = new JournalPosition(segment, offset);
        var reached = _journal.OpenedAt;
        if (markJournal == _journal.JournalId && (reached is null || reached >= mark))
        {
            return;
        }

        var refused = new JournalBehindLeaseException(directory, OwnerId, markJournal, mark, _journal.JournalId, reached);
        if (!_options.AllowUncleanTakeover)
        {
            throw refused;
        }

        Log.JournalBehindLeaseAccepted(_logger, refused.Message);
    }

    /// <summary>
    /// The lease row: Owner, Nonce (this process start's), ExpiresAt (by the writer's wall clock; information only),
    /// RenewedAt (when it was written: "last seen"), Epoch, Clean (true only in the release of a host whose final
    /// snapshot persisted everything) and Released (true only in a release: the next host may claim at once). With a
    /// journal also its high-water mark: JournalId, JournalSegment and JournalOffset, the journal's durable position
    /// when the row was written (<see cref="CheckJournalReachesMark"/>).
    /// </summary>
    private TableEntity NewRow(DateTimeOffset expiresAt, bool clean, bool released = false, long? epoch = null)
    {
        var row = new TableEntity(PartitionKey, RowKey)
        {
            ["Owner"] = OwnerId,
            ["Nonce"] = _nonce,
            ["ExpiresAt"] = expiresAt,
            ["RenewedAt"] = _time.GetUtcNow(),
            ["Epoch"] = epoch ?? Epoch,
            ["Clean"] = clean,
            ["Released"] = released,
        };
        if (_journal is not null)
        {
            var position = _journal.DurablePosition;
            row["JournalId"] = _journal.JournalId;
            row["JournalSegment"] = position.Sequence;
            row["JournalOffset"] = position.Offset;
        }

        return row;
    }
}
