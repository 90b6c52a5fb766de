namespace FuncMap.Local.Storage;

/// <summary>Settings of the local host's storage (configuration section <c>FuncMap:Storage</c>).</summary>
public sealed class StorageOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "FuncMap:Storage";

    /// <summary>The configuration key that turns storage off (<c>false</c>): the host then keeps counters in memory only.</summary>
    public const string EnabledKey = "FuncMap:Storage:Enabled";

    /// <summary>
    /// False when <see cref="EnabledKey"/> is <c>false</c>: the host then has no storage (no table, queue or lease), and
    /// its journal (Journal mode) lives apart from a storage host's, so that the two never replay each other's writes.
    /// </summary>
    public static bool IsEnabled(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return !string.Equals(configuration[EnabledKey], "false", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The configuration key of <see cref="AllowUncleanTakeover"/>.</summary>
    public const string AllowUncleanTakeoverKey = "FuncMap:Storage:AllowUncleanTakeover";

    /// <summary>The command-line switch that sets <see cref="AllowUncleanTakeover"/> for one start.</summary>
    public const string AllowUncleanTakeoverSwitch = "--allow-unclean-takeover";

    /// <summary>The configuration key of <see cref="AllowStorageReset"/>.</summary>
    public const string AllowStorageResetKey = "FuncMap:Storage:AllowStorageReset";

    /// <summary>The command-line switch that sets <see cref="AllowStorageReset"/> for one start.</summary>
    public const string AllowStorageResetSwitch = "--allow-storage-reset";

    /// <summary>The configuration key of the data directory (owner id, the highest lease epoch held, and the directory lock).</summary>
    public const string DataDirectoryKey = "FuncMap:DataDirectory";

    /// <summary>
    /// A Shared Key connection string (Azurite: <c>UseDevelopmentStorage=true</c>, the default). Ignored when
    /// <see cref="TableServiceUri"/> and <see cref="QueueServiceUri"/> are set.
    /// </summary>
    public string ConnectionString { get; set; } = "UseDevelopmentStorage=true";

    /// <summary>The table endpoint for an identity-based connection (with <see cref="QueueServiceUri"/>).</summary>
    public Uri? TableServiceUri { get; set; }

    /// <summary>The queue endpoint for an identity-based connection (with <see cref="TableServiceUri"/>).</summary>
    public Uri? QueueServiceUri { get; set; }

    /// <summary>The client id of a user-assigned managed identity (identity-based connections only).</summary>
    public string? ManagedIdentityClientId { get; set; }

    /// <summary>The snapshot table.</summary>
    public string TableName { get; set; } = "Counters";

    /// <summary>The table holding the single-writer lease row (not <see cref="TableName"/>, which is loaded row by row).</summary>
    public string LeaseTableName { get; set; } = "FuncMapLeases";

    /// <summary>The queue of increment batches.</summary>
    public string QueueName { get; set; } = "counter-increments";

    /// <summary>Where messages that can never succeed go, as a JSON envelope.</summary>
    public string PoisonQueueName { get; set; } = "counter-increments-poison";

    /// <summary>How often changed counters are written to the table.</summary>
    public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many partitions a snapshot writes at once.</summary>
    public int SnapshotParallelism { get; set; } = 8;

    /// <summary>How many partition ranges the restore at start reads at once (rows are still loaded by one loop).</summary>
    public int RestoreParallelism { get; set; } = 8;

    /// <summary>
    /// How long a graceful stop tries to write the final snapshot (retrying while storage fails) before it gives up;
    /// shorter than the host's shutdown timeout (30 s), so the lease release and the rest of the stop still run.
    /// </summary>
    public TimeSpan FinalSnapshotTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest wait between two snapshot attempts after failures (the backoff's cap).</summary>
    public TimeSpan SnapshotMaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether the host polls the queue.</summary>
    public bool IngestionEnabled { get; set; } = true;

    /// <summary>How many receive loops poll the queue at once.</summary>
    public int IngestionConcurrency { get; set; } = 2;

    /// <summary>Messages per receive (1–32).</summary>
    public int ReceiveBatchSize { get; set; } = 32;

    /// <summary>How long a received message stays invisible to other receivers.</summary>
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Deliveries after which a message that keeps failing for passing reasons goes to the poison queue.</summary>
    public int MaxDeliveries { get; set; } = 5;

    /// <summary>The longest pause between two receives while the queue is empty or unreachable.</summary>
    public TimeSpan MaxPollDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many completed batch ids the ingestion remembers (beyond the per-counter window of 64 operation ids).</summary>
    public int CompletedBatchIdCapacity { get; set; } = 100_000;

    /// <summary>How long the single-writer lease lasts; it is renewed every third of it.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long before the lease could expire (by this host's monotonic clock, counted from when the last renewal was
    /// sent) the host stops acknowledging writes. Covers clock-rate differences between hosts and the time from the
    /// check to the answer leaving the process.
    /// </summary>
    public TimeSpan LeaseSafetyMargin { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Take over an expired lease whose owner did not stop cleanly (off by default, like Kafka's unclean leader
    /// election): the writes that owner acknowledged after its last snapshot are then lost. Set it for one start with
    /// <see cref="AllowUncleanTakeoverSwitch"/>.
    /// </summary>
    public bool AllowUncleanTakeover { get; set; }

    /// <summary>
    /// Start on a storage whose lease is missing or at a lower epoch than the data directory held (file
    /// <c>lease-epoch</c>): the storage was wiped or replaced, so the table lacks what this directory's host wrote to it.
    /// Off by default: the host refuses to start (<see cref="StorageResetException"/>). With it, the host claims an
    /// epoch above the one the directory held and serves the storage as it is. Set it for one start with
    /// <see cref="AllowStorageResetSwitch"/>.
    /// </summary>
    public bool AllowStorageReset { get; set; }

    internal bool UsesIdentity => TableServiceUri is not null || QueueServiceUri is not null;

    internal void Validate()
    {
        if (UsesIdentity && (TableServiceUri is null || QueueServiceUri is null))
        {
            throw new InvalidOperationException("FuncMap:Storage: set both TableServiceUri and QueueServiceUri for an identity-based connection, or neither (ConnectionString).");
        }

        if (!UsesIdentity && string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new InvalidOperationException("FuncMap:Storage:ConnectionString is empty (use UseDevelopmentStorage=true for Azurite).");
        }

        Require(SnapshotInterval > TimeSpan.Zero, "SnapshotInterval must be positive.");
        Require(SnapshotParallelism >= 1, "SnapshotParallelism must be at least 1.");
        Require(FinalSnapshotTimeout > TimeSpan.Zero, "FinalSnapshotTimeout must be positive.");
        Require(RestoreParallelism >= 1, "RestoreParallelism must be at least 1.");
        Require(IngestionConcurrency >= 1, "IngestionConcurrency must be at least 1.");
        Require(ReceiveBatchSize is >= 1 and <= 32, "ReceiveBatchSize must be from 1 to 32.");
        Require(VisibilityTimeout >= TimeSpan.FromSeconds(3) && VisibilityTimeout <= TimeSpan.FromDays(7), "VisibilityTimeout must be from 3 seconds to 7 days.");
        Require(MaxDeliveries >= 1, "MaxDeliveries must be at least 1.");
        Require(CompletedBatchIdCapacity >= 0, "CompletedBatchIdCapacity must not be negative.");
        Require(LeaseDuration >= TimeSpan.FromSeconds(3), "LeaseDuration must be at least 3 seconds.");
        Require(LeaseSafetyMargin > TimeSpan.Zero && LeaseSafetyMargin < LeaseDuration * 2 / 3, "LeaseSafetyMargin must be positive and less than two thirds of LeaseDuration (renewals run every third).");
        Require(MaxPollDelay > TimeSpan.Zero, "MaxPollDelay must be positive.");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException("FuncMap:Storage:" + message);
        }
    }

    /// <summary>
    /// The command line with <see cref="AllowUncleanTakeoverSwitch"/> replaced by <c>--FuncMap:Storage:AllowUncleanTakeover=true</c>
    /// and <see cref="AllowStorageResetSwitch"/> by <c>--FuncMap:Storage:AllowStorageReset=true</c> (the configuration
    /// binder reads keys with values only).
    /// </summary>
    public static string[] ExpandSwitches(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return Array.ConvertAll(args, static a => a switch
        {
            AllowUncleanTakeoverSwitch => "--" + AllowUncleanTakeoverKey + "=true",
            AllowStorageResetSwitch => "--" + AllowStorageResetKey + "=true",
            _ => a,
        });
    }
}
