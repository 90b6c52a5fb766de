using System.Globalization;
using System.Text;

namespace FuncMap.Local.Storage;

/// <summary>
/// The highest lease epoch a data directory held of its storage: file <see cref="FileName"/> beside <c>owner-id</c>,
/// one decimal Int64 (UTF-8, no newline). Written after every claim that raised it, atomically (temp file, fsync,
/// rename, fsync of the directory), so that after a crash or power loss it holds the old or the new number, never
/// a torn one. A claim that finds no lease row, or a row of a lower epoch, on a storage this directory held at a
/// higher one knows the storage was wiped or replaced (<see cref="StorageResetException"/>).
/// </summary>
internal static class LeaseEpochFile
{
    /// <summary>The file's name in the data directory.</summary>
    public const string FileName = "lease-epoch";

    /// <summary>The epoch recorded in <paramref name="directory"/>, or null when none was (a directory that never held a lease).</summary>
    /// <exception cref="InvalidOperationException">The file exists but does not hold a positive Int64.</exception>
    public static long? Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        var text = File.ReadAllText(path, Encoding.UTF8).Trim();
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch) && epoch > 0
            ? epoch
            : throw new InvalidOperationException($"The data directory's lease epoch file {path} does not hold a positive integer (it holds '{text}'). Restore it, or delete it if this directory should not remember its storage.");
    }

    /// <summary>Records <paramref name="epoch"/> in <paramref name="directory"/>, durably.</summary>
    /// <exception cref="IOException">The file or the directory could not be written or synced.</exception>
    public static void Write(string directory, long epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(epoch);
        var path = Path.Combine(directory, FileName);
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(epoch.ToString(CultureInfo.InvariantCulture)));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        FuncMap.Journal.DurableFiles.SyncDirectory(directory);
    }
}
