using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace FuncMap.LoadGen.Functions;

/// <summary>Settings of one <c>functions</c> run.</summary>
public sealed record FunctionsBenchSettings(
    int Concurrency, int NoopOps, int HotOps, int SpreadOps, int SpreadKeys, int Batches, int BatchItems,
    int PriorOps, int PriorKeys, int PriorConcurrency, TimeSpan ApplyTimeout);

/// <summary>
/// One figure of the table: applied operations per second = operations answered 202 ÷ the time from the first
/// request until a read showed the exact expected total (for the no-op: until the last answer).
/// </summary>
public sealed record PhaseResult(string Name, long Operations, long Accepted, long Unknown, TimeSpan SendTime, TimeSpan? AppliedTime, string? Problem, double LoadAverage)
{
    /// <summary>Batch phases: requests answered 503 <c>engine.timeout</c> (stored, not every owner replied in time).</summary>
    public long OwnerTimeouts { get; init; }

    /// <summary>Applied operations per second, or null when the totals were not exact (see <see cref="Problem"/>).</summary>
    public double? PerSecond => Problem is null && AppliedTime is { } t ? Accepted / t.TotalSeconds : null;
}

/// <summary>
/// The Functions app under load, in one run against one host: the no-op function (the HTTP path's ceiling), adds on
/// one hot key, adds over many keys, the batch endpoint; then many prior adds, and the same again. Every phase uses
/// keys of its own (run id + phase), so each expected total is exact.
/// </summary>
public sealed class FunctionsBench(FunctionsApi api, FunctionsBenchSettings settings)
{
    private readonly string _run = "fb" + DateTime.UtcNow.ToString("MMddHHmmss", CultureInfo.InvariantCulture);
    private long _batchTimeouts;

    /// <summary>The phases' results in order: fresh (noop, hot, spread, batch), prior, after (the same four).</summary>
    public List<PhaseResult> Results { get; } = [];

    /// <summary>The prior phase's result (adds driven into the hub before the "after" phases).</summary>
    public PhaseResult? Prior { get; private set; }

    /// <summary>Runs every phase and returns false when any total was not exact.</summary>
    public async Task<bool> RunAsync(CancellationToken cancellationToken)
    {
        Console.Error.WriteLine($"run {_run}: warm-up");
        await NoopAsync("warm-up", 200, cancellationToken);
        await HotAsync("warm", 100, cancellationToken);

        foreach (var round in new[] { "fresh", "after" })
        {
            if (round == "after")
            {
                if (settings.PriorOps <= 0)
                {
                    break;
                }

                Prior = await SpreadAsync("prior", settings.PriorOps, settings.PriorKeys, settings.PriorConcurrency, cancellationToken);
                Print(Prior);
            }

            foreach (var phase in new Func<Task<PhaseResult>>[]
            {
                () => NoopAsync($"{round}-noop", settings.NoopOps, cancellationToken),
                () => HotAsync($"{round}-hot", settings.HotOps, cancellationToken),
                () => SpreadAsync($"{round}-spread", settings.SpreadOps, settings.SpreadKeys, settings.Concurrency, cancellationToken),
                () => BatchAsync($"{round}-batch", cancellationToken),
            })
            {
                var result = await phase();
                Results.Add(result);
                Print(result);
            }
        }

        return Results.All(r => r.Problem is null) && Prior?.Problem is null;
    }

