using System.Diagnostics;
using System.Diagnostics.Metrics;
using FuncMap.Telemetry;

namespace FuncMap.Journal;

/// <summary>Instrument names of the journal, in one place (meter <see cref="MeterName"/>).</summary>
public static class JournalInstruments
{
    /// <summary>The journal's meter.</summary>
    public const string MeterName = FuncMapTelemetry.Journal;

    /// <summary>Records made durable by one group commit (one write and one fsync).</summary>
    public const string GroupSize = "funcmap.journal.group.size";

    /// <summary>Time one group's write and fsync took (ms).</summary>
    public const string CommitDuration = "funcmap.journal.commit.duration";

    /// <summary>Bytes written to segments (frames; segment headers excluded).</summary>
    public const string BytesWritten = "funcmap.journal.bytes.written";

    /// <summary>Transitions to unavailable: a group's write or fsync, or a segment's creation, failed (the journal then refuses writes until it has recovered on a fresh segment).</summary>
    public const string Failures = "funcmap.journal.failures";
}

/// <summary>The journal's activity source: one <see cref="FuncMapTelemetry.CommitSpan"/> per group commit that a listener samples.</summary>
internal static class JournalTelemetry
{
    public static ActivitySource Source { get; } = new(FuncMapTelemetry.Journal);
}

/// <summary>The journal's instruments, recorded once per group by the writer thread.</summary>
internal sealed class JournalMetrics
{
    private readonly Histogram<int> _groupSize;
    private readonly Histogram<double> _commitDuration;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _failures;

    public JournalMetrics(Meter meter)
    {
        _groupSize = meter.CreateHistogram<int>(JournalInstruments.GroupSize, "{record}", "Records made durable by one group commit (one write and one fsync).");
        _commitDuration = meter.CreateLatencyHistogram(JournalInstruments.CommitDuration, "Time one group's write and fsync took.");
        _bytes = meter.CreateCounter<long>(JournalInstruments.BytesWritten, "By", "Bytes written to journal segments.");
        _failures = meter.CreateCounter<long>(JournalInstruments.Failures, "{failure}", "Times the journal became unavailable (a write, fsync or segment creation failed).");
    }

    public void Committed(int records, int bytes, TimeSpan elapsed)
    {
        _groupSize.Record(records);
        _commitDuration.Record(elapsed.TotalMilliseconds);
        _bytes.Add(bytes);
    }

    public void Failed() => _failures.Add(1);
}
