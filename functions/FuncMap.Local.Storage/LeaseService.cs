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

/// <summary>Another host holds the storage's single-writer lease.</summary>
public sealed class LeaseHeldException(string owner, DateTimeOffset expiresAt, string table)
    : LeaseRefusedException(
        $"Another FuncMap host owns this storage: the lease row (table {table}, PartitionKey 'lease', RowKey 'counters') " +
        $"belongs to '{owner}' until {expiresAt:O}. Two hosts must never write the same counters; stop the other host " +
        "(a gracefully stopped host releases the lease at once; a killed one's lease expires at the time shown).")
{
    /// <summary>The owner id of the host holding the lease.</summary>
    public string Owner { get; } = owner;

    /// <summary>When its lease expires unless renewed.</summary>
    public DateTimeOffset ExpiresAt { get; } = expiresAt;
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
/// last successful claim or renewal request was SENT. Other hosts judge expiry by the row's ExpiresAt on their clock,
/// which is at least LeaseDuration after that send; the margin covers clock-rate differences and the moments between
/// the check and the answer leaving the process.
/// </para>
/// <para>
/// Takeover: an expired lease whose owner did not stop cleanly is taken over only with
/// <see cref="StorageOptions.AllowUncleanTakeover"/>; otherwise the host refuses to start (<see cref="UncleanLeaseException"/>).
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
            Log.LeaseRefused(_logger, ex.Message);
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
            var row = NewRow(_time.GetUtcNow(), clean);
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
                catch (LeaseRefusedException ex)
                {
                    Log.LeaseRefused(_logger, ex.Message);
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
        while (true)
        {
            var now = _time.GetUtcNow();
            var current = await ReadAsync(cancellationToken).ConfigureAwait(false);
            var sent = _time.GetTimestamp();
            long epoch;
            try
            {
                if (current is null)
                {
                    epoch = 1;
                    _claimedClean = true;
                    _etag = ETagOf(await _storage.Leases.AddEntityAsync(NewRow(now + _options.LeaseDuration, clean: false, epoch), cancellationToken).ConfigureAwait(false));
                }
                else
                {
                    var owner = current.GetString("Owner") ?? string.Empty;
                    var expires = current.GetDateTimeOffset("ExpiresAt") ?? DateTimeOffset.MinValue;
                    var clean = current.GetBoolean("Clean") ?? false;
                    var previous = current.GetInt64("Epoch") ?? 0;
                    var mine = string.Equals(owner, OwnerId, StringComparison.Ordinal);
                    if (!mine && expires > now)
                    {
                        throw new LeaseHeldException(owner, expires, _storage.Leases.Name);
                    }

                    var lastSeen = current.GetDateTimeOffset("RenewedAt") ?? expires - _options.LeaseDuration;
                    if (!mine && !clean && !_options.AllowUncleanTakeover)
                    {
                        throw new UncleanLeaseException(owner, lastSeen);
                    }

                    // The same owner after a crash is no takeover: its journal is replayed, nothing is lost.
                    epoch = mine ? Math.Max(previous, 1) : previous + 1;
                    _claimedClean = clean;
                    _etag = ETagOf(await _storage.Leases.UpdateEntityAsync(NewRow(now + _options.LeaseDuration, clean: false, epoch), current.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false));
                    if (!mine && !clean)
                    {
                        Log.UncleanTakeover(_logger, owner, lastSeen, epoch);
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

            Interlocked.Exchange(ref _epoch, epoch);
            Interlocked.Exchange(ref _validUntil, sent + _validTicks);
            // Every record appended from now on is written under this epoch (the engine starts after the claim).
            _journal?.BeginEpoch(epoch);
            _claimed.TrySetResult();
            Log.LeaseClaimed(_logger, OwnerId, _options.LeaseDuration.TotalSeconds, epoch);
            return;
        }
    }

    /// <summary>Renews the lease; false when it was lost (the host is being stopped).</summary>
    private async Task<bool> RenewAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            // Validity runs from the moment the request is sent: the service may apply it at any time after.
            var sent = _time.GetTimestamp();
            try
            {
                _etag = ETagOf(await _storage.Leases.UpdateEntityAsync(NewRow(_time.GetUtcNow() + _options.LeaseDuration, clean: false, Epoch), _etag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false));
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
                var current = await ReadAsync(cancellationToken).ConfigureAwait(false);
                if (current is not null && string.Equals(current.GetString("Owner"), OwnerId, StringComparison.Ordinal) && (current.GetInt64("Epoch") ?? 0) == Epoch)
                {
                    _etag = current.ETag;
                    continue;
                }

                _lost = true;
                _ = IsValid;
                _metrics.LeaseRenewal("lost");
                Log.LeaseLost(_logger, current?.GetString("Owner") ?? "(row deleted)", OwnerId);
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
    /// The lease row: Owner, ExpiresAt (by the writer's wall clock), RenewedAt (when it was written: "last seen"),
    /// Epoch, and Clean (true only in the release of a host whose final snapshot persisted everything).
    /// </summary>
    private TableEntity NewRow(DateTimeOffset expiresAt, bool clean, long? epoch = null) => new(PartitionKey, RowKey)
    {
        ["Owner"] = OwnerId,
        ["ExpiresAt"] = expiresAt,
        ["RenewedAt"] = _time.GetUtcNow(),
        ["Epoch"] = epoch ?? Epoch,
        ["Clean"] = clean,
    };
}
