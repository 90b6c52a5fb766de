using Azure.Data.Tables;
using FuncMap.Functions.Hosting;
using FuncMap.Functions.Import;
using FuncMap.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

/// <summary><c>POST</c> and <c>GET /api/manage/import</c>: one orchestration per source, a second start answers with the running one.</summary>
public sealed class ImportHttpFunctionsTests : IAsyncDisposable
{
    private const string Connection = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:1/devstoreaccount1;";

    private readonly OrchestrationClient _client = new();
    private readonly ImportSource _source = new(
        new TableServiceClient(Connection, StorageClientDefaults.Tables()), new ConfigurationBuilder().Build(), Options.Create(new ImportOptions()), Options.Create(new FuncMapFunctionsOptions()));

    public ValueTask DisposeAsync() => _client.DisposeAsync();

    private ImportHttpFunctions Functions() => new(_source, Options.Create(new ImportOptions { RoundsPerGeneration = 5 }), TimeProvider.System, NullLogger<ImportHttpFunctions>.Instance);

    [Fact]
    public void Source_Default_IsTheAppsOwnSnapshotTableWithAnInstanceIdDerivedFromIt()
    {
        Assert.Equal(("devstoreaccount1/Counters", true, "import-devstoreaccount1-counters"), (_source.Id, _source.IsOwnTable, _source.InstanceId));
    }

    [Fact]
    public async Task StartAsync_NoneRunning_SchedulesOneOrchestrationUnderTheSourcesInstanceId()
    {
        var result = await Functions().StartAsync(new DefaultHttpContext().Request, _client, CancellationToken.None);

        var accepted = Assert.IsType<Accepted<ImportView>>(result.Result);
        Assert.Equal("/api/manage/import", accepted.Location);
        var (name, input, options) = Assert.Single(_client.Scheduled);
        Assert.Equal(ImportOrchestrator.Name, name.Name);
        Assert.Equal(_source.InstanceId, options!.InstanceId);
        var run = Assert.IsType<ImportRun>(input);
        Assert.Equal((64, 5, true), (run.Progress.NextPages().Count, run.RoundsPerGeneration, run.Progress.OwnTable));
    }

    [Theory]
    [InlineData(OrchestrationRuntimeStatus.Running)]
    [InlineData(OrchestrationRuntimeStatus.Pending)]
    public async Task StartAsync_OneRunning_AnswersWithItAndStartsNothing(OrchestrationRuntimeStatus status)
    {
        _client.Instance = new OrchestrationMetadata(ImportOrchestrator.Name, _source.InstanceId) { RuntimeStatus = status };

        var result = await Functions().StartAsync(new DefaultHttpContext().Request, _client, CancellationToken.None);

        var ok = Assert.IsType<Ok<ImportView>>(result.Result);
        Assert.Equal((_source.InstanceId, status.ToString()), (ok.Value!.InstanceId, ok.Value.RuntimeStatus));
        Assert.Empty(_client.Scheduled);
    }

    [Fact]
    public async Task StartAsync_PreviousCompleted_StartsAnew()
    {
        _client.Instance = new OrchestrationMetadata(ImportOrchestrator.Name, _source.InstanceId) { RuntimeStatus = OrchestrationRuntimeStatus.Completed };

        var result = await Functions().StartAsync(new DefaultHttpContext().Request, _client, CancellationToken.None);

        Assert.IsType<Accepted<ImportView>>(result.Result);
        Assert.Single(_client.Scheduled);
    }

    [Fact]
    public async Task GetAsync_NeverStarted_404ImportNotFound()
    {
        var result = await Functions().GetAsync(new DefaultHttpContext().Request, _client, CancellationToken.None);

        var problem = Assert.IsType<ProblemHttpResult>(result.Result);
        Assert.Equal((404, "import.notFound"), (problem.StatusCode, problem.ProblemDetails.Extensions["rule"]));
    }

    /// <summary>A Durable client that knows one instance and records the orchestrations scheduled.</summary>
    private sealed class OrchestrationClient() : DurableTaskClient("test")
    {
        public OrchestrationMetadata? Instance { get; set; }

        public List<(TaskName Name, object? Input, StartOrchestrationOptions? Options)> Scheduled { get; } = [];

        public override Task<OrchestrationMetadata?> GetInstancesAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
            Task.FromResult(Instance?.InstanceId == instanceId ? Instance : null);

        public override Task<string> ScheduleNewOrchestrationInstanceAsync(TaskName orchestratorName, object? input = null, StartOrchestrationOptions? options = null, CancellationToken cancellation = default)
        {
            Scheduled.Add((orchestratorName, input, options));
            return Task.FromResult(options?.InstanceId ?? "generated");
        }

        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public override AsyncPageable<OrchestrationMetadata> GetAllInstancesAsync(OrchestrationQuery? filter = null) => throw new NotSupportedException();

        public override Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellation = default) => throw new NotSupportedException();

        public override Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) => throw new NotSupportedException();

        public override Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) => throw new NotSupportedException();

        public override Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) => throw new NotSupportedException();

        public override Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) => throw new NotSupportedException();
    }
}
