namespace FuncMap.Journal;

/// <summary>Settings of the <see cref="OperationJournal"/> (configuration section <c>FuncMap:Journal</c>).</summary>
public sealed class JournalOptions
{
    /// <summary>The configuration section the options are bound from.</summary>
    public const string SectionName = "FuncMap:Journal";

    /// <summary>
    /// The directory of the segment files. A relative path is resolved against the host's content root
    /// (by <see cref="JournalServiceCollectionExtensions.AddFuncMapJournal"/>) or, when the journal is
    /// created directly, against the current directory. Only one process may use it at a time.
    /// </summary>
    public string Directory { get; set; } = Path.Combine(".data", "journal");

    /// <summary>
    /// A segment that has reached this size is closed and a new one started, even without a checkpoint
    /// (64 MiB by default). A checkpoint pending in the queue takes precedence.
    /// </summary>
    public long SegmentMaxBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// How long the writer lets a group accumulate before committing it. Zero (the default) commits as
    /// soon as the previous fsync is done: the group is then whatever arrived during that fsync.
    /// </summary>
    public TimeSpan MaxGroupDelay { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// A group that reaches this many bytes is sealed and the next appends start a new one (1 MiB by
    /// default). One <c>Append</c> call is never split, so a group may exceed it by one call's records.
    /// </summary>
    public int MaxGroupBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How many group commits may be in flight at once (2 by default, 1 or 2): with 2, the next group is written and
    /// its <c>fdatasync</c> started while the previous group's sync has not returned yet (a disk completes concurrent
    /// flushes together). A group is still acknowledged only once its own sync and every earlier group's sync have
    /// returned. Replay's rule for the torn tail this can leave (a torn frame followed by one whole frame) is proven
    /// for 2 only, hence the limit.
    /// </summary>
    public int MaxCommitsInFlight { get; set; } = 2;

    /// <summary>Whether a group is fsynced before it is acknowledged (<see cref="JournalFsyncMode.Always"/>, the default).</summary>
    public JournalFsyncMode FsyncMode { get; set; } = JournalFsyncMode.Always;

    /// <summary>
    /// Accept a gap in the journal's chain of segments for this start (<c>FuncMap:Journal:AcceptDataLoss</c>,
    /// false by default): a missing, shortened, zero-filled or foreign segment — or a missing oldest segment that
    /// the snapshot needs (<see cref="OperationJournal.RequireReplayFrom"/>) — is logged as critical and skipped
    /// instead of refusing the start with <see cref="JournalCorruptException"/>. The writes the missing part held
    /// are lost. Set it for one start after deciding so, then remove it.
    /// </summary>
    public bool AcceptDataLoss { get; set; }

    /// <summary>How often the writer retries recovery (a fresh segment) while the journal is unavailable (1 s). Internal: tests shorten it.</summary>
    internal TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the callers of a failed group wait for the journal to make sure the group's frame will never be
    /// replayed (2 s); past it they are refused with <c>MayBeApplied = true</c>. Internal: tests shorten it.
    /// </summary>
    internal TimeSpan SettleTimeout { get; set; } = TimeSpan.FromSeconds(2);

    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("FuncMap:Journal:Directory must name a directory.", nameof(Directory));
        }

        if (SegmentMaxBytes < 4096)
        {
            throw new ArgumentOutOfRangeException(nameof(SegmentMaxBytes), SegmentMaxBytes, "SegmentMaxBytes must be at least 4096.");
        }

        if (MaxGroupBytes < 256)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxGroupBytes), MaxGroupBytes, "MaxGroupBytes must be at least 256.");
        }

        if (MaxGroupDelay < TimeSpan.Zero || MaxGroupDelay > TimeSpan.FromSeconds(1))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxGroupDelay), MaxGroupDelay, "MaxGroupDelay must be between 0 and 1 second.");
        }

        if (MaxCommitsInFlight is < 1 or > 2)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxCommitsInFlight), MaxCommitsInFlight, "MaxCommitsInFlight must be 1 or 2.");
        }

        if (RecoveryInterval <= TimeSpan.Zero || SettleTimeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(RecoveryInterval), RecoveryInterval, "RecoveryInterval must be positive and SettleTimeout not negative.");
        }
    }

    internal JournalOptions WithDirectory(string directory) => new()
    {
        Directory = directory,
        SegmentMaxBytes = SegmentMaxBytes,
        MaxGroupDelay = MaxGroupDelay,
        MaxGroupBytes = MaxGroupBytes,
        MaxCommitsInFlight = MaxCommitsInFlight,
        FsyncMode = FsyncMode,
        AcceptDataLoss = AcceptDataLoss,
        RecoveryInterval = RecoveryInterval,
        SettleTimeout = SettleTimeout,
    };
}

/// <summary>When the journal forces its writes to the disk.</summary>
public enum JournalFsyncMode
{
    /// <summary>Every group is fsynced before its appends are acknowledged: an acknowledged write survives a power loss.</summary>
    Always = 0,

    /// <summary>
    /// Groups are handed to the operating system but not fsynced: an acknowledged write survives a crash
    /// of the process, not of the machine. For benchmarks and disposable environments.
    /// </summary>
    Never = 1,
}
