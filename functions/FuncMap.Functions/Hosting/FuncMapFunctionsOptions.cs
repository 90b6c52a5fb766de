namespace FuncMap.Functions.Hosting;

/// <summary>Settings of the Functions host, bound from the <c>FuncMap</c> section (app settings <c>FuncMap__*</c>).</summary>
public sealed class FuncMapFunctionsOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "FuncMap";

    /// <summary>
    /// How long a <c>?wait=true</c> write waits for its owner's reply before it answers 503 with the operation id
    /// (as the local host's owner timeout).
    /// </summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long <c>POST /api/counters/batch</c> waits for the replies of all its keys' owners before it answers 503:
    /// longer than <see cref="WaitTimeout"/>, because every distinct key is a separate entity to run and a batch
    /// may hold thousands.
    /// </summary>
    public TimeSpan BatchWaitTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long the queue trigger waits for every owner of a batch to reply (it must know which keys overflowed)
    /// before it throws and the runtime retries the message; longer than <see cref="WaitTimeout"/>, since a backlog
    /// of queue messages keeps owners busy and a retry costs a dequeue of the five before the poison queue.
    /// </summary>
    public TimeSpan QueueWaitTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How far before the previous run's start the snapshot looks again, so that clock skew between
    /// workers and writes in flight at the previous run are not missed (rewriting a row is harmless).
    /// </summary>
    public TimeSpan SnapshotOverlap { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// How long after its delete a deleted counter's tombstone (its version, operation window and fold sources) is kept
    /// before it is purged, so that late duplicates of earlier operations are still recognised and the folder's next
    /// folds find the sources they number under. At least <see cref="FuncMapFunctionsOptionsValidator.SourceDeliveryBound"/>
    /// (1 h 10 min 45 s with the defaults), else the host refuses to start.
    /// </summary>
    public TimeSpan TombstoneRetention { get; set; } = TimeSpan.FromHours(2);

    /// <summary>The app setting naming the Durable task hub (host.json's <c>hubName</c> is <c>%TaskHubName%</c>).</summary>
    public const string TaskHubNameSetting = "TaskHubName";

    /// <summary>
    /// The snapshot table (as the local host's <c>FuncMap:Storage:TableName</c>). Unless set, the task hub's name followed
    /// by <c>Counters</c> (<c>{TaskHubName}Counters</c>), so that two apps, or two slots, on one storage account never write
    /// each other's rows; <c>Counters</c> only when no task hub is configured (outside a Functions host).
    /// </summary>
    public string SnapshotTable { get; set; } = FuncMap.Storage.CounterRows.DefaultTableName;

    /// <summary>
    /// The table of accepted plain adds and fold records (<see cref="Accepts.AcceptLog"/>). Unless set,
    /// <c>{TaskHubName}Accepted</c>: the sweep folds every stale partition of this table, so it must hold this app's rows
    /// only; <c>Accepted</c> only when no task hub is configured (outside a Functions host).
    /// </summary>
    public string AcceptedTable { get; set; } = FuncMap.Storage.AcceptedRows.TableName;

    /// <summary>How many partitions of the snapshot table a snapshot writes at once.</summary>
    public int SnapshotParallelism { get; set; } = 8;

    /// <summary>
    /// Deliveries after which a queue message whose batch keeps failing is given up on and written to the poison
    /// queue as an envelope. Keep it equal to host.json's <c>extensions.queues.maxDequeueCount</c> (a test checks),
    /// so that the last delivery the runtime makes is the one that writes the envelope.
    /// </summary>
    public int MaxDeliveries { get; set; } = 5;

    /// <summary>
    /// How often the folder folds this instance's accepted adds into their entities (<see cref="Accepts.AcceptFolder"/>);
    /// a fold that takes longer is followed by the next at once. A GET lags a 202 by about this plus one Durable delivery.
    /// </summary>
    public TimeSpan FoldInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How old a row of another source must be before this instance folds it (that source stopped, or fell behind).
    /// At least twice <see cref="FoldInterval"/>, and with <see cref="SweepInterval"/> within the counters' source
    /// retention (<see cref="FuncMapFunctionsOptionsValidator"/>).
    /// </summary>
    public TimeSpan FoldStaleAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the folder looks for such rows (also once at start).</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How many entity signals one batch sends at a time.</summary>
    public int SignalConcurrency { get; set; } = 16;
}
