namespace FuncMap.Journal;

/// <summary>
/// Names the operating-system error behind an I/O exception: the errno name (<c>ENOSPC</c>, <c>EIO</c>, …) and
/// what it means in words, for refusals, health and start errors.
/// </summary>
/// <remarks>
/// How .NET reports errno on Unix (dotnet/runtime, <c>Interop.IOErrors.cs</c>, <c>GetExceptionForIoErrno</c>):
/// most errors are an <see cref="IOException"/> whose <see cref="Exception.HResult"/> is the raw errno (ENOSPC,
/// EDQUOT, EIO, EROFS, ENOTDIR, EEXIST, and EWOULDBLOCK for a <see cref="FileShare.None"/> lock conflict);
/// EACCES, EPERM and EBADF become an <see cref="UnauthorizedAccessException"/> whose inner
/// <see cref="IOException"/> carries the errno; ENOENT becomes <see cref="FileNotFoundException"/> or
/// <see cref="DirectoryNotFoundException"/> and ENAMETOOLONG <see cref="PathTooLongException"/>, without it.
/// The journal's own P/Invoke syncs throw an <see cref="IOException"/> with the errno as HResult too. On
/// Windows the HResult is a Win32 HRESULT; the few codes the journal distinguishes are mapped to the same names.
/// </remarks>
public static class JournalErrors
{
    // Linux errno values (asm-generic; the same on x64 and arm64).
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EIO = 5;
    internal const int EBADF = 9;
    internal const int EWOULDBLOCK = 11;
    internal const int ENOMEM = 12;
    internal const int EACCES = 13;
    internal const int EEXIST = 17;
    internal const int ENODEV = 19;
    internal const int ENOTDIR = 20;
    internal const int EISDIR = 21;
    internal const int EINVAL = 22;
    internal const int ENFILE = 23;
    internal const int EMFILE = 24;
    internal const int EFBIG = 27;
    internal const int ENOSPC = 28;
    internal const int EROFS = 30;
    internal const int ENAMETOOLONG = 36;
    internal const int ENOLCK = 37;
    internal const int ENOSYS = 38;
    internal const int EOPNOTSUPP = 95;
    internal const int ETIMEDOUT = 110;
    internal const int ESTALE = 116;
    internal const int EDQUOT = 122;

    private const int MacOSEWouldBlock = 35;

    /// <summary>The errno name of <paramref name="exception"/> (or of the first inner exception that has one); otherwise its type name.</summary>
    public static string Cause(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            switch (current)
            {
                case JournalUnavailableException unavailable:
                    return unavailable.Cause;
                case JournalStartException start:
                    return start.Cause;
                case FileNotFoundException or DirectoryNotFoundException:
                    return "ENOENT";
                case PathTooLongException:
                    return "ENAMETOOLONG";
                case UnauthorizedAccessException when current.InnerException is null:
                    return "EACCES";
                case IOException when Name(current.HResult) is { } name:
                    return name;
            }
        }

        return exception.GetType().Name;
    }

    /// <summary>What <paramref name="cause"/> (an errno name) means, in words; the cause itself when it is no errno name.</summary>
    public static string Describe(string cause) => cause switch
    {
        "ENOSPC" => "no space left on the device",
        "EDQUOT" => "the disk quota is exceeded",
        "EIO" => "an input/output error: the device failed",
        "EROFS" => "the file system is read-only",
        "EACCES" => "permission denied",
        "EPERM" => "the operation is not permitted",
        "ENOTDIR" => "a component of the path is not a directory",
        "ENOENT" => "no such file or directory",
        "EISDIR" => "the path is a directory",
        "EEXIST" => "the file already exists",
        "EFBIG" => "the file is too large",
        "EMFILE" or "ENFILE" => "too many open files",
        "ENAMETOOLONG" => "the path is too long",
        "EWOULDBLOCK" => "the file is locked by another process",
        "ENOLCK" => "no locks available",
        "ESTALE" => "a stale file handle (network file system)",
        "ETIMEDOUT" => "the device timed out",
        "ENODEV" => "no such device",
        "EBADF" => "a bad file descriptor",
        "ENOMEM" => "out of memory",
        "EINVAL" => "an invalid argument",
        _ => cause,
    };

    /// <summary>True when <paramref name="exception"/> is the lock conflict of a second <see cref="FileShare.None"/> open (flock EWOULDBLOCK; a sharing or lock violation on Windows).</summary>
    public static bool IsLockConflict(IOException exception)
    {
        if (OperatingSystem.IsWindows())
        {
            return exception.HResult is unchecked((int)0x80070020) or unchecked((int)0x80070021);
        }

        return exception.HResult == (OperatingSystem.IsLinux() ? EWOULDBLOCK : MacOSEWouldBlock);
    }

    /// <summary>True when <paramref name="cause"/> says the device is out of space (or quota): a smaller preallocation may still fit.</summary>
    public static bool IsOutOfSpace(string cause) => cause is "ENOSPC" or "EDQUOT";

    private static string? Name(int hresult)
    {
        if (OperatingSystem.IsWindows())
        {
            return (hresult & 0xFFFF0000) != 0x80070000 ? null : (hresult & 0xFFFF) switch
            {
                5 => "EACCES",
                19 => "EROFS",
                32 or 33 => "EWOULDBLOCK",
                39 or 112 => "ENOSPC",
                23 or 1117 => "EIO",
                _ => null,
            };
        }

        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        return hresult switch
        {
            EPERM => "EPERM",
            ENOENT => "ENOENT",
            EIO => "EIO",
            EBADF => "EBADF",
            EWOULDBLOCK => "EWOULDBLOCK",
            ENOMEM => "ENOMEM",
            EACCES => "EACCES",
            EEXIST => "EEXIST",
            ENODEV => "ENODEV",
            ENOTDIR => "ENOTDIR",
            EISDIR => "EISDIR",
            EINVAL => "EINVAL",
            ENFILE => "ENFILE",
            EMFILE => "EMFILE",
            EFBIG => "EFBIG",
            ENOSPC => "ENOSPC",
            EROFS => "EROFS",
            ENAMETOOLONG => "ENAMETOOLONG",
            ENOLCK => "ENOLCK",
            ENOSYS => "ENOSYS",
            EOPNOTSUPP => "EOPNOTSUPP",
            ETIMEDOUT => "ETIMEDOUT",
            ESTALE => "ESTALE",
            EDQUOT => "EDQUOT",
            _ => null,
        };
    }
}
