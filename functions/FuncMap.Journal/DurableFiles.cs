namespace FuncMap.Journal;

/// <summary>The journal's file-system syncs, for the host's other small durable files (the lease epoch of the data directory).</summary>
public static class DurableFiles
{
    /// <summary>
    /// fsyncs <paramref name="directory"/>, making the entries created or renamed in it durable (Linux; a no-op
    /// elsewhere, where the journal relies on the file's own sync: see the journal's README).
    /// </summary>
    /// <exception cref="IOException">The directory could not be opened or synced (the errno in <see cref="Exception.HResult"/>).</exception>
    public static void SyncDirectory(string directory) => NativeSync.SyncDirectory(directory);
}
