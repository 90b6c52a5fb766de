using FuncMap.Counters;
using FuncMap.Telemetry;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Entities;
using Microsoft.Extensions.Logging;

namespace FuncMap.Functions.Counters;

/// <summary>
/// The owner of one counter key: the Durable entity <c>@counter@{key}</c>. The Durable runtime runs
/// one operation at a time per entity, in arrival order, which is the "one owner per key" of the
/// design. The transition (checked Int64, version +1) and the deduplication window are the core
/// library's <see cref="CounterState.Apply"/>, the same rules as the local engine. A write sent with a
/// <see cref="CounterCommand.ReplyTo"/> token leaves its outcome in the state for its waiting caller
/// (<see cref="CounterEntityState"/>).
/// </summary>
/// <remarks>
/// Delete keeps a tombstone (<see cref="CounterEntityState.Exists"/> false, version and operation window
/// kept) instead of removing the state, for two reasons: an entity without state no longer appears
/// in entity queries, so the snapshot could never see that its table row must go; and a late
/// duplicate of an operation that came before the delete must still be recognised. The snapshot
/// removes the row, then schedules <see cref="Purge"/> for after the tombstone retention.
/// </remarks>
public sealed partial class Counter(TimeProvider timeProvider, FunctionsMetrics metrics, ILogger<Counter> logger) : TaskEntity<CounterEntityState>
{
    /// <summary>The entity name: the entity function's name, which the runtime lower-cases.</summary>
    public const string EntityName = "counter";

    /// <summary>The prefix every counter entity's instance id starts with.</summary>
    public const string InstanceIdPrefix = "@" + EntityName + "@";

    /// <summary>The entity that owns <paramref name="key"/>.</summary>
    public static EntityInstanceId IdOf(string key) => new(EntityName, key);

    /// <summary>Adds <see cref="CounterCommand.Delta"/>, creating the counter when it does not exist.</summary>
    public CounterOutcome Add(CounterCommand command)
    {
        Require(command);
        return Apply(CounterOperation.Add(command.Delta, command.OperationId), CounterOperations.Add, command);
    }

    /// <summary>Sets the value to zero; the version keeps counting.</summary>
    public CounterOutcome Reset(CounterCommand command)
    {
        Require(command);
        return Apply(CounterOperation.Reset(command.OperationId), CounterOperations.Reset, command);
    }

    /// <summary>Deletes the counter (it stays a tombstone until the snapshot purges it).</summary>
    public CounterOutcome Delete(CounterCommand command)
    {
        Require(command);
        return Apply(CounterOperation.Delete(command.OperationId), CounterOperations.Delete, command);
    }

    /// <summary>
    /// How long a counter remembers a source of folded adds after the source was created. A folder numbers under one
    /// source for at most <see cref="Accepts.AcceptFolder.SourceLifetime"/> (1 h) and its signals arrive within seconds
    /// (a crash's fold record is re-sent within a minute); a fold of a source delivered more than 23 h after the source's
    /// last use would be taken for a new source. Every process start is a new source, so this also bounds how many
    /// sources a hot counter's state carries: about one per instance per hour of the last day. The host refuses settings
    /// under which a fold could arrive later (<see cref="Hosting.FuncMapFunctionsOptionsValidator.SourceDeliveryBound"/>).
    /// </summary>
    public static readonly TimeSpan SourceRetention = TimeSpan.FromDays(1);

