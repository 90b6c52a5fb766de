using System.Text;

namespace FuncMap.Local.Storage;

/// <summary>
/// The host installation's identity: an owner id kept in the data directory, so a host killed and
/// restarted on the same directory is the same owner and reclaims its own lease at once; and an exclusive
/// lock on that directory, so two hosts can never share one id.
/// </summary>
public sealed class HostIdentity : IDisposable
{
    /// <summary>The lock file in the data directory.</summary>
    public const string LockFileName = ".lock";

    /// <summary>The file holding the owner id.</summary>
    public const string OwnerFileName = "owner-id";

    private readonly FileStream _lock;

    private HostIdentity(string directory, FileStream lockFile, string ownerId)
    {
        Directory = directory;
        _lock = lockFile;
        OwnerId = ownerId;
    }

    /// <summary>The data directory.</summary>
    public string Directory { get; }

    /// <summary>The stable owner id of this installation.</summary>
    public string OwnerId { get; }

    /// <summary>Locks <paramref name="directory"/> (creating it) and reads or creates its owner id.</summary>
    /// <exception cref="InvalidOperationException">Another process holds the directory.</exception>
    /// <exception cref="IOException">The directory cannot be written (the errno named: EROFS, EACCES, ENOSPC, ENOTDIR, …).</exception>
    public static HostIdentity Open(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(directory);
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex) when (FuncMap.Journal.JournalErrors.IsLockConflict(ex))
        {
            throw new InvalidOperationException(
                $"The data directory {directory} is in use by another FuncMap host (its {LockFileName} file is locked). " +
                "Two hosts cannot share a data directory: stop the other one or set FuncMap:DataDirectory.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A read-only file system, a full disk, no permission: said as what it is, never as "in use".
            var cause = FuncMap.Journal.JournalErrors.Cause(ex);
            throw new IOException(
                $"Cannot lock the data directory {directory} ({Path.Combine(directory, LockFileName)}): {cause}, {FuncMap.Journal.JournalErrors.Describe(cause)}.", ex);
        }

        try
        {
            var ownerFile = Path.Combine(directory, OwnerFileName);
            string? ownerId = null;
            if (File.Exists(ownerFile))
            {
                ownerId = File.ReadAllText(ownerFile, Encoding.UTF8).Trim();
            }

            if (string.IsNullOrEmpty(ownerId))
            {
                ownerId = $"{Environment.MachineName}/{Guid.NewGuid():N}";
                var temp = ownerFile + ".tmp";
                using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
                {
                    stream.Write(Encoding.UTF8.GetBytes(ownerId));
                    stream.Flush(flushToDisk: true);
                }

                File.Move(temp, ownerFile, overwrite: true);
            }

            return new HostIdentity(directory, lockFile, ownerId);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _lock.Dispose();
}
