using System.Diagnostics;
using System.Diagnostics.Metrics;
using FuncMap.Counters;

namespace FuncMap.Telemetry;

/// <summary>
/// The names both hosts export under, in one place: meters, activity sources, span names and tags. A dashboard
/// built on these serves the local host and the Functions app alike (README "Observe it").
/// </summary>
/// <remarks>
/// Tags are low-cardinality by rule: a shard index, an outcome, a reason, a count; never a counter key, an
/// operation id or a batch id (a key's cardinality is unbounded). Spans are created only when a listener samples
/// them (<see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null otherwise), so a host that
/// exports nothing pays one volatile read per drain, group or run.
/// </remarks>
public static class FuncMapTelemetry
{
    /// <summary>
    /// The standard variable (OpenTelemetry specification, OTLP exporter) whose presence turns OTLP export on in both
    /// hosts; the exporter reads it and the other <c>OTEL_EXPORTER_OTLP_*</c> variables itself.
    /// </summary>
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The engine's meter and activity source (the owners' applies).</summary>
    public const string Engine = "FuncMap.Engine";

    /// <summary>The journal's meter and activity source (group commits).</summary>
    public const string Journal = "FuncMap.Journal";

    /// <summary>The storage meter and activity source (snapshots, restore, queue batches).</summary>
    public const string Storage = "FuncMap.Storage";

    /// <summary>The local host's HTTP meter (requests refused before a handler, unexpected errors).</summary>
    public const string Http = "FuncMap.Http";

    /// <summary>The Functions app's meter and activity source (entity operations, folds, snapshots, queue batches).</summary>
    public const string Functions = "FuncMap.Functions";

    /// <summary>
    /// Span of an owner's apply: one drain of a shard's mailbox on the local host (links to the requests it
    /// carried), one entity operation in the Functions app. Tags <see cref="ShardTag"/> (local), <see cref="ItemsTag"/>.
    /// </summary>
    public const string ApplySpan = "funcmap.apply";

    /// <summary>Span of one journal group commit (one write, one fsync); links to the applies (and their requests) it carries.</summary>
    public const string CommitSpan = "funcmap.journal.commit";

    /// <summary>Span of one snapshot run; tags <see cref="RowsTag"/> and, on failure, the span's error status.</summary>
    public const string SnapshotSpan = "funcmap.snapshot";

    /// <summary>Span of the restore at start (the snapshot table read into the engine); tag <see cref="RowsTag"/>.</summary>
    public const string RestoreSpan = "funcmap.restore";

    /// <summary>Span of one queue batch (messages received together); tag <see cref="ItemsTag"/> (messages).</summary>
    public const string QueueBatchSpan = "funcmap.queue.batch";

    /// <summary>Tag: the shard (owner) index, bounded by the shard count.</summary>
    public const string ShardTag = "funcmap.shard";

    /// <summary>Tag: how many items (mailbox items, records, messages) a span handled.</summary>
    public const string ItemsTag = "funcmap.items";

    /// <summary>Tag: rows a snapshot wrote or a restore read.</summary>
    public const string RowsTag = "funcmap.rows";

    /// <summary>Tag: an outcome (applied, duplicate, success, failure, ...), from a fixed set per instrument.</summary>
    public const string OutcomeTag = "funcmap.outcome";

    /// <summary>Tag: a refusal's reason or rule, from a fixed set per instrument.</summary>
    public const string ReasonTag = "funcmap.reason";

    /// <summary>
    /// Links one span carries at most (the OpenTelemetry SDK's default span link limit, <c>OTEL_SPAN_LINK_COUNT_LIMIT</c>):
    /// a drain or group carrying more requests links to the first ones.
    /// </summary>
    public const int MaxLinks = 128;

    /// <summary>The meters of the local host.</summary>
    public static IReadOnlyList<string> LocalMeters { get; } = [Engine, Journal, Storage, Http];

    /// <summary>The activity sources of the local host.</summary>
    public static IReadOnlyList<string> LocalSources { get; } = [Engine, Journal, Storage];

    /// <summary>The meters of the Functions app.</summary>
    public static IReadOnlyList<string> FunctionsMeters { get; } = [Functions, Storage];

    /// <summary>The activity sources of the Functions app.</summary>
    public static IReadOnlyList<string> FunctionsSources { get; } = [Functions, Storage];

    /// <summary>
    /// Explicit bucket boundaries of every latency histogram, in milliseconds (unit <c>ms</c>): from 0.1 ms (an
    /// in-memory apply) to 10 s (a snapshot of a large table), about three per decade.
    /// </summary>
    public static IReadOnlyList<double> LatencyBucketsMs { get; } = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

    /// <summary>
    /// The <see cref="OutcomeTag"/> value of an owner's answer: <c>applied</c>, <c>duplicate</c>, <c>not_found</c>,
    /// <c>overflow</c>, <c>idempotency_mismatch</c> (the engine's and the entity's <c>funcmap.engine.operations</c>).
    /// </summary>
    public static string OutcomeOf(OperationStatus status) => status switch
    {
        OperationStatus.Applied => "applied",
        OperationStatus.Duplicate => "duplicate",
        OperationStatus.NotFound => "not_found",
        OperationStatus.Mismatch => "idempotency_mismatch",
        _ => "overflow",
    };

    /// <summary>Creates a latency histogram in milliseconds with <see cref="LatencyBucketsMs"/> as its advised buckets.</summary>
    public static Histogram<double> CreateLatencyHistogram(this Meter meter, string name, string description)
    {
        ArgumentNullException.ThrowIfNull(meter);
        return meter.CreateHistogram(name, "ms", description, tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBucketsMs });
    }

    /// <summary>
    /// Starts a root span of <paramref name="source"/> and makes it current, or returns null when no listener samples
    /// it. A root: a drain, a group or a run serves many requests, which it links to instead of taking one as parent.
    /// For the loops of their own that call it (an owner, a background service): any ambient span is left for good.
    /// </summary>
    public static Activity? StartRoot(this ActivitySource source, string name, ActivityKind kind = ActivityKind.Internal, IEnumerable<ActivityLink>? links = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source.HasListeners())
        {
            return null;
        }

        // StartActivity takes Activity.Current as the parent when none is given.
        if (Activity.Current is not null)
        {
            Activity.Current = null;
        }

        return source.StartActivity(name, kind, parentContext: default, tags: null, links);
    }
}
