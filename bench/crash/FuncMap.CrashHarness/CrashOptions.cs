using System.Globalization;

namespace FuncMap.Crash;

/// <summary>What the crash harness runs: how many kills over how long, with how many writers on how many keys.</summary>
public sealed record CrashOptions
{
    /// <summary>How many times the host is killed with SIGKILL.</summary>
    public int Kills { get; init; } = 20;

    /// <summary>The total time the writers run, spread over the kills (each run lasts 0.2–1.8× its share).</summary>
    public double Seconds { get; init; } = 240;

    /// <summary>The seed of every random choice (kill moments, keys, kinds of write).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Concurrent HTTP writers (each keeps one request in flight).</summary>
    public int Writers { get; init; } = 32;

    /// <summary>Counter keys written (<c>crash:0000</c>…).</summary>
    public int Keys { get; init; } = 512;

    /// <summary>The host's build output; by default the Release build in the repository.</summary>
    public string? HostDll { get; init; }

    /// <summary>The host's data directory (journal); by default a fresh temporary one, deleted after a passing run.</summary>
    public string? DataDirectory { get; init; }

    /// <summary>Where to write the result as a Markdown section (bench/README.md's crash section).</summary>
    public string? MarkdownPath { get; init; }

    /// <summary>Whether to start Azurite for the host's storage (snapshots, lease): auto when the repository has it installed.</summary>
    public bool? Azurite { get; init; }

    /// <summary>Two-host mode when above 0: how many times ownership moves between two hosts on one storage.</summary>
    public int Switches { get; init; }

    /// <summary>Disk-fault mode when above 0 (root on Linux): how many times the data directory's disk is filled under load.</summary>
    public int DiskFaults { get; init; }

    /// <summary>The host's durability mode: Journal (what is verified), or Snapshot as the control that must fail.</summary>
    public string Durability { get; init; } = "Journal";

    /// <summary>Parses <c>--switches N --disk-faults N --kills N --seconds S --seed N --writers N --keys N --host P --data D --markdown F --durability Journal|Snapshot --azurite|--no-azurite</c>.</summary>
    public static CrashOptions Parse(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new CrashOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            options = args[i] switch
            {
                "--switches" => options with { Switches = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--disk-faults" => options with { DiskFaults = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--kills" => options with { Kills = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seconds" => options with { Seconds = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--seed" => options with { Seed = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--writers" => options with { Writers = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--keys" => options with { Keys = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--host" => options with { HostDll = Next() },
                "--data" => options with { DataDirectory = Next() },
                "--markdown" => options with { MarkdownPath = Next() },
                "--durability" => options with { Durability = Next() },
                "--azurite" => options with { Azurite = true },
                "--no-azurite" => options with { Azurite = false },
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
        }

        if (options.Switches < 0 || options.DiskFaults < 0 || options.Kills < 1 || options.Seconds <= 0 || options.Writers < 1 || options.Keys < 4)
        {
            throw new ArgumentException("--kills ≥ 1, --seconds > 0, --writers ≥ 1 and --keys ≥ 4 are required.");
        }

        return options;
    }
}
