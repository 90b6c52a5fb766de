using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace FuncMap.Journal;

/// <summary>
/// The syncs .NET does not expose: <c>fdatasync</c> for commits and <c>fsync</c> of a directory after a
/// segment is created. Linux only; elsewhere a data sync is a full <see cref="RandomAccess.FlushToDisk"/>
/// (FlushFileBuffers on Windows, fsync on macOS) and a directory sync is skipped: Windows has no directory
/// handle to flush (NTFS journals the entry with the file's metadata), and on macOS and the BSDs the file's
/// fsync is what the journal relies on.
/// </summary>
internal static partial class NativeSync
{
    // O_RDONLY | O_CLOEXEC (the same values on every Linux architecture; O_DIRECTORY is not, and is not needed).
    private const int ReadOnlyDirectoryFlags = 0x0 | 0x80000;
    private const int EINTR = 4;

    /// <summary>Flushes the file's data and the metadata needed to read it back (<c>fdatasync</c>).</summary>
    public static void DataSync(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux())
        {
            RandomAccess.FlushToDisk(handle);
            return;
        }

        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            int result;
            int errno;
            do
            {
                result = FDataSync(fd);
                errno = result == 0 ? 0 : Marshal.GetLastPInvokeError();
            }
            while (result != 0 && errno == EINTR);

            if (result != 0)
            {
                throw new IOException($"fdatasync failed: {new Win32Exception(errno).Message} (errno {errno}).", errno);
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Flushes the file's data and all of its metadata (<c>fsync</c>).</summary>
    public static void FullSync(SafeFileHandle handle) => RandomAccess.FlushToDisk(handle);

    /// <summary>fsyncs <paramref name="directory"/>, making the entries created in it durable. Linux only; a no-op elsewhere.</summary>
    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = Open(directory, ReadOnlyDirectoryFlags);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"Cannot open the directory '{directory}' to fsync it: {new Win32Exception(errno).Message} (errno {errno}).", errno);
        }

        try
        {
            int result;
            int errno;
            do
            {
                result = FSync(fd);
                errno = result == 0 ? 0 : Marshal.GetLastPInvokeError();
            }
            while (result != 0 && errno == EINTR);

            if (result != 0)
            {
                throw new IOException($"fsync of the directory '{directory}' failed: {new Win32Exception(errno).Message} (errno {errno}).", errno);
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>
    /// Reserves <paramref name="length"/> bytes from offset 0 (<c>fallocate</c> mode 0: the file's size becomes at
    /// least <paramref name="length"/>). Linux only. Returns 0, or the errno (ENOSPC, EDQUOT, EOPNOTSUPP, …).
    /// </summary>
    public static int Allocate(SafeFileHandle handle, long length)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            int result;
            int errno;
            do
            {
                result = FAllocate(fd, 0, 0, length);
                errno = result == 0 ? 0 : Marshal.GetLastPInvokeError();
            }
            while (result != 0 && errno == EINTR);

            return errno;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int FAllocate(int fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(int fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
