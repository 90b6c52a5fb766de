using System.Diagnostics;
using System.Net;
using FuncMap.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace FuncMap.Local.Tests;

/// <summary>
/// OpenTelemetry on the local host: the instruments and spans it exports (names, units, tags, links; no tag carries a
/// key), <c>/metrics</c> when enabled, and nothing registered when no exporter is configured.
/// </summary>
/// <remarks>
/// Their own collection, run alone (<see cref="TelemetryTestsGroup"/>): a provider listens process-wide.
/// </remarks>
[Collection(nameof(TelemetryTests))]
public sealed class TelemetryTests
{
    private static readonly string[] FuncMapMeters = [.. FuncMapTelemetry.LocalMeters];

    [Fact]
    public async Task InMemoryExporter_WritesThroughTheJournal_InstrumentsAndSpansHaveNamesUnitsAndTags()
    {
        var metrics = new List<MetricSnapshot>();
        var spans = new List<Activity>();
        var key = "otel-" + Guid.NewGuid().ToString("N");
        await using var factory = new LocalHostFactory(services: s => s.AddOpenTelemetry()
            .WithMetrics(m => m.AddFuncMapLocalInstrumentation().AddInMemoryExporter(metrics))
            .WithTracing(t => t.AddFuncMapLocalInstrumentation().AddInMemoryExporter(spans)));
        using var client = await factory.StartAsync();

        for (var i = 0; i < 3; i++)
        {
            using var response = await client.PostAsync($"api/counters/{key}/add?wait=true", null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.True(factory.Services.GetRequiredService<MeterProvider>().ForceFlush());
        Assert.True(factory.Services.GetRequiredService<TracerProvider>().ForceFlush());

        // Metrics: every FuncMap instrument has a unit; latency histograms are in ms on the explicit buckets.
        var funcMap = metrics.Where(m => FuncMapMeters.Contains(m.MeterName)).ToList();
        Assert.All(funcMap, m => Assert.False(string.IsNullOrEmpty(m.Unit), m.Name + " has no unit"));
        var operations = Assert.Single(Latest(funcMap, "funcmap.engine.operations"));
        Assert.Equal("{operation}", operations.Unit);
        Assert.Equal(3, operations.MetricPoints.Where(p => Tag(p, FuncMapTelemetry.OutcomeTag) == "applied").Sum(p => p.GetSumLong()));
        foreach (var name in new[] { "funcmap.engine.operation.duration", "funcmap.journal.commit.duration" })
        {
            var histogram = Latest(funcMap, name).Single();
            Assert.Equal("ms", histogram.Unit);
            var point = histogram.MetricPoints.Single();
            var bounds = new List<double>();
            foreach (var bucket in point.GetHistogramBuckets())
            {
                bounds.Add(bucket.ExplicitBound);
            }

            Assert.Equal([.. FuncMapTelemetry.LatencyBucketsMs, double.PositiveInfinity], bounds);
            Assert.True(point.GetHistogramCount() >= 1);
        }

        Assert.Equal("{record}", Latest(funcMap, "funcmap.journal.group.size").Single().Unit);
        Assert.Contains(metrics, m => m.Name == "http.server.request.duration" && m.Unit == "s");
        Assert.Contains(metrics, m => m.MeterName == "System.Runtime");
        Assert.Contains(metrics, m => m.Name.StartsWith("process.", StringComparison.Ordinal));

        // Spans: each request's apply links to the request; the commit links to the apply and to the request.
        var requests = spans.Where(s => s.Kind == ActivityKind.Server && s.GetTagItem("http.route") is "/api/counters/{key}/add").ToList();
        Assert.Equal(3, requests.Count);
        var applies = spans.Where(s => s.Source.Name == FuncMapTelemetry.Engine && s.OperationName == FuncMapTelemetry.ApplySpan).ToList();
        var commits = spans.Where(s => s.Source.Name == FuncMapTelemetry.Journal && s.OperationName == FuncMapTelemetry.CommitSpan).ToList();
        foreach (var request in requests)
        {
            var apply = Assert.Single(applies, a => a.Links.Any(l => l.Context.SpanId == request.SpanId));
            Assert.IsType<int>(apply.GetTagItem(FuncMapTelemetry.ShardTag));
            Assert.True((int)apply.GetTagItem(FuncMapTelemetry.ItemsTag)! >= 1);
            Assert.Null(apply.ParentId);
            var commit = Assert.Single(commits, c => c.Links.Any(l => l.Context.SpanId == apply.SpanId));
            Assert.Contains(commit.Links, l => l.Context.SpanId == request.SpanId && l.Context.TraceId == request.TraceId);
            Assert.True((int)commit.GetTagItem(FuncMapTelemetry.ItemsTag)! >= 1);
        }

        // No tag of a metric point, a span or a link carries the key.
        foreach (var metric in metrics)
        {
            foreach (var point in metric.MetricPoints)
            {
                foreach (var tag in point.Tags)
                {
                    Assert.DoesNotContain(key, tag.Value?.ToString() ?? string.Empty, StringComparison.Ordinal);
                }
            }
        }

        foreach (var span in spans)
        {
            Assert.DoesNotContain(key, span.DisplayName, StringComparison.Ordinal);
            Assert.All(span.TagObjects, t => Assert.DoesNotContain(key, t.Value?.ToString() ?? string.Empty, StringComparison.Ordinal));
            Assert.All(span.Links.SelectMany(l => l.Tags ?? []), t => Assert.DoesNotContain(key, t.Value?.ToString() ?? string.Empty, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task MetricsEndpoint_Enabled_AnswersPrometheusText()
    {
        await using var factory = new LocalHostFactory(new Dictionary<string, string?> { [FuncMapTelemetryExtensions.PrometheusEndpointKey] = "true" });
        using var client = await factory.StartAsync();
        var key = "prom-" + Guid.NewGuid().ToString("N");
        using (var write = await client.PostAsync($"api/counters/{key}/add?wait=true", null))
        {
            Assert.Equal(HttpStatusCode.OK, write.StatusCode);
        }

        using var response = await client.GetAsync("metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("# TYPE funcmap_engine_operations_total counter", text, StringComparison.Ordinal);
        Assert.Contains("funcmap_engine_operations_total{otel_scope_name=\"FuncMap.Engine\",funcmap_outcome=\"applied\"}", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE funcmap_journal_commit_duration_milliseconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("funcmap_journal_commit_duration_milliseconds_bucket{otel_scope_name=\"FuncMap.Journal\",le=\"0.1\"}", text, StringComparison.Ordinal);
        Assert.DoesNotContain(key, text, StringComparison.Ordinal);
        // Tracing stays off without OTLP: /metrics alone exports metrics.
        Assert.Null(factory.Services.GetService<TracerProvider>());
    }

    [Fact]
    public async Task MetricsEndpoint_NotEnabled_Answers404AndNoProviderIsRegistered()
    {
        await using var factory = new LocalHostFactory();
        using var client = await factory.StartAsync();

        using var response = await client.GetAsync("metrics");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null(factory.Services.GetService<MeterProvider>());
        Assert.Null(factory.Services.GetService<TracerProvider>());
    }

    [Fact]
    public async Task OtlpEndpoint_Set_RegistersMetricsTracesAndLogs()
    {
        // Nothing listens there: the exporter's failures are its own (retried, then dropped), never the host's.
        await using var factory = new LocalHostFactory(new Dictionary<string, string?> { [FuncMapTelemetryExtensions.OtlpEndpointKey] = "http://127.0.0.1:9" });
        using var client = await factory.StartAsync();

        using var response = await client.GetAsync("metrics");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.NotNull(factory.Services.GetService<MeterProvider>());
        Assert.NotNull(factory.Services.GetService<TracerProvider>());
        Assert.NotNull(factory.Services.GetService<OpenTelemetry.Logs.LoggerProvider>());
    }

    private static IEnumerable<MetricSnapshot> Latest(List<MetricSnapshot> metrics, string name) =>
        metrics.Where(m => m.Name == name).TakeLast(1);

    private static string? Tag(MetricPoint point, string name)
    {
        foreach (var tag in point.Tags)
        {
            if (tag.Key == name)
            {
                return tag.Value?.ToString();
            }
        }

        return null;
    }
}

/// <summary>
/// Runs alone, after the parallel collections: a meter or tracer provider listens process-wide (every host's
/// FuncMap meters and sources), and the tests assert exact counts of what they did.
/// </summary>
[CollectionDefinition(nameof(TelemetryTests), DisableParallelization = true)]
public sealed class TelemetryTestsGroup;
