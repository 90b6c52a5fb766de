using System.Diagnostics.Metrics;
using System.Text.Json;
using FuncMap.Functions.Counters;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client.Entities;
using Microsoft.DurableTask.Entities;

namespace FuncMap.Functions.Tests;

/// <summary>Entity state kept as JSON between operations, as the Durable backend persists it.</summary>
internal sealed class JsonEntityState(string? json = null) : TaskEntityState
{
    public string? Json { get; private set; } = json;

    public SemaphoreSlim Gate { get; } = new(1, 1);

    public override bool HasState => Json is not null;

    public override object? GetState(Type type) => Json is null ? null : JsonSerializer.Deserialize(Json, type);

    public override void SetState(object? state) => Json = state is null ? null : JsonSerializer.Serialize(state, state.GetType());
}

/// <summary>An entity context that records the signals an entity sends.</summary>
internal sealed class RecordingEntityContext(EntityInstanceId id) : TaskEntityContext
{
    public override EntityInstanceId Id { get; } = id;

    public List<(EntityInstanceId Id, string Operation, object? Input)> Signals { get; } = [];

    /// <summary>The signals sent with a <see cref="SignalEntityOptions.SignalTime"/>, with it.</summary>
    public List<(EntityInstanceId Id, string Operation, DateTimeOffset At)> Scheduled { get; } = [];

    public override void SignalEntity(EntityInstanceId id, string operationName, object? input = null, SignalEntityOptions? options = null)
    {
        Signals.Add((id, operationName, input));
        if (options?.SignalTime is { } at)
        {
            Scheduled.Add((id, operationName, at));
        }
    }

    public override string ScheduleNewOrchestration(TaskName name, object? input = null, StartOrchestrationOptions? options = null) =>
        throw new NotSupportedException("Entities in FuncMap start no orchestrations.");
}

/// <summary>One operation, its input travelling as JSON like a real signal's.</summary>
internal sealed class JsonEntityOperation(string name, object? input, TaskEntityContext context, TaskEntityState state) : TaskEntityOperation
{
    private readonly string? _input = input is null ? null : JsonSerializer.Serialize(input, input.GetType());

    public override string Name { get; } = name;

    public override TaskEntityContext Context { get; } = context;

    public override TaskEntityState State { get; } = state;

    public override bool HasInput => _input is not null;

    public override object? GetInput(Type inputType) => _input is null ? null : JsonSerializer.Deserialize(_input, inputType);
}

/// <summary>Runs operations against one <see cref="Counter"/> whose state persists as JSON between them.</summary>
internal sealed class CounterHarness
{
    private readonly RecordingEntityContext _context;

    public CounterHarness(string key = "page:home", TimeProvider? time = null)
    {
        _context = new RecordingEntityContext(Counter.IdOf(key));
        Time = time as ManualTimeProvider ?? new ManualTimeProvider(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));
    }

    public ManualTimeProvider Time { get; }

    public JsonEntityState State { get; } = new();

    /// <summary>The signals the entity scheduled (its reminders), with their times.</summary>
    public List<(EntityInstanceId Id, string Operation, DateTimeOffset At)> Scheduled => _context.Scheduled;

    public async Task<CounterOutcome?> RunAsync(string operation, object? input = null)
    {
        var entity = new Counter(Time, new FunctionsMetrics(new TestMeterFactory()), Microsoft.Extensions.Logging.Abstractions.NullLogger<Counter>.Instance);
        var result = await entity.RunAsync(new JsonEntityOperation(operation, input, _context, State));
        return result as CounterOutcome;
    }

    public FuncMap.Counters.CounterState? Current => (FuncMap.Counters.CounterState?)State.GetState(typeof(FuncMap.Counters.CounterState));
}

/// <summary>A logger that keeps every line's EventId, level and named values.</summary>
internal sealed class RecordingLogger<T> : Microsoft.Extensions.Logging.ILogger<T>
{
    private readonly List<(int Id, Microsoft.Extensions.Logging.LogLevel Level, IReadOnlyDictionary<string, object?> Values)> _lines = [];

