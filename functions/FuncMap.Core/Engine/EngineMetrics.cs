using System.Diagnostics;
using System.Diagnostics.Metrics;
using FuncMap.Counters;
using FuncMap.Telemetry;

namespace FuncMap.Engine;

/// <summary>Instrument names of the engine, in one place (meter <see cref="MeterName"/>).</summary>
public static class EngineInstruments
{
    /// <summary>The engine's meter.</summary>
    public const string MeterName = FuncMapTelemetry.Engine;

    /// <summary>Operations applied by owners, tagged <c>funcmap.operation</c> and <c>funcmap.outcome</c>.</summary>
    public const string Operations = "funcmap.engine.operations";

    /// <summary>Operations refused before they reached an owner, tagged <c>funcmap.reason</c> (busy, timeout, stopped).</summary>
    public const string Rejections = "funcmap.engine.rejections";

    /// <summary>Items waiting in mailboxes, tagged <c>funcmap.shard</c>.</summary>
    public const string MailboxDepth = "funcmap.engine.mailbox.depth";

    /// <summary>Time from post to answer of an awaited operation (ms).</summary>
    public const string OperationDuration = "funcmap.engine.operation.duration";

    /// <summary>Mailbox items an owner applied in one drain.</summary>
    public const string DrainSize = "funcmap.engine.drain.size";

    /// <summary>Counters held in memory, including tombstones awaiting the snapshot.</summary>
    public const string Counters = "funcmap.engine.counters";
}

/// <summary>The engine's instruments. Counted per drain, not per operation, to stay off the hot path.</summary>
internal sealed class EngineMetrics
{
    private readonly Counter<long> _operations;
    private readonly Counter<long> _rejections;
    private readonly Histogram<double> _duration;
    private readonly Histogram<int> _drainSize;

    public EngineMetrics(Meter meter, Func<IEnumerable<Measurement<int>>> mailboxDepth, Func<long> counters)
    {
        _operations = meter.CreateCounter<long>(EngineInstruments.Operations, "{operation}", "Operations applied by counter owners.");
        _rejections = meter.CreateCounter<long>(EngineInstruments.Rejections, "{operation}", "Operations refused before they reached an owner.");
        _duration = meter.CreateLatencyHistogram(EngineInstruments.OperationDuration, "Time from post to answer of an awaited operation.");
        _drainSize = meter.CreateHistogram<int>(EngineInstruments.DrainSize, "{item}", "Mailbox items applied in one drain.");
        meter.CreateObservableGauge(EngineInstruments.MailboxDepth, mailboxDepth, "{item}", "Items waiting in shard mailboxes.");
        meter.CreateObservableGauge(EngineInstruments.Counters, counters, "{counter}", "Counters held in memory.");
    }

    public void RecordDrain(int items, in OutcomeTally tally)
    {
        _drainSize.Record(items);
        if (!_operations.Enabled)
        {
            return;
        }

        Add(OperationStatus.Applied, tally.Applied);
        Add(OperationStatus.Duplicate, tally.Duplicates);
        Add(OperationStatus.NotFound, tally.NotFound);
        Add(OperationStatus.Overflow, tally.Overflows);
        Add(OperationStatus.Mismatch, tally.Mismatches);
    }

    public void Rejected(string reason) =>
        _rejections.Add(1, new KeyValuePair<string, object?>(FuncMapTelemetry.ReasonTag, reason));

    public void Answered(TimeSpan elapsed) => _duration.Record(elapsed.TotalMilliseconds);

    private void Add(OperationStatus status, long count)
    {
        if (count > 0)
        {
            _operations.Add(count, new KeyValuePair<string, object?>(FuncMapTelemetry.OutcomeTag, FuncMapTelemetry.OutcomeOf(status)));
        }
    }
}

/// <summary>The engine's activity source: one <see cref="FuncMapTelemetry.ApplySpan"/> per drain that a listener samples.</summary>
internal static class EngineTelemetry
{
    public static ActivitySource Source { get; } = new(FuncMapTelemetry.Engine);

    /// <summary>
    /// The caller's span when it is recorded (sampled), captured at post only while the engine's spans are listened to
    /// (one volatile read otherwise): an apply links to recorded requests only, as a link to a dropped span leads nowhere.
    /// </summary>
    public static Activity? CallerSpan() => Source.HasListeners() && Activity.Current is { Recorded: true } caller ? caller : null;
}

/// <summary>Outcomes of one drain.</summary>
internal struct OutcomeTally
{
    public int Applied;
    public int Duplicates;
    public int NotFound;
    public int Overflows;
    public int Mismatches;
}
