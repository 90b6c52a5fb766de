using System.Diagnostics;

namespace FuncMap.Crash;

/// <summary>
/// Copies a running host's data directory as an operator would: <c>cp -a</c> (advisory locks do not stop it, and .NET's
/// <c>File.Copy</c> would take the locks the host holds; a file the owner is writing is copied as far as it is).
/// </summary>
public static class LiveDirectoryCopy
{
    /// <summary>How many times a copy is started again when a file vanished under it.</summary>
    public const int Attempts = 5;

    /// <summary>
    /// Copies <paramref name="from"/> (its contents when it ends in <c>/.</c>) to <paramref name="to"/>. The owner deletes
    /// journal segments while it runs (a checkpoint), so <c>cp</c> can find a file gone between listing and copying it
    /// ("No such file or directory"): the copy is then removed and started again, as an operator would, up to
    /// <see cref="Attempts"/> times. Any other failure throws <see cref="InvalidOperationException"/> with cp's message.
    /// </summary>
    public static async Task CopyAsync(string from, string to)
    {
        for (var attempt = 1; ; attempt++)
        {
            var start = new ProcessStartInfo("cp") { ArgumentList = { "-a", from, to }, UseShellExecute = false, RedirectStandardError = true };
            using var cp = Process.Start(start)!;
            var error = await cp.StandardError.ReadToEndAsync();
            await cp.WaitForExitAsync();
            if (cp.ExitCode == 0)
            {
                return;
            }

            if (attempt >= Attempts || !error.Contains("No such file or directory", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"cp -a {from} {to} failed with exit code {cp.ExitCode} (attempt {attempt}): {error.Trim()}");
            }

            Clear(from, to);
        }
    }

    private static void Clear(string from, string to)
    {
        if (!Directory.Exists(to))
        {
            return;
        }

        if (from.EndsWith("/.", StringComparison.Ordinal))
        {
            // Contents were copied into an existing directory: empty it, keep it.
            foreach (var entry in new DirectoryInfo(to).EnumerateFileSystemInfos())
            {
                if (entry is DirectoryInfo directory)
                {
                    directory.Delete(recursive: true);
                }
                else
                {
                    entry.Delete();
                }
            }
        }
        else
        {
            Directory.Delete(to, recursive: true);
        }
    }
}
