using System.Diagnostics.Metrics;

namespace FuncMap.Client;

/// <summary>The instrument names of meter <see cref="MeterName"/> (low-cardinality tags only, never a counter key).</summary>
public static class ClientInstruments
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "FuncMap.Client";

    /// <summary>HTTP requests sent, every attempt counted (tag <c>retry</c>: true for an attempt after the first).</summary>
    public const string Requests = "funcmap.client.requests";

    /// <summary>Keys the aggregating writer holds: summed and not yet acknowledged (pending and in flight).</summary>
    public const string PendingKeys = "funcmap.client.buffer.pending_keys";

    /// <summary>Increments (calls of <see cref="CounterBuffer.Increment"/>) whose batch the server acknowledged.</summary>
    public const string FlushedIncrements = "funcmap.client.buffer.increments.flushed";

    /// <summary>Batches the aggregating writer sent again with the same id after the HTTP pipeline gave up.</summary>
    public const string BatchRetries = "funcmap.client.buffer.batch.retries";

    /// <summary>Increments refused (tag <c>reason</c>: <c>full</c>, <c>counter.overflow</c>, <c>idempotency.mismatch</c>, a ProblemDetails rule, or <c>unsent</c> on close).</summary>
    public const string RefusedIncrements = "funcmap.client.buffer.increments.refused";

    /// <summary>Seconds from a batch's sealing to its acknowledgement (the flush latency).</summary>
    public const string FlushDuration = "funcmap.client.buffer.flush.duration";
}

/// <summary>The client's instruments on one <see cref="Meter"/> (from <see cref="IMeterFactory"/> when there is one).</summary>
internal sealed class ClientMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public ClientMetrics(IMeterFactory? meterFactory)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(ClientInstruments.MeterName) ?? new Meter(ClientInstruments.MeterName);
        Requests = _meter.CreateCounter<long>(ClientInstruments.Requests, "{request}", "HTTP requests sent, every attempt counted.");
        FlushedIncrements = _meter.CreateCounter<long>(ClientInstruments.FlushedIncrements, "{increment}", "Increments whose batch was acknowledged.");
        BatchRetries = _meter.CreateCounter<long>(ClientInstruments.BatchRetries, "{batch}", "Batches sent again with the same id after the HTTP pipeline gave up.");
        RefusedIncrements = _meter.CreateCounter<long>(ClientInstruments.RefusedIncrements, "{increment}", "Increments refused or not sent.");
        FlushDuration = _meter.CreateHistogram<double>(ClientInstruments.FlushDuration, "s", "From a batch's sealing to its acknowledgement.");
    }

    public Meter Meter => _meter;

    public Counter<long> Requests { get; }

    public Counter<long> FlushedIncrements { get; }

    public Counter<long> BatchRetries { get; }

    public Counter<long> RefusedIncrements { get; }

    public Histogram<double> FlushDuration { get; }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}

/// <summary>
/// Counts every attempt: it sits below the resilience handler, so each retry passes through it with the same request
/// message (the first pass marks the message, later passes are retries).
/// </summary>
internal sealed class AttemptCountingHandler(ClientMetrics metrics) : DelegatingHandler
{
    private static readonly HttpRequestOptionsKey<bool> Sent = new("FuncMap.Client.Sent");

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var retry = request.Options.TryGetValue(Sent, out var sent) && sent;
        request.Options.Set(Sent, true);
        metrics.Requests.Add(1, new KeyValuePair<string, object?>("retry", retry));
        return base.SendAsync(request, cancellationToken);
    }
}