    /// <summary>The named values of every line logged with <paramref name="eventId"/>, in order.</summary>
    public List<IReadOnlyDictionary<string, object?>> Lines(int eventId, Microsoft.Extensions.Logging.LogLevel? level = null)
    {
        lock (_lines)
        {
            return [.. _lines.Where(l => l.Id == eventId && (level is null || l.Level == level)).Select(l => l.Values)];
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var values = state as IEnumerable<KeyValuePair<string, object?>> ?? [];
        lock (_lines)
        {
            _lines.Add((eventId.Id, logLevel, values.ToDictionary(v => v.Key, v => v.Value)));
        }
    }
}

/// <summary>A clock the test moves.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>Meters for the instruments under test, disposed with the factory.</summary>
internal sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose() => _meters.ForEach(m => m.Dispose());
}

/// <summary>
/// An entity client over an in-memory set of entities: signals are recorded (and can be made to
/// fail), queries filter by instance-id prefix and last-modified time as the backend does. With
/// <see cref="RunCounters"/>, every counter write is applied at once by a real <see cref="Counter"/>
/// whose state persists as JSON, as the owner would apply it; <see cref="MaxPageSize"/> makes query
/// pages hold fewer entities than asked, as the Azure Storage backend's may.
/// </summary>
internal sealed class FakeEntityClient() : DurableEntityClient("test")
{
    private readonly Dictionary<EntityInstanceId, JsonEntityState> _counterStates = [];

    public List<(EntityInstanceId Id, string Operation, object? Input, SignalEntityOptions? Options)> Signals { get; } = [];

    public Dictionary<EntityInstanceId, (object State, DateTimeOffset LastModified)> Entities { get; } = [];

    public List<EntityQuery> Queries { get; } = [];

    public Exception? FailSignalsWith { get; set; }

    public bool RunCounters { get; init; }

    public int? MaxPageSize { get; set; }

    public int EntityReads { get; private set; }

