namespace FuncMap.Journal;

/// <summary>
/// A journal segment holds a record that is not a torn tail: the host refuses to start rather than
/// guess which acknowledged writes are lost.
/// </summary>
public sealed class JournalCorruptException(string filePath, long offset, string reason)
    : Exception($"Journal segment '{filePath}' is corrupt at offset {offset}: {reason}. The host refuses to start rather than lose or guess acknowledged writes; " +
        "restore the file from a backup, or move the journal directory away deliberately (the writes it holds after the last snapshot are then lost).")
{
    /// <summary>The segment file.</summary>
    public string FilePath { get; } = filePath;

    /// <summary>The byte offset of the bad record (or header) in <see cref="FilePath"/>.</summary>
    public long Offset { get; } = offset;

    /// <summary>What is wrong at <see cref="Offset"/>.</summary>
    public string Reason { get; } = reason;
}

/// <summary>
/// The journal could not make writes durable. After a failed write or fsync the file's state is unknown,
/// so the journal fails every later append too, until the host restarts and replays it.
/// </summary>
public sealed class JournalFailedException(Exception inner)
    : FuncMap.Engine.OperationLogUnavailableException(
        $"The journal could not make the operations durable ({inner.Message}); it refuses further writes until the host restarts.",
        inner.GetType().Name, mayBeApplied: false, inner);
