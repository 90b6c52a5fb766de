using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace FuncMap.Functions.Snapshots;

/// <summary>The timer that writes changed counters to the <c>Counters</c> table, on the <c>SnapshotSchedule</c> app setting.</summary>
public sealed class SnapshotFunction(CounterSnapshotter snapshotter)
{
    /// <summary>
    /// One snapshot run. The timer trigger is a singleton across instances (it holds a blob lease),
    /// so two runs never overlap; a run that throws is retried by the next occurrence.
    /// </summary>
    [Function("CounterSnapshot")]
    public Task RunAsync(
        [TimerTrigger("%SnapshotSchedule%")] TimerInfo timer,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        return snapshotter.RunAsync(client.Entities, cancellationToken);
    }
}
