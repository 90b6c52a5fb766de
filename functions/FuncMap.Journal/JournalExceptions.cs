namespace FuncMap.Journal;

/// <summary>
/// A journal segment holds a record that is not a torn tail, or the chain of segments has a gap (a missing,
/// shortened, zero-filled or foreign segment): the host refuses to start rather than guess which acknowledged
/// writes are lost (unless <see cref="JournalOptions.AcceptDataLoss"/> is set).
/// </summary>
public sealed class JournalCorruptException(string filePath, long offset, string reason)
    : Exception($"Journal segment '{filePath}' is corrupt at offset {offset}: {reason}. The host refuses to start rather than lose or guess acknowledged writes; " +
        "restore the file from a backup, or accept the loss explicitly (FuncMap:Journal:AcceptDataLoss=true for one start: the writes the missing part held are then lost).")
{
    /// <summary>The segment file (for a missing segment: the path it would have).</summary>
    public string FilePath { get; } = filePath;

    /// <summary>The byte offset of the bad record (or header) in <see cref="FilePath"/>; for a gap, the offset where the missing content starts.</summary>
    public long Offset { get; } = offset;

    /// <summary>What is wrong at <see cref="Offset"/>.</summary>
    public string Reason { get; } = reason;
}

/// <summary>
/// The journal cannot make writes durable at the moment (a full disk, an I/O error, a read-only file system):
/// every append is refused with this exception until the journal has recovered on a fresh segment, which it
/// retries by itself (no restart needed). The HTTP layer answers it as 503 <c>journal.unavailable</c>.
/// </summary>
public sealed class JournalUnavailableException : FuncMap.Engine.OperationLogUnavailableException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, in words, naming the cause.</param>
    /// <param name="cause">The errno name (<c>ENOSPC</c>, <c>EDQUOT</c>, <c>EIO</c>, <c>EROFS</c>, <c>EACCES</c>, …) or the exception type.</param>
    /// <param name="mayBeApplied">True when the refused records may still be replayed after a restart (outcome unknown).</param>
    /// <param name="since">When the journal became unavailable.</param>
    /// <param name="innerException">The write, sync or create error.</param>
    public JournalUnavailableException(string message, string cause, bool mayBeApplied, DateTimeOffset since, Exception? innerException)
        : base(message, cause, mayBeApplied, innerException)
    {
        Since = since;
    }

    /// <summary>When the journal became unavailable (UTC).</summary>
    public DateTimeOffset Since { get; }
}

/// <summary>
/// The journal cannot start: its directory, lock file, id file or first segment cannot be created or opened.
/// <see cref="Cause"/> names the errno (<c>EROFS</c>, <c>EACCES</c>, <c>ENOTDIR</c>, <c>ENOSPC</c>, …);
/// <c>EWOULDBLOCK</c> is the one case where another process (or journal) owns the directory.
/// </summary>
public sealed class JournalStartException(string message, string cause, string path, Exception? innerException)
    : IOException(message, innerException)
{
    /// <summary>The errno name (or the exception type when there is none).</summary>
    public string Cause { get; } = cause;

    /// <summary>The file or directory the failed step was about.</summary>
    public string Path { get; } = path;

    /// <summary>The exception for <paramref name="step"/> on <paramref name="path"/> failing with <paramref name="error"/>.</summary>
    internal static JournalStartException For(string step, string path, Exception error)
    {
        var cause = JournalErrors.Cause(error);
        return new JournalStartException(
            $"The journal cannot start: {step} '{path}' failed with {cause} ({JournalErrors.Describe(cause)}). Check that the data directory is on a writable file system with free space and that this user may write it.",
            cause, path, error);
    }
}
