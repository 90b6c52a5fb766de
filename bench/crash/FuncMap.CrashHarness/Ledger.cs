namespace FuncMap.Crash;

/// <summary>The kind of an HTTP write.</summary>
public enum WriteKind
{
    /// <summary><c>POST add</c> → 202.</summary>
    Add,

    /// <summary><c>POST add?wait=true</c> → 200 with the counter.</summary>
    AddWait,

    /// <summary><c>POST /api/counters/batch</c> → 202; one operation per key, the batch id as operation id.</summary>
    Batch,
}

/// <summary>One write the harness sent: delta 1 on each of its keys, under one operation id.</summary>
public sealed class Write(string id, WriteKind kind, string[] keys)
{
    public string Id { get; } = id;

    public WriteKind Kind { get; } = kind;

    public string[] Keys { get; } = keys;

    /// <summary>Acknowledged (2xx) at last.</summary>
    public bool Acknowledged { get; set; }

    /// <summary>Acknowledged at the first attempt (not after a re-send).</summary>
    public bool AcknowledgedFirstTime { get; set; }

    /// <summary>Its outcome was unknown once (connection lost, timeout).</summary>
    public bool WasUnknown { get; set; }

    /// <summary>Refused: answered 503 <c>journal.unavailable</c> as not applied; it is never re-sent and must never show up.</summary>
    public bool Refused { get; set; }
}

/// <summary>
/// Every write sent, and per key how many were acknowledged and how many are of unknown outcome. Because
/// every write adds exactly 1 to each of its keys under its own operation id, a key's value must lie in
/// [acknowledged, acknowledged + unknown] after any crash, and equal the number of writes sent once every
/// unknown write was re-sent with its operation id (deduplication makes the re-send a no-op if it was applied).
/// A refused write (503 <c>journal.unavailable</c>, not applied by contract) is neither: it is left out of the upper
/// bound, so a refused write that shows up anywhere makes a value exceed acknowledged + unknown.
/// </summary>
public sealed class Ledger
{
    private readonly Lock _gate = new();
    private readonly List<Write> _writes = [];
    private readonly HashSet<Write> _unknown = [];
    private readonly Dictionary<string, long> _acknowledged = [];
    private readonly Dictionary<string, long> _unknownPerKey = [];
    private readonly Dictionary<string, long> _sentPerKey = [];
    private readonly Dictionary<string, long> _refusedPerKey = [];
    private readonly Dictionary<string, HashSet<long>> _answeredVersions = [];
    private readonly Dictionary<(string Key, long Version), long> _observed = [];

    public Ledger(IEnumerable<string> keys)
    {
        foreach (var key in keys)
        {
            _acknowledged[key] = 0;
            _unknownPerKey[key] = 0;
            _sentPerKey[key] = 0;
            _refusedPerKey[key] = 0;
            _answeredVersions[key] = [];
        }
    }

    /// <summary>Versions handed out twice for one key by <c>wait=true</c> answers (must stay 0).</summary>
    public long VersionsReused { get; private set; }

    /// <summary><c>wait=true</c> answers whose value differed from their version (must stay 0: only adds of 1).</summary>
    public long AnswersInconsistent { get; private set; }

    /// <summary>Versions of a key seen with two different values, in any read or answer (must stay 0).</summary>
    public long ConflictingVersions { get; private set; }

    /// <summary>Writes refused (503 <c>journal.unavailable</c>, not applied).</summary>
    public long RefusedWrites { get; private set; }

    /// <summary>
    /// Whether a 503 with this ProblemDetails <paramref name="rule"/> and <paramref name="detail"/> means the write is not
    /// applied: <c>journal.unavailable</c>, unless the journal says the outcome is open ("may still take effect"), and not
    /// for a batch (keys committed before the failure are applied). Any other 503 leaves the outcome to a re-send.
    /// </summary>
    public static bool IsRefusal(WriteKind kind, string? rule, string? detail) =>
        kind != WriteKind.Batch && rule == "journal.unavailable" && !(detail ?? "").Contains("may still take effect", StringComparison.Ordinal);