    /// <summary>The table (markdown) with the ratios the issue's targets are stated in.</summary>
    public string Table()
    {
        var text = new StringBuilder();
        double? Rate(string name) => Results.FirstOrDefault(r => r.Name == name)?.PerSecond;
        string Cell(double? v) => v is { } x ? x.ToString("#,0.0", CultureInfo.InvariantCulture) : "n/a";
        string Ratio(double? a, double? b) => a is { } x && b is { } y && y > 0 ? (x / y).ToString("0.00", CultureInfo.InvariantCulture) : "n/a";
        var hasAfter = Results.Any(r => r.Name.StartsWith("after-", StringComparison.Ordinal));
        var priorOps = Prior?.Accepted.ToString("#,0", CultureInfo.InvariantCulture) ?? "0";
        text.AppendLine(hasAfter
            ? $"| phase (c = {settings.Concurrency}) | fresh hub, applied/s | after {priorOps} prior adds, applied/s | after ÷ fresh (target ≥ 0.9) |"
            : $"| phase (c = {settings.Concurrency}) | fresh hub, applied/s | | |");
        text.AppendLine("|---|---:|---:|---:|");
        foreach (var (phase, label) in new[]
        {
            ("noop", $"no-op function, {settings.NoopOps:#,0} requests (req/s)"),
            ("hot", $"adds on one hot key, {settings.HotOps:#,0}"),
            ("spread", $"adds over {settings.SpreadKeys:#,0} keys, {settings.SpreadOps:#,0}"),
            ("batch", $"batch endpoint, {settings.Batches} × {settings.BatchItems} items over {settings.SpreadKeys:#,0} keys (increments/s)"),
        })
        {
            var fresh = Rate($"fresh-{phase}");
            var after = Rate($"after-{phase}");
            text.AppendLine($"| {label} | {Cell(fresh)} | {(hasAfter ? Cell(after) : "")} | {(hasAfter ? Ratio(after, fresh) : "")} |");
        }

        text.AppendLine();
        text.Append("Ratios (fresh hub): hot ÷ no-op ").Append(Ratio(Rate("fresh-hot"), Rate("fresh-noop"))).Append(" (target ≥ 0.9), ")
            .Append("spread ÷ hot ").Append(Ratio(Rate("fresh-spread"), Rate("fresh-hot"))).Append(" (target ≥ 0.9)");
        if (hasAfter)
        {
            text.Append("; after the prior adds: hot ÷ no-op ").Append(Ratio(Rate("after-hot"), Rate("after-noop")))
                .Append(", spread ÷ hot ").Append(Ratio(Rate("after-spread"), Rate("after-hot")));
        }

        text.AppendLine(".");
        if (Prior is { } prior)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Prior load: {prior.Accepted:#,0} adds (`POST /api/counters/{{key}}/add`, no wait, no Idempotency-Key) over {settings.PriorKeys:#,0} keys with {settings.PriorConcurrency} callers: all answered in {prior.SendTime.TotalSeconds:0} s, all applied after {prior.AppliedTime?.TotalSeconds.ToString("0", CultureInfo.InvariantCulture) ?? "n/a"} s ({Cell(prior.PerSecond)} applied/s)."));
        }

        foreach (var r in Results.Where(r => r.OwnerTimeouts > 0))
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Name}: {r.OwnerTimeouts} of {settings.Batches} batches answered 503 `engine.timeout` (every signal stored, not every owner replied within the app's BatchWaitTimeout); they count, and the time runs until the list shows them applied."));
        }

