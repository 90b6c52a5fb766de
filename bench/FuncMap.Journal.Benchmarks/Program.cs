using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using FuncMap.Counters;
using FuncMap.Engine;
using FuncMap.Journal;

// A Stopwatch harness rather than BenchmarkDotNet: the point is one run that compares engines under the
// same load and reports the journal's group sizes (records per fsync), which BDN does not surface.
var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 3;
var callers = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 64;
var readme = args.Length > 2 ? args[2] : null;
const int Keys = 16;
const int Rounds = 3;

var scenarios = new (string Name, JournalFsyncMode? Fsync, int InFlight)[]
{
    ("plain engine (no log)", null, 2),
    ("journaled, fsync per group", JournalFsyncMode.Always, 2),
    ("journaled, fsync per group, one commit in flight", JournalFsyncMode.Always, 1),
    ("journaled, no fsync", JournalFsyncMode.Never, 2),
};
var results = scenarios.ToDictionary(s => s.Name, _ => new List<RunResult>());
for (var round = 0; round < Rounds; round++)
{
    foreach (var scenario in scenarios)
    {
        var result = await RunAsync(scenario.Fsync, scenario.InFlight, callers, TimeSpan.FromSeconds(seconds));
        results[scenario.Name].Add(result);
        Console.WriteLine($"round {round + 1} {scenario.Name}: {result.OpsPerSecond:N0} ops/s, p50 {result.P50Ms:0.000} ms, p99 {result.P99Ms:0.000} ms, groups {result.Groups.Length}");
    }
}

var plain = Median(results[scenarios[0].Name].Select(r => r.OpsPerSecond));
var report = new StringBuilder();
report.Append(CultureInfo.InvariantCulture, $"Journal vs plain engine: {callers} concurrent callers awaiting `ExecuteAsync` adds (with operation ids) on {Keys} keys, ");
report.Append(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} cores, {Rounds} rounds of {seconds:0.#} s per scenario (after 2 s of warm-up), interleaved, medians reported (group figures pool all rounds); journal in the temp directory (local disk), default options but `MaxCommitsInFlight` where named ");
report.AppendLine("(MaxGroupDelay 0: a group is whatever arrived during the previous fsync). `dotnet run -c Release --project bench/FuncMap.Journal.Benchmarks`.");
report.AppendLine();
report.AppendLine("| scenario | ops/s | vs plain | p50 ms | p99 ms | fsyncs/s | records per group: mean / p50 / p90 / max | group commit p50 ms |");
report.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
foreach (var (name, _, _) in scenarios)
{
    var runs = results[name];
    var ops = Median(runs.Select(r => r.OpsPerSecond));
    var groups = runs.SelectMany(r => r.Groups).Order().ToArray();
    var commits = runs.SelectMany(r => r.CommitMs).Order().ToArray();
    var groupText = groups.Length == 0 ? "–" : $"{groups.Average():0.0} / {Percentile(groups, 0.5)} / {Percentile(groups, 0.9)} / {groups[^1]}";
    var fsyncs = groups.Length == 0 ? "–" : (groups.Length / runs.Sum(r => r.Seconds)).ToString("N0", CultureInfo.InvariantCulture);
    var commitText = commits.Length == 0 ? "–" : Percentile(commits, 0.5).ToString("0.000", CultureInfo.InvariantCulture);
    report.AppendLine(CultureInfo.InvariantCulture,
        $"| {name} | {ops:N0} | {ops / plain:0.00}× | {Median(runs.Select(r => r.P50Ms)):0.000} | {Median(runs.Select(r => r.P99Ms)):0.000} | {fsyncs} | {groupText} | {commitText} |");
}

report.AppendLine();
report.AppendLine("With closed-loop callers and one commit in flight a group holds about half of them (mean 33 of 64): one group is being fsynced while the next fills, so a caller waits for the fsync in flight and then its own; with two in flight (the default) the next group's fsync starts while the previous one's runs. More concurrent writers mean larger groups, not more fsyncs; `MaxGroupDelay` does not help a closed loop. \"No fsync\" isolates the cost of the journal's code path (copy, frame, write, ack hop).");
Console.WriteLine();
Console.WriteLine(report);
if (readme is not null)
{
    UpdateSection(readme, report.ToString());
    Console.WriteLine($"Updated the journal section of {readme}.");
}

static async Task<RunResult> RunAsync(JournalFsyncMode? fsync, int inFlight, int callers, TimeSpan duration)
{
    var directory = Path.Combine(Path.GetTempPath(), "funcmap-journal-bench", Guid.NewGuid().ToString("N"));
    var groups = new List<int>();
    var commitMs = new List<double>();
    using var meters = new BenchMeterFactory();
    using var listener = new MeterListener();
    listener.InstrumentPublished = (instrument, l) =>
    {
        if (meters.Owns(instrument.Meter) && instrument.Name is JournalInstruments.GroupSize or JournalInstruments.CommitDuration)
        {
            l.EnableMeasurementEvents(instrument);
        }
    };
    listener.SetMeasurementEventCallback<int>((_, value, _, _) =>
    {
        lock (groups)
        {
            groups.Add(value);
        }
    });
    listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
    {
        lock (groups)
        {
            commitMs.Add(value); // ms
        }
    });

    var journal = fsync is { } mode ? new OperationJournal(new JournalOptions { Directory = directory, FsyncMode = mode, MaxCommitsInFlight = inFlight }, null, meters) : null;
    listener.Start();
    var options = new CounterEngineOptions();
    var engine = journal is null ? new CounterEngine(options) : CounterEngine.CreateJournaled(options, journal);
    engine.Start();
    try
    {
        // Warm up, then measure; the listener only keeps what the measured window commits.
        await DriveAsync(engine, callers, TimeSpan.FromSeconds(2), null);
        lock (groups)
        {
            groups.Clear();
            commitMs.Clear();
        }

        var latencies = new List<double>[callers];
        var started = Stopwatch.GetTimestamp();
        var total = await DriveAsync(engine, callers, duration, latencies);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        int[] groupSnapshot;
        double[] commitSnapshot;
        lock (groups)
        {
            groupSnapshot = [.. groups];
            commitSnapshot = [.. commitMs];
        }

        return new RunResult(total / elapsed, Percentile(all, 0.5), Percentile(all, 0.99), groupSnapshot, commitSnapshot, elapsed);
    }
    finally
    {
        await engine.DisposeAsync();
        if (journal is not null)
        {
            await journal.DisposeAsync();
            Directory.Delete(directory, recursive: true);
        }
    }
}

