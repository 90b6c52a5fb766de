using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using FuncMap.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Context.Propagation;
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

        // The first request continues a caller's trace (W3C traceparent), which ASP.NET Core extracts itself.
        var callerTrace = ActivityTraceId.CreateRandom();
        var callerSpan = ActivitySpanId.CreateRandom();
        for (var i = 0; i < 3; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"api/counters/{key}/add?wait=true");
            if (i == 0)
            {
                request.Headers.Add("traceparent", $"00-{callerTrace}-{callerSpan}-01");
            }

            using var response = await client.SendAsync(request);
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
        Assert.DoesNotContain(metrics, m => m.Name is "http.server.active_requests" or "aspnetcore.routing.match_attempts");
        Assert.Contains(metrics, m => m.MeterName == "System.Runtime");
        Assert.Contains(metrics, m => m.Name.StartsWith("process.", StringComparison.Ordinal));

        // Spans: each request's apply links to the request; the commit links to the apply and to the request.
        var requests = spans.Where(s => s.Kind == ActivityKind.Server && s.GetTagItem("http.route") is "/api/counters/{key}/add").ToList();
        Assert.Equal(3, requests.Count);
        var continued = Assert.Single(requests, r => r.TraceId == callerTrace);
        Assert.Equal(callerSpan, continued.ParentSpanId);
        // The instrumentation does not extract the context a second time (the W3C propagator alone).
        Assert.IsType<TraceContextPropagator>(Propagators.DefaultTextMapPropagator);
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
    public void DroppedInstruments_AreNotExported_TheirMetersOtherInstrumentsAre()
    {
        // The ASP.NET Core meters' names, recorded here: TestServer has no Kestrel memory pool.
        var metrics = new List<MetricSnapshot>();
        using (var provider = Sdk.CreateMeterProviderBuilder().AddFuncMapLocalInstrumentation().AddInMemoryExporter(metrics).Build())
        using (var pool = new Meter("Microsoft.AspNetCore.MemoryPool"))
        using (var hosting = new Meter("Microsoft.AspNetCore.Hosting"))
        using (var routing = new Meter("Microsoft.AspNetCore.Routing"))
        {
            pool.CreateCounter<long>("aspnetcore.memory_pool.rented", "By").Add(4096);
            pool.CreateUpDownCounter<long>("aspnetcore.memory_pool.pooled", "By").Add(-4096);
            pool.CreateCounter<long>("aspnetcore.memory_pool.allocated", "By").Add(4096);
            pool.CreateCounter<long>("aspnetcore.memory_pool.evicted", "By").Add(4096);
            hosting.CreateUpDownCounter<long>("http.server.active_requests", "{request}").Add(1);
            hosting.CreateHistogram<double>("http.server.request.duration", "s").Record(0.001);
            routing.CreateCounter<long>("aspnetcore.routing.match_attempts", "{match_attempt}").Add(1);
            Assert.True(provider.ForceFlush());
        }

        var exported = metrics.Select(m => m.Name).Distinct().Order().ToList();
        Assert.Equal(["aspnetcore.memory_pool.allocated", "aspnetcore.memory_pool.evicted", "http.server.request.duration"],
            exported.Where(n => n.StartsWith("aspnetcore.", StringComparison.Ordinal) || n.StartsWith("http.server.", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task OtlpEndpoint_SetWithoutSampler_RecordsOnePercentOfRootsAndEveryChildOfASampledCaller()
    {
        await using var factory = new LocalHostFactory(new Dictionary<string, string?> { [FuncMapTelemetryExtensions.OtlpEndpointKey] = "http://127.0.0.1:9" });
        using var client = await factory.StartAsync();
        using var source = new ActivitySource(FuncMapTelemetry.Journal);
        var sampled = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded, isRemote: true);

        var (roots, children) = StartMany(source, sampled, 10_000);

        // Binomial(10,000, 0.01): mean 100, standard deviation ~10; the bounds are 5 deviations away.
        Assert.InRange(roots, 50, 150);
        Assert.Equal(10_000, children);
    }

    [Fact]
    public async Task OtlpEndpoint_SetWithSampler_TheStandardVariableWins()
    {
        await using var factory = new LocalHostFactory(new Dictionary<string, string?>
        {
            [FuncMapTelemetryExtensions.OtlpEndpointKey] = "http://127.0.0.1:9",
            [FuncMapTelemetryExtensions.SamplerKey] = "parentbased_always_on",
        });
        using var client = await factory.StartAsync();
        using var source = new ActivitySource(FuncMapTelemetry.Journal);
        var sampled = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded, isRemote: true);

        var (roots, children) = StartMany(source, sampled, 1_000);

        Assert.Equal(1_000, roots);
        Assert.Equal(1_000, children);
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

    /// <summary>Starts <paramref name="count"/> root spans and as many children of <paramref name="parent"/>; counts the recorded ones of each.</summary>
    private static (int Roots, int Children) StartMany(ActivitySource source, ActivityContext parent, int count)
    {
        var previous = Activity.Current;
        Activity.Current = null;
        try
        {
            int roots = 0, children = 0;
            for (var i = 0; i < count; i++)
            {
                using (var root = source.StartActivity("root"))
                {
                    roots += root is { Recorded: true } ? 1 : 0;
                }

                using var child = source.StartActivity("child", ActivityKind.Internal, parent);
                children += child is { Recorded: true } ? 1 : 0;
            }

            return (roots, children);
        }
        finally
        {
            Activity.Current = previous;
        }
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