        var problems = Results.Append(Prior).Where(r => r?.Problem is not null).ToList();
        foreach (var r in problems)
        {
            text.AppendLine($"**{r!.Name}: {r.Problem}**");
        }

        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Load average (1 min) at the end of each phase: {string.Join(", ", Results.Select(r => $"{r.Name} {r.LoadAverage:0.0}"))}."));
        return text.ToString();
    }

    private static void Print(PhaseResult r) => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{r.Name}: {r.Accepted}/{r.Operations} accepted in {r.SendTime.TotalSeconds:0.0} s, exact after {r.AppliedTime?.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) ?? "-"} s → {r.PerSecond?.ToString("0.0", CultureInfo.InvariantCulture) ?? "n/a"}/s{(r.OwnerTimeouts > 0 ? $", {r.OwnerTimeouts} batches answered 503 engine.timeout" : "")}{(r.Problem is null ? "" : " — " + r.Problem)} (load {r.LoadAverage:0.0})"));

    private async Task<PhaseResult> NoopAsync(string name, int count, CancellationToken cancellationToken)
    {
        var burst = await LoadDriver.RunAsync(name, count, settings.Concurrency, (_, ct) => api.NoopAsync(ct), null, cancellationToken);
        var problem = burst.Accepted == count ? null : $"{count - burst.Accepted} requests not answered 202";
        return new(name, count, burst.Accepted, burst.Unknown, burst.Elapsed, burst.Elapsed, problem, LoadAverage());
    }

    private async Task<PhaseResult> HotAsync(string name, int count, CancellationToken cancellationToken)
    {
        var key = $"{_run}-{name}";
        var clock = Stopwatch.StartNew();
        var burst = await LoadDriver.RunAsync(name, count, settings.Concurrency, (_, ct) => api.AddAsync(key, null, ct), null, cancellationToken);
        long seen = 0;
        var applied = await LoadDriver.WaitUntilAsync(name, clock, async ct =>
        {
            seen = await api.GetValueAsync(key, ct);
            return seen >= burst.Accepted;
        }, TimeSpan.FromMilliseconds(100), settings.ApplyTimeout, () => $"{seen}/{burst.Accepted}", cancellationToken);
        return new(name, count, burst.Accepted, burst.Unknown, burst.Elapsed, applied, Verdict(burst, applied, seen == burst.Accepted ? 0 : 1, $"GET shows {seen}, {burst.Accepted} accepted"), LoadAverage());
    }

    private async Task<PhaseResult> SpreadAsync(string name, int count, int keys, int concurrency, CancellationToken cancellationToken)
    {
        var prefix = $"{_run}-{name}-";
        var expected = new long[keys];
        var clock = Stopwatch.StartNew();
        var burst = await LoadDriver.RunAsync(name, count, concurrency,
            (i, ct) => api.AddAsync(SpreadKey(prefix, i % keys), null, ct), i => Interlocked.Increment(ref expected[i % keys]), cancellationToken);
        return await VerifyAsync(name, count, prefix, expected, burst, clock, cancellationToken);
    }

    private async Task<PhaseResult> BatchAsync(string name, CancellationToken cancellationToken)
    {
        var prefix = $"{_run}-{name}-";
        var keys = settings.SpreadKeys;
        var items = settings.BatchItems;
        var expected = new long[keys];
        var clock = Stopwatch.StartNew();
        // Batch b holds items b*items .. b*items+items-1, key index (item mod keys): distinct keys while items ≤ keys.
        List<string> Items(int b) => Enumerable.Range(b * items, items).Select(i => SpreadKey(prefix, i % keys)).ToList();
        var burst = await LoadDriver.RunAsync(name, settings.Batches, Math.Min(settings.Concurrency, settings.Batches),
            async (b, ct) =>
            {
                // A 503 engine.timeout means "every signal is stored and will be applied; not every owner replied in
                // time": the batch counts and the read below waits for it. Posting it again (same batchId, the API's way
                // to learn the outcome) would only add work to owners that are behind, so this client does not.
                var outcome = await api.BatchAsync($"{_run}-{name}-{b}", Items(b), ct);
                if (outcome == SendOutcome.Stands)
                {
                    Interlocked.Increment(ref _batchTimeouts);
                    return SendOutcome.Accepted;
                }

                return outcome;
            },
            b => { for (var i = b * items; i < (b + 1) * items; i++) { Interlocked.Increment(ref expected[i % keys]); } },
            cancellationToken);
        var timeouts = Interlocked.Exchange(ref _batchTimeouts, 0);
        var result = await VerifyAsync(name, settings.Batches, prefix, expected, burst, clock, cancellationToken);
        return result with { Operations = (long)settings.Batches * items, Accepted = burst.Accepted * items, OwnerTimeouts = timeouts };
    }

    private async Task<PhaseResult> VerifyAsync(string name, int count, string prefix, long[] expected, Burst burst, Stopwatch clock, CancellationToken cancellationToken)
    {
        var behind = expected.Length;
        var over = 0;
        var applied = await LoadDriver.WaitUntilAsync(name, clock, async ct =>
        {
            var values = await api.ListAsync(prefix, ct);
            behind = 0;
            over = 0;
            for (var k = 0; k < expected.Length; k++)
            {
                var value = values.GetValueOrDefault(SpreadKey(prefix, k));
                behind += value < expected[k] ? 1 : 0;
                over += value > expected[k] ? 1 : 0;
            }

            return behind == 0;
        }, TimeSpan.FromMilliseconds(250), settings.ApplyTimeout, () => $"{behind} of {expected.Length} keys behind", cancellationToken);
        return new(name, count, burst.Accepted, burst.Unknown, burst.Elapsed, applied,
            Verdict(burst, applied, over, $"{over} keys above their expected total, {behind} below"), LoadAverage());
    }

    private string? Verdict(Burst burst, TimeSpan? applied, int over, string detail) =>
        burst.Unknown + burst.NotSent > 0 ? $"{burst.Unknown + burst.NotSent} requests not answered 202 ({string.Join(", ", api.Refusals.Select(r => $"{r.Key}: {r.Value}"))})"
        : applied is null ? $"totals not reached within {settings.ApplyTimeout.TotalSeconds:0} s: {detail}"
        : over > 0 ? $"counted more than was sent: {detail}"
        : null;

    private static string SpreadKey(string prefix, int k) => prefix + k.ToString("D4", CultureInfo.InvariantCulture);

    /// <summary>The machine's 1-minute load average (other processes share the cores).</summary>
    public static double LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return double.NaN;
        }
    }
}