static async Task<long> DriveAsync(CounterEngine engine, int callers, TimeSpan duration, List<double>[]? latencies)
{
    var stop = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
    var counts = new long[callers];
    await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
    {
        var mine = latencies is null ? null : latencies[c] = new List<double>(1 << 16);
        var key = $"hot-{c % Keys}";
        long n = 0;
        while (Stopwatch.GetTimestamp() < stop)
        {
            var begin = Stopwatch.GetTimestamp();
            await engine.ExecuteAsync(key, CounterOperation.Add(1, $"c{c}-{n}"));
            mine?.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            n++;
        }

        counts[c] = n;
    })));
    return counts.Sum();
}

static double Median(IEnumerable<double> values) => Percentile([.. values.Order()], 0.5);

static T Percentile<T>(T[] sorted, double p) => sorted.Length == 0 ? default! : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

static void UpdateSection(string path, string content)
{
    const string Begin = "<!-- journal:begin -->";
    const string End = "<!-- journal:end -->";
    var text = File.Exists(path) ? File.ReadAllText(path) : "# Benchmarks\n";
    var section = $"{Begin}\n{content.TrimEnd()}\n{End}";
    var begin = text.IndexOf(Begin, StringComparison.Ordinal);
    var end = text.IndexOf(End, StringComparison.Ordinal);
    text = begin >= 0 && end > begin
        ? text[..begin] + section + text[(end + End.Length)..]
        : text.TrimEnd() + "\n\n## Journal (group commit)\n\n" + section + "\n";
    File.WriteAllText(path, text);
}

internal sealed record RunResult(double OpsPerSecond, double P50Ms, double P99Ms, int[] Groups, double[] CommitMs, double Seconds);

internal sealed class BenchMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public bool Owns(Meter meter)
    {
        lock (_meters)
        {
            return _meters.Contains(meter);
        }
    }

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        lock (_meters)
        {
            _meters.Add(meter);
        }

        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }
}