    /// <summary>
    /// How long a folded add waits parked for the numbers before it before the entity gives up on them
    /// (<see cref="SourceSequences.ReleaseGaps"/>): the missing numbers are logged as lost (critical, EventId 6150) and
    /// counted (<see cref="FunctionsMetrics.FoldLost"/>), the parked adds are applied, and a missing number that still comes
    /// is applied then (<see cref="SequenceVerdict.Late"/>). Every fold of the key checks it, and the entity reminds itself
    /// with a <see cref="CounterOperations.ReleaseGaps"/> signal scheduled for when it is due, so a key whose later adds all
    /// came before the gap is not left waiting. A number is missing that long only when storage lost it (a fold record,
    /// or the counter's own state rolled back); a fold merely late (a crash's record re-sent by a sweep after
    /// FoldStaleAfter, a signal Durable redelivers) is still applied when it comes.
    /// </summary>
    public static readonly TimeSpan GapReleaseAfter = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Applies folded adds (<see cref="FoldCommand"/>): each (source, number) exactly once, in order, with the same rules
    /// as <see cref="Add"/> (an add that would overflow is refused, logged and counted, as a signalled add's); a gap older
    /// than <see cref="GapReleaseAfter"/> is released.
    /// </summary>
    public void Fold(FoldCommand command)
    {
        if (command is null || string.IsNullOrEmpty(command.Source) || command.Sequence < 1 || command.Deltas is null)
        {
            throw new ArgumentException("A fold carries a source, a first sequence number ≥ 1 and its deltas.", nameof(command));
        }

        using var span = StartApply(CounterOperations.Fold, command.Deltas.Length);
        var counter = State.ToCounterState();
        var now = timeProvider.GetUtcNow();
        var waiting = SourceSequences.OldestParked(State.Sources.Values);
        var version = counter.Version;
        for (var i = 0; i < command.Deltas.Length; i++)
        {
            var receipt = SourceSequences.Receive(counter, State.Sources, command.Source, command.Sequence + i, command.Deltas[i], now);
            switch (receipt.Verdict)
            {
                case SequenceVerdict.Duplicate:
                    metrics.DuplicateIgnored(CounterOperations.Fold);
                    metrics.OperationAnswered(OperationStatus.Duplicate);
                    break;
                case SequenceVerdict.Parked:
                    metrics.AddParked();
                    break;
                case SequenceVerdict.Late:
                    Log.LateFoldApplied(logger, Context.Id.Key, command.Source, command.Sequence + i);
                    metrics.LateFoldApplied();
                    Overflowed(counter, receipt.Overflowed);
                    break;
                default:
                    Overflowed(counter, receipt.Overflowed);
                    break;
            }
        }

        ReleaseDueGaps(counter, now);
        if (waiting is null && SourceSequences.OldestParked(State.Sources.Values) is { } since)
        {
            // A gap began: come back when it is due, in case no later fold of this key does.
            RemindAt(since + GapReleaseAfter);
        }

        if (counter.Version > version)
        {
            // Each fold entry applied in order bumps the version once.
            metrics.OperationAnswered(OperationStatus.Applied, counter.Version - version);
        }

        SourceSequences.Prune(State.Sources, now, SourceRetention);
        State.CopyFrom(counter);
        ForgetIfNeverWritten();
    }

    /// <summary>
    /// Releases the gaps that have waited <see cref="GapReleaseAfter"/> (<see cref="SourceSequences.ReleaseGaps"/>); when one
    /// is still waiting, schedules itself again for when it is due. Sent by the entity to itself; harmless at any time.
    /// </summary>
    public void ReleaseGaps()
    {
        var counter = State.ToCounterState();
        var now = timeProvider.GetUtcNow();
        ReleaseDueGaps(counter, now);
        if (SourceSequences.OldestParked(State.Sources.Values) is { } since)
        {
            RemindAt(since + GapReleaseAfter);
        }

        State.CopyFrom(counter);
        ForgetIfNeverWritten();
    }

    /// <summary>The counter as it is now.</summary>
    public CounterOutcome Get()
    {
        var outcome = CounterOutcome.From(State.Exists ? OperationStatus.Applied : OperationStatus.NotFound, State.ToCounterState());
        ForgetIfNeverWritten();
        return outcome;
    }

    /// <summary>
    /// Removes the entity's state when it is still the tombstone of <paramref name="version"/>; a
    /// counter written again since then has a newer version and is left alone.
    /// </summary>
    public void Purge(long version)
    {
        if (!State.Exists && State.Version == version && !State.HasParked())
        {
            Log.TombstonePurged(logger, Context.Id.Key, version);
            State = null!;
        }

        ForgetIfNeverWritten();
    }

    /// <summary>The entity function. Its name is the entity name (<c>counter</c>).</summary>
    [Function(nameof(Counter))]
    public static Task DispatchAsync([EntityTrigger] TaskEntityDispatcher dispatcher)
    {
        ArgumentNullException.ThrowIfNull(dispatcher);
        return dispatcher.DispatchAsync<Counter>();
    }

