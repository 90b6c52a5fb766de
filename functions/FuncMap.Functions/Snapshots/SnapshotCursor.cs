using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Entities;

namespace FuncMap.Functions.Snapshots;

/// <summary>The snapshot's progress: the start time of the last run that completed, and whether the table was imported.</summary>
public sealed class SnapshotCursorState
{
    /// <summary>When the last completed run started; null before the first.</summary>
    public DateTimeOffset? LastRunStartedAt { get; set; }

    /// <summary>
    /// When an import of the snapshot table itself into the entities last completed (<see cref="Import.ImportOrchestrator"/>);
    /// null while none has: the snapshot then writes through the <see cref="NewerRowGuard"/>, never over a newer row.
    /// </summary>
    public DateTimeOffset? ImportedAt { get; set; }
}

/// <summary>
/// Where the snapshot remembers how far it got: a Durable entity in the same task hub, so the
/// progress marker needs no storage of its own, never lands in the <c>Counters</c> table (which the
/// local host loads row by row), and is advanced only after a run fully succeeded. The timer's own
/// <c>ScheduleStatus.Last</c> is not used: it moves on even when a run fails.
/// </summary>
public sealed class SnapshotCursor : TaskEntity<SnapshotCursorState>
{
    /// <summary>The entity name (the function name, lower-cased).</summary>
    public const string EntityName = "snapshotcursor";

    /// <summary>The one cursor, for the <c>Counters</c> table.</summary>
    public static readonly EntityInstanceId Id = new(EntityName, "counters");

    /// <summary>Moves the cursor to <paramref name="runStartedAt"/>; never backwards, so a late signal cannot undo progress.</summary>
    public void Advance(DateTimeOffset runStartedAt)
    {
        if (State.LastRunStartedAt is not { } last || runStartedAt > last)
        {
            State.LastRunStartedAt = runStartedAt;
        }
    }

    /// <summary>Records that an import of the snapshot table completed at <paramref name="completedAt"/> (kept: the latest).</summary>
    public void ImportCompleted(DateTimeOffset completedAt)
    {
        if (State.ImportedAt is not { } last || completedAt > last)
        {
            State.ImportedAt = completedAt;
        }
    }

    /// <summary>The entity function.</summary>
    [Function(nameof(SnapshotCursor))]
    public static Task DispatchAsync([EntityTrigger] TaskEntityDispatcher dispatcher)
    {
        ArgumentNullException.ThrowIfNull(dispatcher);
        return dispatcher.DispatchAsync<SnapshotCursor>();
    }
}
