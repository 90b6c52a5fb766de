using System.Diagnostics;
using System.Globalization;

namespace FuncMap.LoadGen.Functions;

/// <summary>
/// Adds (no wait, no Idempotency-Key: the app's fast path) on one hot key and over spread keys for a fixed time,
/// across whatever happens to the host meanwhile (a restart, a kill), then compares every key's total with what
/// the client knows: <c>acked</c> adds were answered 202 and must each count exactly once; <c>unknown</c> ones were
/// sent but got no 2xx (a reset, a 5xx, a timeout) and may or may not count. A refused connection proves the
/// request never arrived, so that one add is sent again after a pause (it is not counted twice: it never arrived).
/// An unknown add is never sent again: without an Idempotency-Key a second send would be a second add.
/// </summary>
public sealed class RestartLoad(FunctionsApi api, int concurrency, int spreadKeys, TimeSpan duration, TimeSpan settle, TimeSpan timeout, string? keysOut = null)
{
    private readonly string _prefix = "rs" + DateTime.UtcNow.ToString("MMddHHmmss", CultureInfo.InvariantCulture) + "-";

    /// <summary>
    /// Runs the load and the check; returns 0 when no acked add is lost and no key exceeds acked + unknown (and, with
    /// <paramref name="exact"/>, every key's total is exactly its acked adds: no unknown add counted).
    /// </summary>
    public async Task<int> RunAsync(bool exact, CancellationToken cancellationToken)
    {
        var keys = new[] { _prefix + "hot" }.Concat(Enumerable.Range(0, spreadKeys).Select(k => _prefix + "s" + k.ToString("D4", CultureInfo.InvariantCulture))).ToArray();
        var acked = new long[keys.Length];
        var unknown = new long[keys.Length];
        long next = -1, notSent = 0;
        var clock = Stopwatch.StartNew();
        var gaps = new List<(double From, double To)>();
        var gapLock = new object();
        Console.Error.WriteLine($"restart load {_prefix}*: {concurrency} callers, {duration.TotalSeconds:0} s, hot key + {spreadKeys} keys");
        var callers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < duration)
            {
                // Every second add goes to the hot key, the others round the spread keys.
                var i = Interlocked.Increment(ref next);
                var k = i % 2 == 0 ? 0 : 1 + (int)(i / 2 % spreadKeys);
                while (true)
                {
                    var outcome = await api.AddAsync(keys[k], null, cancellationToken);
                    if (outcome == SendOutcome.Accepted)
                    {
                        Interlocked.Increment(ref acked[k]);
                        break;
                    }

                    if (outcome == SendOutcome.Unknown)
                    {
                        Interlocked.Increment(ref unknown[k]);
                        await Task.Delay(200, cancellationToken); // a failing host: do not spin
                        break;
                    }

                    Interlocked.Increment(ref notSent);
                    var at = clock.Elapsed.TotalSeconds;
                    lock (gapLock)
                    {
                        if (gaps.Count == 0 || at - gaps[^1].To > 1)
                        {
                            gaps.Add((at, at));
                        }
                        else
                        {
                            gaps[^1] = (gaps[^1].From, at);
                        }
                    }

                    if (clock.Elapsed > duration + timeout)
                    {
                        break; // the host never came back: this add was not sent, so it is simply not part of the load
                    }

                    await Task.Delay(200, cancellationToken);
                }
            }
        }, cancellationToken)).ToArray();
        var progress = Task.Run(async () =>
        {
            while (!callers.All(c => c.IsCompleted))
            {
                await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  [restart] {clock.Elapsed.TotalSeconds:0} s: acked {acked.Sum()}, unknown {unknown.Sum()}, refused connections {Interlocked.Read(ref notSent)}"));
            }
        }, cancellationToken);
        await Task.WhenAll(callers);
        var sendTime = clock.Elapsed;
        long totalAcked = acked.Sum(), totalUnknown = unknown.Sum();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"load done after {sendTime.TotalSeconds:0.0} s: acked {totalAcked}, unknown {totalUnknown}, refused connections (resent) {notSent}; connection-refused periods: {string.Join(", ", gaps.Select(g => $"{g.From:0.0}–{g.To:0.0} s"))}"));

        // Wait until every key shows at least its acked adds (none lost), then, while some adds are unknown,
        // until the totals have not moved for `settle` (the rest of them applied or never will be).
        Dictionary<string, long> values = [];
        var lastChange = Stopwatch.StartNew();
        string? lastSnapshot = null;
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                values = await api.ListAsync(_prefix, cancellationToken);
            }
            catch (HttpRequestException ex)
            {
                Console.Error.WriteLine($"  [restart] list failed ({ex.HttpRequestError}); reading again");
                await Task.Delay(1000, cancellationToken);
                continue;
            }

            var snapshot = string.Join(",", keys.Select(k => values.GetValueOrDefault(k)));
            if (snapshot != lastSnapshot)
            {
                lastSnapshot = snapshot;
                lastChange.Restart();
            }

            var behind = keys.Where((k, i) => values.GetValueOrDefault(k) < acked[i]).Count();
            if (behind == 0 && (totalUnknown == 0 || lastChange.Elapsed >= settle))
            {
                break;
            }

            if (waited.Elapsed > timeout)
            {
                Console.Error.WriteLine($"  [restart] gave up waiting after {timeout.TotalSeconds:0} s: {behind} keys below their acked adds");
                break;
            }

            await Task.Delay(500, cancellationToken);
        }

        long total = 0, lostAcked = 0, extra = 0, exactKeys = 0;
        for (var i = 0; i < keys.Length; i++)
        {
            var value = values.GetValueOrDefault(keys[i]);
            total += value;
            lostAcked += Math.Max(0, acked[i] - value);
            extra += Math.Max(0, value - acked[i] - unknown[i]);
            exactKeys += value == acked[i] ? 1 : 0;
        }

        var applied = total - (totalAcked - lostAcked);
        // Exact: every acked add counted once and nothing else, so no unknown add counted either (a graceful stop answers
        // what it applied; the connections it closed unanswered carried requests it never ran).
        var ok = lostAcked == 0 && extra == 0 && (!exact || total == totalAcked);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT {(ok ? "PASS" : "FAIL")}: keys {keys.Length} (hot {acked[0]} acked / {unknown[0]} unknown / total {values.GetValueOrDefault(keys[0])}); "
            + $"acked {totalAcked}, unknown {totalUnknown}, total read {total}; acked lost {lostAcked}; above acked+unknown {extra}; "
            + $"unknown that counted {Math.Max(0, applied)}; keys exactly = acked {exactKeys}/{keys.Length}; "
            + $"refused connections resent {notSent}; load {sendTime.TotalSeconds:0} s, check after {waited.Elapsed.TotalSeconds:0} s more"));
        Console.WriteLine("refusals: " + string.Join(", ", api.Refusals.Select(r => $"{r.Key}: {r.Value}")));
        var below = keys.Select((k, i) => (Key: k, Missing: acked[i] - values.GetValueOrDefault(k))).Where(x => x.Missing > 0).ToList();
        if (below.Count > 0)
        {
            Console.WriteLine($"keys below their acked adds ({below.Count}): " + string.Join(", ", below.Take(20).Select(x => $"{x.Key} −{x.Missing}")) + (below.Count > 20 ? ", …" : ""));
        }

        if (keysOut is not null)
        {
            // One JSON object per key, for a comparison with what the app logged (a released gap names its key).
            await File.WriteAllLinesAsync(keysOut, keys.Select((k, i) => System.Text.Json.JsonSerializer.Serialize(new { key = k, acked = acked[i], unknown = unknown[i], total = values.GetValueOrDefault(k) })), cancellationToken);
        }

        await progress;
        return ok ? 0 : 1;
    }
}