    /// <summary>Records a value seen for a key's version (a read or a wait answer); a second value for it is a conflict.</summary>
    public void Observed(string key, long version, long value)
    {
        lock (_gate)
        {
            if (_observed.TryGetValue((key, version), out var seen))
            {
                if (seen != value)
                {
                    ConflictingVersions++;
                }
            }
            else
            {
                _observed[(key, version)] = value;
            }
        }
    }

    /// <summary>Whether every key's value in <paramref name="rows"/> is its acknowledged count (nothing unknown).</summary>
    public bool AllPersisted(IReadOnlyDictionary<string, long> rows)
    {
        lock (_gate)
        {
            return _unknown.Count == 0 && _acknowledged.All(p => (rows.TryGetValue(p.Key, out var v) ? v : 0) == p.Value);
        }
    }

    public void Sent(Write write)
    {
        lock (_gate)
        {
            _writes.Add(write);
            foreach (var key in write.Keys)
            {
                _sentPerKey[key]++;
            }
        }
    }

    public void Acknowledged(Write write, bool firstTime)
    {
        lock (_gate)
        {
            if (write.Acknowledged)
            {
                return;
            }

            write.Acknowledged = true;
            write.AcknowledgedFirstTime = firstTime;
            if (_unknown.Remove(write))
            {
                foreach (var key in write.Keys)
                {
                    _unknownPerKey[key]--;
                }
            }

            foreach (var key in write.Keys)
            {
                _acknowledged[key]++;
            }
        }
    }

    public void Unknown(Write write)
    {
        lock (_gate)
        {
            write.WasUnknown = true;
            if (!write.Acknowledged && _unknown.Add(write))
            {
                foreach (var key in write.Keys)
                {
                    _unknownPerKey[key]++;
                }
            }
        }
    }

    /// <summary>Records a refusal: the write is not applied and leaves the upper bound of its keys.</summary>
    public void Refused(Write write)
    {
        lock (_gate)
        {
            if (write.Acknowledged || write.Refused || _unknown.Contains(write))
            {
                throw new InvalidOperationException($"Write {write.Id} refused after it was acknowledged or of unknown outcome.");
            }

            write.Refused = true;
            RefusedWrites++;
            foreach (var key in write.Keys)
            {
                _refusedPerKey[key]++;
            }
        }
    }

    /// <summary>Records a <c>wait=true</c> answer: the version the owner gave this write.</summary>
    public void Answered(string key, long value, long version)
    {
        lock (_gate)
        {
            if (value != version)
            {
                AnswersInconsistent++;
            }

            if (!_answeredVersions[key].Add(version))
            {
                VersionsReused++;
            }
        }
    }

    public Write[] UnknownWrites()
    {
        lock (_gate)
        {
            return [.. _unknown];
        }
    }

    public (long Acknowledged, long Unknown) Of(string key)
    {
        lock (_gate)
        {
            return (_acknowledged[key], _unknownPerKey[key]);
        }
    }

    /// <summary>How many writes on <paramref name="key"/> were refused.</summary>
    public long RefusedOf(string key)
    {
        lock (_gate)
        {
            return _refusedPerKey[key];
        }
    }

    /// <summary>
    /// The most <paramref name="key"/> may hold now: every write sent on it but the refused ones (acknowledged + unknown +
    /// in flight). Taken after a read returned, a value above it is a refused write served.
    /// </summary>
    public long UpperBound(string key)
    {
        lock (_gate)
        {
            return _sentPerKey[key] - _refusedPerKey[key];
        }
    }

    public long MaxAnsweredVersion(string key)
    {
        lock (_gate)
        {
            return _answeredVersions[key].Count == 0 ? 0 : _answeredVersions[key].Max();
        }
    }

    public (long Writes, long Operations, long AcknowledgedFirstTime, long EverUnknown, long Batches, long Waits) Totals()
    {
        lock (_gate)
        {
            return (_writes.Count, _writes.Sum(static w => (long)w.Keys.Length), _writes.Count(static w => w.AcknowledgedFirstTime),
                _writes.Count(static w => w.WasUnknown), _writes.Count(static w => w.Kind == WriteKind.Batch), _writes.Count(static w => w.Kind == WriteKind.AddWait));
        }
    }
}
