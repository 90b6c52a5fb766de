using System.Diagnostics;
using Azure.Storage.Queues.Models;
using FuncMap.Functions.Batches;
using FuncMap.Functions.Hosting;
using FuncMap.Storage;
using FuncMap.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace FuncMap.Functions.Tests;

/// <summary>
/// OpenTelemetry in the Functions worker: what is registered for which setting, and, through an in-memory exporter on
/// the worker's own registrations, that a queue batch and its entities' applies export under the local host's names.
/// </summary>
[Collection(nameof(FunctionsTelemetryTests))]
public sealed class FunctionsTelemetryTests
{
    [Fact]
    public void AddFuncMapFunctionsTelemetry_NothingConfigured_RegistersNoProvider()
    {
        using var host = BuildHost([]);

        Assert.Null(host.Services.GetService<MeterProvider>());
        Assert.Null(host.Services.GetService<TracerProvider>());
    }

    [Theory]
    [InlineData(FunctionsTelemetryExtensions.OtlpEndpointKey, "http://127.0.0.1:9")]
    [InlineData(FunctionsTelemetryExtensions.ApplicationInsightsKey, "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/")]
    public void AddFuncMapFunctionsTelemetry_ExporterConfigured_RegistersMetricsAndTraces(string key, string value)
    {
        using var host = BuildHost(new() { [key] = value });

        Assert.NotNull(host.Services.GetService<MeterProvider>());
        Assert.NotNull(host.Services.GetService<TracerProvider>());
    }

    [Theory]
    [InlineData("ClientId=11111111-2222-3333-4444-555555555555;Authorization=AAD", true)]
    [InlineData("Authorization=AAD", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void EntraCredential_AuthenticationString_ManagedIdentityOnlyForAad(string? authentication, bool expected) =>
        Assert.Equal(expected, FunctionsTelemetryExtensions.EntraCredential(authentication) is not null);

    [Fact]
    public async Task InMemoryExporter_QueueBatch_ExportsTheLocalHostsNamesWithoutKeys()
    {
        var metrics = new List<MetricSnapshot>();
        var spans = new List<Activity>();
        var key = "otel-" + Guid.NewGuid().ToString("N");
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddMetrics();
        builder.Services.AddFuncMapFunctions(builder.Configuration);
        builder.Services.AddOpenTelemetry()
            .WithMetrics(m => m.AddFuncMapFunctionsInstrumentation().AddInMemoryExporter(metrics))
            .WithTracing(t => t.AddFuncMapFunctionsInstrumentation().AddInMemoryExporter(spans));
        using var host = builder.Build();
        // The providers start listening when first resolved (the host's start does that in the app).
        var meterProvider = host.Services.GetRequiredService<MeterProvider>();
        var tracerProvider = host.Services.GetRequiredService<TracerProvider>();
        var function = new IncrementQueueFunction(
            host.Services.GetRequiredService<IOptions<FuncMapFunctionsOptions>>(), host.Services.GetRequiredService<FunctionsMetrics>(),
            TimeProvider.System, NullLogger<IncrementQueueFunction>.Instance);
        var text = $$"""{ "batchId": "b-{{key}}", "items": [ { "key": "{{key}}", "delta": 2 } ] }""";
        var message = QueuesModelFactory.QueueMessage("m-1", "r-1", text, dequeueCount: 1);

        var poison = await function.HandleAsync(message, new FakeEntityClient { RunCounters = true }, CancellationToken.None);

        Assert.Empty(poison);
        Assert.True(meterProvider.ForceFlush());
        Assert.True(tracerProvider.ForceFlush());

        // The span names of the local host: the queue batch, and the entity's apply under it (Activity.Current flows).
        var batch = Assert.Single(spans, s => s.OperationName == FuncMapTelemetry.QueueBatchSpan && s.GetTagItem(FuncMapTelemetry.OutcomeTag) is "applied");
        Assert.Equal(FuncMapTelemetry.Storage, batch.Source.Name);
        Assert.Equal(ActivityKind.Consumer, batch.Kind);
        var apply = Assert.Single(spans, s => s.OperationName == FuncMapTelemetry.ApplySpan && s.ParentSpanId == batch.SpanId);
        Assert.Equal(FuncMapTelemetry.Functions, apply.Source.Name);
        Assert.Equal("applied", apply.GetTagItem(FuncMapTelemetry.OutcomeTag));
        Assert.Equal(1, apply.GetTagItem(FuncMapTelemetry.ItemsTag));

        // The instrument names of the local host, with units.
        var operations = metrics.Last(m => m.Name == "funcmap.engine.operations" && m.MeterName == FuncMapTelemetry.Functions);
        Assert.Equal("{operation}", operations.Unit);
        Assert.Contains(operations.MetricPoints, p => HasTag(p, FuncMapTelemetry.OutcomeTag, "applied") && p.GetSumLong() >= 1);
        var messages = metrics.Last(m => m.Name == StorageInstruments.Messages && m.MeterName == FuncMapTelemetry.Storage);
        Assert.Equal("{message}", messages.Unit);
        Assert.Contains(messages.MetricPoints, p => HasTag(p, FuncMapTelemetry.OutcomeTag, "applied") && p.GetSumLong() >= 1);
        Assert.All(metrics.Where(m => m.MeterName.StartsWith("FuncMap.", StringComparison.Ordinal)), m => Assert.False(string.IsNullOrEmpty(m.Unit), m.Name));

        // No tag carries the key (nor the batch id, which contains it here).
        Assert.All(spans.SelectMany(s => s.TagObjects), t => Assert.DoesNotContain(key, t.Value?.ToString() ?? string.Empty, StringComparison.Ordinal));
        foreach (var point in metrics.SelectMany(m => m.MetricPoints))
        {
            foreach (var tag in point.Tags)
            {
                Assert.DoesNotContain(key, tag.Value?.ToString() ?? string.Empty, StringComparison.Ordinal);
            }
        }
    }

    private static IHost BuildHost(Dictionary<string, string?> settings)
    {
        // As Program.cs composes the worker, without the Functions host's gRPC channel.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddFuncMapFunctionsTelemetry();
        builder.Services.AddMetrics();
        builder.Services.AddFuncMapFunctions(builder.Configuration);
        return builder.Build();
    }

    private static bool HasTag(MetricPoint point, string name, string value)
    {
        foreach (var tag in point.Tags)
        {
            if (tag.Key == name && Equals(tag.Value, value))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// Runs alone, after the parallel collections: a meter or tracer provider listens process-wide (every host's
/// FuncMap meters and sources), and the tests assert exact counts of what they did.
/// </summary>
[CollectionDefinition(nameof(FunctionsTelemetryTests), DisableParallelization = true)]
public sealed class FunctionsTelemetryTestsGroup;