    public ManualTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero));

    /// <summary>What the counters log.</summary>
    public RecordingLogger<Counter> CounterLog { get; } = new();

    /// <summary>The counters' metrics (one instance, aged by <see cref="Time"/>), to read parked work from.</summary>
    public FunctionsMetrics CounterMetrics => _metrics ??= new FunctionsMetrics(new TestMeterFactory(), Time);

    /// <summary>The signals counters scheduled for later (their reminders), not yet delivered.</summary>
    public List<(EntityInstanceId Id, string Operation, DateTimeOffset At)> Reminders { get; } = [];

    private FunctionsMetrics? _metrics;

    /// <summary>Delivers the reminders due at <see cref="Time"/>, as the backend would at their time; returns how many.</summary>
    public async Task<int> DeliverDueRemindersAsync()
    {
        List<(EntityInstanceId Id, string Operation, DateTimeOffset At)> due;
        lock (Reminders)
        {
            due = Reminders.Where(r => r.At <= Time.GetUtcNow()).ToList();
            Reminders.RemoveAll(r => r.At <= Time.GetUtcNow());
        }

        foreach (var (id, operation, _) in due)
        {
            await ApplyAsync(id, operation, null);
        }

        return due.Count;
    }

    /// <summary>Storage loses <paramref name="id"/>'s state (a rollback to before the entity was first written).</summary>
    public void LoseState(EntityInstanceId id)
    {
        lock (Entities)
        {
            _counterStates.Remove(id);
            Entities.Remove(id);
        }
    }

    public override async Task SignalEntityAsync(EntityInstanceId id, string operationName, object? input = null, SignalEntityOptions? options = null, CancellationToken cancellation = default)
    {
        if (FailSignalsWith is { } failure)
        {
            throw failure;
        }

        lock (Signals)
        {
            Signals.Add((id, operationName, input, options));
        }

        if (RunCounters && id.Name == Counter.EntityName)
        {
            await ApplyAsync(id, operationName, input);
        }
    }

    private async Task ApplyAsync(EntityInstanceId id, string operationName, object? input)
    {
        JsonEntityState state;
        lock (Entities)
        {
            if (!_counterStates.TryGetValue(id, out state!))
            {
                state = new JsonEntityState();
                _counterStates.Add(id, state);
            }
        }

        // One operation at a time per entity, as the Durable runtime runs them.
        await state.Gate.WaitAsync();
        try
        {
            var entity = new Counter(Time, CounterMetrics, CounterLog);
            var context = new RecordingEntityContext(id);
            await entity.RunAsync(new JsonEntityOperation(operationName, input, context, state));
            lock (Reminders)
            {
                Reminders.AddRange(context.Scheduled);
            }

            lock (Entities)
            {
                if (state.GetState(typeof(CounterEntityState)) is CounterEntityState persisted)
                {
                    Entities[id] = (persisted, Time.GetUtcNow());
                }
                else
                {
                    Entities.Remove(id);
                }
            }
        }
        finally
        {
            state.Gate.Release();
        }
    }

    public override Task<EntityMetadata?> GetEntityAsync(EntityInstanceId id, bool includeState = true, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public override Task<EntityMetadata<T>?> GetEntityAsync<T>(EntityInstanceId id, bool includeState = true, CancellationToken cancellation = default)
    {
        lock (Entities)
        {
            EntityReads++;
            return Task.FromResult(Entities.TryGetValue(id, out var entry) ? Metadata<T>(id, entry) : null);
        }
    }

    public override Microsoft.DurableTask.AsyncPageable<EntityMetadata> GetAllEntitiesAsync(EntityQuery? filter = null) => throw new NotSupportedException();

    public override Microsoft.DurableTask.AsyncPageable<EntityMetadata<T>> GetAllEntitiesAsync<T>(EntityQuery? filter = null)
    {
        var query = filter ?? new EntityQuery();
        Queries.Add(query);
        var matches = Entities
            .Where(e => e.Key.ToString().StartsWith(query.InstanceIdStartsWith ?? "@", StringComparison.Ordinal))
            .Where(e => query.LastModifiedFrom is not { } from || e.Value.LastModified >= from)
            .OrderBy(e => e.Key.ToString(), StringComparer.Ordinal)
            .Select(e => Metadata<T>(e.Key, e.Value))
            .ToList();
        var pageSize = query.PageSize ?? EntityQuery.DefaultPageSize;
        return Pageable.Create((string? token, int? size, CancellationToken _) =>
        {
            // As the real client: the page's continuation first, then the query's.
            token ??= query.ContinuationToken;
            var start = token is null ? 0 : int.Parse(token, System.Globalization.CultureInfo.InvariantCulture);
            var take = Math.Min(size ?? pageSize, MaxPageSize ?? int.MaxValue);
            var values = matches.Skip(start).Take(take).ToList();
            var next = start + take < matches.Count ? (start + take).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
            return Task.FromResult(new Microsoft.DurableTask.Page<EntityMetadata<T>>(values, next));
        });
    }

    public override Task<CleanEntityStorageResult> CleanEntityStorageAsync(CleanEntityStorageRequest? request = null, bool continueUntilComplete = true, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    private static EntityMetadata<T> Metadata<T>(EntityInstanceId id, (object State, DateTimeOffset LastModified) entry) =>
        new(id, JsonSerializer.Deserialize<T>(JsonSerializer.Serialize(entry.State, entry.State.GetType()))) { LastModifiedTime = entry.LastModified };
}

/// <summary>A Durable client whose only working part is its entity client: the app starts no orchestrations.</summary>
internal sealed class FakeDurableTaskClient(FakeEntityClient entities) : Microsoft.DurableTask.Client.DurableTaskClient("test")
{
    public override DurableEntityClient Entities => entities;

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public override Microsoft.DurableTask.AsyncPageable<Microsoft.DurableTask.Client.OrchestrationMetadata> GetAllInstancesAsync(Microsoft.DurableTask.Client.OrchestrationQuery? filter = null) =>
        throw new NotSupportedException();

    public override Task<Microsoft.DurableTask.Client.OrchestrationMetadata?> GetInstancesAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public override Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public override Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public override Task<string> ScheduleNewOrchestrationInstanceAsync(TaskName orchestratorName, object? input = null, Microsoft.DurableTask.StartOrchestrationOptions? options = null, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public override Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public override Task<Microsoft.DurableTask.Client.OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        throw new NotSupportedException();

    public override Task<Microsoft.DurableTask.Client.OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        throw new NotSupportedException();
}