    private CounterOutcome Apply(in CounterOperation operation, string name, CounterCommand command)
    {
        using var span = StartApply(name, 1);
        var counter = State.ToCounterState();
        var status = counter.Apply(operation, timeProvider.GetUtcNow());
        State.CopyFrom(counter);
        metrics.OperationAnswered(status);
        span?.SetTag(FuncMapTelemetry.OutcomeTag, FuncMapTelemetry.OutcomeOf(status));
        switch (status)
        {
            case OperationStatus.Overflow:
                Log.OperationOverflowed(logger, Context.Id.Key, operation.Delta, State.Value);
                metrics.OperationRejected(name, status);
                break;
            case OperationStatus.NotFound:
                metrics.OperationRejected(name, status);
                break;
            case OperationStatus.Duplicate:
                metrics.DuplicateIgnored(name);
                break;
            case OperationStatus.Mismatch:
                // A signal (no caller to tell) leaves this log line and the metric as its trace.
                Log.OperationMismatched(logger, Context.Id.Key, name, operation.OperationId);
                metrics.OperationRejected(name, status);
                break;
            default:
                break;
        }

        var outcome = CounterOutcome.From(status, counter);
        if (command.ReplyTo is { } replyTo)
        {
            State.AddReply(replyTo, outcome);
        }

        ForgetIfNeverWritten();
        return outcome;
    }

    private void ReleaseDueGaps(CounterState counter, DateTimeOffset now)
    {
        foreach (var gap in SourceSequences.ReleaseGaps(counter, State.Sources, now, GapReleaseAfter))
        {
            Log.FoldGapReleased(logger, Context.Id.Key, gap.Source, gap.Count, gap.First, gap.Last, gap.Waited, gap.Applied);
            metrics.FoldLost(gap.Count);
            Overflowed(counter, gap.Overflowed);
        }

        metrics.ParkedWork(Context.Id.Key, State.Sources.Values.Sum(static p => p.Parked?.Count ?? 0), SourceSequences.OldestParked(State.Sources.Values), now);
    }

    private void Overflowed(CounterState counter, IReadOnlyList<long> refused)
    {
        foreach (var delta in refused)
        {
            Log.OperationOverflowed(logger, Context.Id.Key, delta, counter.Value);
            metrics.OperationRejected(CounterOperations.Fold, OperationStatus.Overflow);
            metrics.OperationAnswered(OperationStatus.Overflow);
        }
    }

    private void RemindAt(DateTimeOffset due) =>
        Context.SignalEntity(Context.Id, CounterOperations.ReleaseGaps, input: null, new SignalEntityOptions { SignalTime = due });

    /// <summary>
    /// <see cref="TaskEntity{TState}"/> hands an operation on an entity without state a fresh
    /// <see cref="CounterEntityState"/> (InitializeState) and persists whatever <see cref="TaskEntity{TState}.State"/>
    /// holds afterwards. An operation that applied nothing to a counter that was never written (version 0:
    /// a get, a reset or delete of a missing key, a purge that came after the state was gone) must leave no
    /// state behind, or the key would turn up in entity queries as a tombstone. The exception is a reply a
    /// caller waits for (a reset or delete of a missing key with <c>?wait=true</c>): that state stays a
    /// version-0 tombstone, which the next snapshot purges at once.
    /// </summary>
    private void ForgetIfNeverWritten()
    {
        if (State is { Exists: false, Version: 0, Replies.Count: 0, Sources.Count: 0 })
        {
            State = null!;
        }
    }

    /// <summary>The apply span (the local host's name) of one entity operation, child of the entity invocation; null unless sampled.</summary>
    private static System.Diagnostics.Activity? StartApply(string operation, int items)
    {
        var span = FunctionsTelemetry.Source.StartActivity(FuncMapTelemetry.ApplySpan);
        span?.SetTag("funcmap.operation", operation);
        span?.SetTag(FuncMapTelemetry.ItemsTag, items);
        return span;
    }

    private static void Require(CounterCommand? command)
    {
        if (command is null)
        {
            throw new ArgumentNullException(nameof(command), "Every counter write carries a CounterCommand with an operation id.");
        }
    }
}
