using System.Diagnostics;
using Microsoft.Win32.SafeHandles;
using static FuncMap.Journal.Tests.Journals;

namespace FuncMap.Journal.Tests;

/// <summary>Runs only as root on Linux with CAP_SYS_ADMIN (it mounts a tmpfs); skipped otherwise, saying why.</summary>
public sealed class SmallDiskFactAttribute : FactAttribute
{
    public SmallDiskFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Needs Linux: the test mounts a small tmpfs to fill it.";
        }
        else if (Environment.UserName != "root")
        {
            Skip = "Needs root: the test mounts a small tmpfs (mount -t tmpfs -o size=8m) to fill it.";
        }
        else if (!HasSysAdmin())
        {
            Skip = "Needs CAP_SYS_ADMIN (a privileged container) to mount a tmpfs.";
        }
    }

    private static bool HasSysAdmin()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(static l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["CapEff:".Length..].Trim(), 16) & (1UL << 21)) != 0;
    }
}

/// <summary>A real small disk (an 8 MiB tmpfs): ENOSPC is a refusal naming it, freeing space recovers, an idle host never fails.</summary>
public sealed class SmallDiskTests : IDisposable
{
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "funcmap-journal-tmpfs", Guid.NewGuid().ToString("N"));
    private bool _mounted;

    public void Dispose()
    {
        if (_mounted)
        {
            Run("umount", _mount);
        }

        Directory.Delete(_mount, recursive: true);
    }

    [SmallDiskFact]
    public async Task Append_DiskFills_RefusedWithEnospc_FreeingSpaceRecoversWithoutRestart_AcknowledgedWritesSurvive()
    {
        var directory = Mount();
        var acknowledged = new List<string>();
        string? failedKey = null;
        var options = new JournalOptions { Directory = directory };
        options.RecoveryInterval = TimeSpan.FromMilliseconds(20);
        await using (var journal = new OperationJournal(options))
        {
            var segment = Directory.GetFiles(directory, "journal-*.log").Single();
            Assert.InRange(new FileInfo(segment).Length, 1, 8L * 1024 * 1024); // 64 MiB did not fit: what fits was reserved
            var filler = Fill(Path.Combine(_mount, "filler"));

            JournalUnavailableException? refused = null;
            for (var i = 0; i < 400 && refused is null; i++)
            {
                var key = $"key-{i}";
                try
                {
                    await journal.Append(0, [.. Enumerable.Range(0, 50).Select(r => Op(key, r + 1, r + 1, $"{key}-{r}-{new string('x', 1000)}"))]);
                    acknowledged.Add(key);
                }
                catch (JournalUnavailableException ex)
                {
                    (refused, failedKey) = (ex, key);
                }
            }

            Assert.NotNull(refused);
            Assert.Equal("ENOSPC", refused.Cause);
            Assert.Contains("no space left", refused.Message, StringComparison.Ordinal);
            Assert.NotEmpty(acknowledged);

            File.Delete(filler);
            await Poll.UntilAsync(() => journal.Health.IsHealthy, "the journal recovered after space was freed");
            await journal.Append(0, [Op("after", 1, 1, "op-after")]);
            acknowledged.Add("after");
        }

        var reopenedOptions = new JournalOptions { Directory = directory };
        await using var reopened = new OperationJournal(reopenedOptions);
        await using var engine = new FuncMap.Engine.CounterEngine(EngineOptions());
        await reopened.LoadAsync(engine, CancellationToken.None);
        foreach (var key in acknowledged)
        {
            Assert.True(engine.TryGet(key, out _), $"acknowledged {key} was not replayed");
        }

        Assert.False(engine.TryGet(failedKey!, out _));
    }

    [SmallDiskFact]
    public async Task Checkpoint_IdleHostOnANearlyFullDisk_NeverFails()
    {
        var directory = Mount();
        await using var journal = new OperationJournal(new JournalOptions { Directory = directory });
        Fill(Path.Combine(_mount, "filler"));

        var first = journal.Checkpoint();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(first, journal.Checkpoint());
        }

        Assert.True(journal.Health.IsHealthy);
        await journal.Append(0, [Op("k", 1, 1)]); // inside what the segment reserved
    }

    /// <summary>The case 3: a read-only data directory was reported as "in use by another process".</summary>
    [SmallDiskFact]
    public void Constructor_ReadOnlyFileSystem_ThrowsStartErrorNamingErofs()
    {
        Mount("ro");

        var inRoot = Assert.Throws<JournalStartException>(() => new OperationJournal(new JournalOptions { Directory = _mount }));
        Assert.Equal("EROFS", inRoot.Cause);
        Assert.Contains("EROFS (the file system is read-only)", inRoot.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("in use", inRoot.Message, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(_mount, JournalFormat.LockFileName), inRoot.Path);

        var below = Assert.Throws<JournalStartException>(() => new OperationJournal(new JournalOptions { Directory = Path.Combine(_mount, "journal") }));
        Assert.Equal("EROFS", below.Cause);
    }

    private string Mount(string? flags = null)
    {
        Directory.CreateDirectory(_mount);
        Run("mount", "-t", "tmpfs", "-o", flags is null ? "size=8m" : "size=8m," + flags, "tmpfs", _mount);
        _mounted = true;
        return Path.Combine(_mount, "journal");
    }

    /// <summary>Writes zeros to <paramref name="path"/> until the disk is full; returns the path.</summary>
    private static string Fill(string path)
    {
        using SafeFileHandle handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write);
        var chunk = new byte[16 * 1024];
        long offset = 0;
        try
        {
            while (true)
            {
                RandomAccess.Write(handle, chunk, offset);
                offset += chunk.Length;
            }
        }
        catch (IOException ex) when (ex.HResult == 28)
        {
            // ENOSPC: full.
        }

        return path;
    }

    private static void Run(string command, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(command, arguments) { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
        }
    }
}
