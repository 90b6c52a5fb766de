using System.Diagnostics.Metrics;

namespace FuncMap.Local;

/// <summary>Instrument names of the HTTP layer, in one place (meter <see cref="MeterName"/>).</summary>
public static class HttpInstruments
{
    /// <summary>The HTTP layer's meter.</summary>
    public const string MeterName = "FuncMap.Http";

    /// <summary>Requests refused before a handler ran (401, 503), tagged <c>funcmap.reason</c>.</summary>
    public const string Rejections = "funcmap.http.rejections";

    /// <summary>Requests that ended in an unexpected exception (500). Bad input must never count here.</summary>
    public const string UnexpectedErrors = "funcmap.http.unexpected_errors";
}

/// <summary>The HTTP layer's instruments; tags are low-cardinality (never the counter key).</summary>
public sealed class HttpMetrics
{
    private readonly Counter<long> _rejections;
    private readonly Counter<long> _unexpected;
    private long _unexpectedCount;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    public HttpMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(HttpInstruments.MeterName);
        _rejections = meter.CreateCounter<long>(HttpInstruments.Rejections, "{request}", "Requests refused before a handler ran.");
        _unexpected = meter.CreateCounter<long>(HttpInstruments.UnexpectedErrors, "{request}", "Requests answered 500 after an unexpected exception.");
    }

    internal void Rejected(string reason) => _rejections.Add(1, new KeyValuePair<string, object?>("funcmap.reason", reason));

    /// <summary>Requests answered 500 since start (what the tests assert stays zero under bad input).</summary>
    public long UnexpectedCount => Interlocked.Read(ref _unexpectedCount);

    internal void Unexpected()
    {
        Interlocked.Increment(ref _unexpectedCount);
        _unexpected.Add(1);
    }
}
