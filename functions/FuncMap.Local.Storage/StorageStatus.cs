namespace FuncMap.Local.Storage;

/// <summary>
/// What the storage services last saw, for the health check: storage trouble degrades health but never
/// makes the host unready, because reads and writes keep working in memory.
/// </summary>
public sealed class StorageStatus(TimeProvider time)
{
    private readonly Lock _lock = new();
    private DateTimeOffset? _lastSnapshot;
    private string? _snapshotError;
    private DateTimeOffset? _snapshotErrorAt;
    private string? _ingestionError;
    private DateTimeOffset? _ingestionErrorAt;
    private string? _leaseError;
    private string? _restoreError;
    private string? _leaseLapse;

    /// <summary>When the last snapshot persisted, or null before the first.</summary>
    public DateTimeOffset? LastSnapshot
    {
        get
        {
            lock (_lock)
            {
                return _lastSnapshot;
            }
        }
    }

    /// <summary>Why the lease lapsed (writes are refused), or null while it is valid.</summary>
    public string? LeaseLapse
    {
        get
        {
            lock (_lock)
            {
                return _leaseLapse;
            }
        }
    }

    /// <summary>A description of storage trouble, or null when every storage service works.</summary>
    public string? Problem()
    {
        lock (_lock)
        {
            var now = time.GetUtcNow();
            var problems = new List<string>();
            if (_restoreError is not null)
            {
                problems.Add("restore is waiting for storage: " + _restoreError);
            }

            if (_snapshotError is not null)
            {
                var age = _lastSnapshot is { } last ? $"{(now - last).TotalSeconds:0}s ago" : "never";
                problems.Add($"snapshots are failing since {_snapshotErrorAt:O} (last successful snapshot {age}): {_snapshotError}");
            }

            if (_ingestionError is not null)
            {
                problems.Add($"queue ingestion is failing since {_ingestionErrorAt:O}: {_ingestionError}");
            }

            if (_leaseError is not null)
            {
                problems.Add("lease renewal is failing: " + _leaseError);
            }

            return problems.Count == 0 ? null : string.Join("; ", problems);
        }
    }

    internal void SnapshotSucceeded()
    {
        lock (_lock)
        {
            _lastSnapshot = time.GetUtcNow();
            _snapshotError = null;
            _snapshotErrorAt = null;
        }
    }

    internal void SnapshotFailed(Exception exception)
    {
        lock (_lock)
        {
            _snapshotErrorAt ??= time.GetUtcNow();
            _snapshotError = exception.Message;
        }
    }

    internal void IngestionSucceeded()
    {
        if (Volatile.Read(ref _ingestionError) is null)
        {
            return;
        }

        lock (_lock)
        {
            _ingestionError = null;
            _ingestionErrorAt = null;
        }
    }

    internal void IngestionFailed(Exception exception)
    {
        lock (_lock)
        {
            _ingestionErrorAt ??= time.GetUtcNow();
            _ingestionError = exception.Message;
        }
    }

    internal void LeaseRenewed()
    {
        lock (_lock)
        {
            _leaseError = null;
        }
    }

    internal void LeaseFailed(Exception exception)
    {
        lock (_lock)
        {
            _leaseError = exception.Message;
        }
    }

    internal void LeaseLapsed(string? reason)
    {
        lock (_lock)
        {
            _leaseLapse = reason;
        }
    }

    internal void RestoreWaiting(Exception? exception)
    {
        lock (_lock)
        {
            _restoreError = exception?.Message;
        }
    }
}
