using System.Diagnostics.Metrics;
using FuncMap.Journal;

namespace FuncMap.Local;

/// <summary>
/// Benchmark-only (registered with <c>FuncMap:Bench:NoopEndpoint</c>): listens to this host's
/// <c>funcmap.journal.group.size</c> histogram and keeps how many groups had each size, so that
/// <c>bench/load</c> can report records per fsync for each load level.
/// </summary>
public sealed class JournalGroupRecorder(IMeterFactory meterFactory) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly MeterListener _listener = new();
    private Dictionary<int, long> _counts = [];

    /// <summary>Starts listening to the journal's meter of this host (not to other hosts in the process).</summary>
    public void Start()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == JournalInstruments.MeterName
                && instrument.Name == JournalInstruments.GroupSize
                && ReferenceEquals(instrument.Meter.Scope, meterFactory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((_, size, _, _) =>
        {
            lock (_gate)
            {
                _counts[size] = _counts.GetValueOrDefault(size) + 1;
            }
        });
        _listener.Start();
    }

    /// <summary>The distribution recorded since the previous call; starts a new one.</summary>
    public GroupDistribution TakeDistribution()
    {
        Dictionary<int, long> counts;
        lock (_gate)
        {
            counts = _counts;
            _counts = [];
        }

        var sizes = counts.OrderBy(static p => p.Key).ToArray();
        var groups = sizes.Sum(static p => p.Value);
        var records = sizes.Sum(static p => (long)p.Key * p.Value);
        return new GroupDistribution(
            groups,
            records,
            groups == 0 ? 0 : (double)records / groups,
            Percentile(sizes, groups, 0.5),
            Percentile(sizes, groups, 0.9),
            Percentile(sizes, groups, 0.99),
            sizes.Length == 0 ? 0 : sizes[^1].Key);
    }

    /// <inheritdoc />
    public void Dispose() => _listener.Dispose();

    private static int Percentile(KeyValuePair<int, long>[] sizes, long total, double p)
    {
        var rank = (long)Math.Ceiling(total * p);
        long seen = 0;
        foreach (var (size, count) in sizes)
        {
            seen += count;
            if (seen >= rank)
            {
                return size;
            }
        }

        return 0;
    }
}

/// <summary>Records per group commit (per fsync) over a period: count, mean and percentiles.</summary>
public sealed record GroupDistribution(long Groups, long Records, double Mean, int P50, int P90, int P99, int Max);
