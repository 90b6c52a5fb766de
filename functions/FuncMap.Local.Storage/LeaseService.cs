using System.Net;
using Azure;
using Azure.Data.Tables;
using FuncMap.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FuncMap.Local.Storage;

/// <summary>Another host holds the storage's single-writer lease.</summary>
public sealed class LeaseHeldException(string owner, DateTimeOffset expiresAt, string table)
    : InvalidOperationException(
        $"Another FuncMap host owns this storage: the lease row (table {table}, PartitionKey 'lease', RowKey 'counters') " +
        $"belongs to '{owner}' until {expiresAt:O}. Two hosts must never write the same counters; stop the other host " +
        "(a gracefully stopped host releases the lease at once; a killed one's lease expires at the time shown).")
{
    /// <summary>The owner id of the host holding the lease.</summary>
    public string Owner { get; } = owner;

    /// <summary>When its lease expires unless renewed.</summary>
    public DateTimeOffset ExpiresAt { get; } = expiresAt;
}

/// <summary>
/// The single-writer lease: before any counter is loaded, the host claims the row (<c>lease</c>,
/// <c>counters</c>) of the lease table (insert when missing; ETag-conditional update when expired or
/// already ours), renews it every third of its duration, and releases it on a graceful stop. A second host
/// with a live lease refuses to start; a host that finds its lease taken stops rather than keep writing.
/// </summary>
public sealed class LeaseService : IHostedLifecycleService, IDisposable
{
    internal const string PartitionKey = "lease";
    internal const string RowKey = "counters";

    private readonly CounterStorage _storage;
    private readonly StorageOptions _options;
    private readonly DataDirectory _dataDirectory;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly StorageStatus _status;
    private readonly StorageMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _claimed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private HostIdentity? _identity;
    private ETag _etag;
    private Task? _loop;
    private volatile bool _lost;
    private Task? _stop;

    internal LeaseService(CounterStorage storage, IOptions<StorageOptions> options, DataDirectory dataDirectory, IHostApplicationLifetime lifetime,
        StorageStatus status, StorageMetrics metrics, TimeProvider time, ILogger<LeaseService> logger)
    {
        _storage = storage;
        _options = options.Value;
        _dataDirectory = dataDirectory;
        _lifetime = lifetime;
        _status = status;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    /// <summary>This host's owner id (available once the host started).</summary>
    public string OwnerId => _identity?.OwnerId ?? throw new InvalidOperationException("The lease service has not started.");

    /// <summary>Completes once the lease is ours; faults when another host holds it.</summary>
    public Task WhenClaimed => _claimed.Task;

    /// <summary>True while this host may write the storage: the lease was claimed and never lost.</summary>
    public bool IsHeld => _claimed.Task.IsCompletedSuccessfully && !_lost;

    /// <summary>Locks the data directory and claims the lease before any other hosted service starts (hence before restore).</summary>
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        _identity = HostIdentity.Open(_dataDirectory.Path);
        try
        {
            await ClaimAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (LeaseHeldException ex)
        {
            Log.LeaseHeld(_logger, ex.Owner, ex.ExpiresAt);
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
            var row = NewRow(_time.GetUtcNow());
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
                catch (LeaseHeldException ex)
                {
                    Log.LeaseHeld(_logger, ex.Owner, ex.ExpiresAt);
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
            while (true)
            {
                await Task.Delay(period, _time, cancellationToken).ConfigureAwait(false);
                try
                {
                    if (!await RenewAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return;
                    }

                    _metrics.LeaseRenewal("success");
                    _status.LeaseRenewed();
                }
                catch (Exception ex) when (StorageFailures.IsStorage(ex))
                {
                    // Nobody can take an unexpired lease; an expired one is only lost if the update finds a new owner.
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
            try
            {
                if (current is null)
                {
                    _etag = ETagOf(await _storage.Leases.AddEntityAsync(NewRow(now + _options.LeaseDuration), cancellationToken).ConfigureAwait(false));
                }
                else
                {
                    var owner = current.GetString("Owner") ?? string.Empty;
                    var expires = current.GetDateTimeOffset("ExpiresAt") ?? DateTimeOffset.MinValue;
                    if (!string.Equals(owner, OwnerId, StringComparison.Ordinal) && expires > now)
                    {
                        throw new LeaseHeldException(owner, expires, _storage.Leases.Name);
                    }

                    _etag = ETagOf(await _storage.Leases.UpdateEntityAsync(NewRow(now + _options.LeaseDuration), current.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false));
                    if (!string.Equals(owner, OwnerId, StringComparison.Ordinal) && owner.Length > 0)
                    {
                        Log.LeaseTakenOver(_logger, owner, expires);
                    }
                }
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
            {
                continue; // Another host raced us: read again and decide on what is there now.
            }

            _claimed.TrySetResult();
            Log.LeaseClaimed(_logger, OwnerId, _options.LeaseDuration.TotalSeconds);
            return;
        }
    }

    /// <summary>Renews the lease; false when it was lost (the host is being stopped).</summary>
    private async Task<bool> RenewAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                _etag = ETagOf(await _storage.Leases.UpdateEntityAsync(NewRow(_time.GetUtcNow() + _options.LeaseDuration), _etag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false));
                return true;
            }
            catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.NotFound)
            {
                // The ETag changed: ours if an earlier renewal succeeded without us seeing the answer, else lost.
                var current = await ReadAsync(cancellationToken).ConfigureAwait(false);
                if (current is not null && string.Equals(current.GetString("Owner"), OwnerId, StringComparison.Ordinal))
                {
                    _etag = current.ETag;
                    continue;
                }

                _lost = true;
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

    private TableEntity NewRow(DateTimeOffset expiresAt) => new(PartitionKey, RowKey)
    {
        ["Owner"] = OwnerId,
        ["ExpiresAt"] = expiresAt,
    };
}
