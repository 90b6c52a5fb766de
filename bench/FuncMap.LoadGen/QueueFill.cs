using System.Globalization;
using System.Text.Json;
using FuncMap.Storage;
using FuncMap.Validation;

namespace FuncMap.LoadGen;

/// <summary>
/// A deterministic workload of increment batches: batch b has <c>itemsPerBatch</c> items on keys
/// <c>{prefix}{n}</c> (n below <c>keys</c>), deltas 1–9, all drawn from a seeded generator, so the
/// expected totals are known exactly.
/// </summary>
public sealed class QueueFill(int batches, int itemsPerBatch, int keys, string prefix = "load:", int seed = 12345)
{
    /// <summary>Null when every key of the workload is a valid counter key, else why not (the first bad key's rule).</summary>
    public string? Validate()
    {
        // The longest and the shortest generated keys bound the rest: the same prefix, 1 to n digits.
        foreach (var key in new[] { prefix + "0", prefix + (Math.Max(keys, 1) - 1).ToString(CultureInfo.InvariantCulture) })
        {
            if (CounterKey.Validate(key, "--prefix") is { } error)
            {
                return $"--prefix \"{prefix}\" makes keys the service refuses (\"{key}\"): {error.Message}";
            }
        }

        return null;
    }

    /// <summary>
    /// One line for the terminal: what was sent (of how many, how long, whether it stopped early), how many keys, the grand
    /// total, the smallest and largest key total, and where the file is.
    /// </summary>
    public static string Summarize(FillResult result, int planned, TimeSpan elapsed, string path)
    {
        ArgumentNullException.ThrowIfNull(result);
        var sent = string.Create(CultureInfo.InvariantCulture,
            $"Sent {result.Batches} of {planned} batches ({result.Items} items) in {elapsed.TotalSeconds:0.0} s{(result.Stopped ? ", stopped early" : string.Empty)}{(result.Error is { } e ? $", failed: {e.Message.ReplaceLineEndings(" ")}" : string.Empty)}");
        var totals = result.Totals;
        if (totals.Count == 0)
        {
            return $"{sent}; expected totals: no keys; written to {path}.";
        }

        var min = totals.MinBy(static t => t.Value);
        var max = totals.MaxBy(static t => t.Value);
        var sum = totals.Values.Aggregate(Int128.Zero, static (a, v) => a + v);
        return string.Create(CultureInfo.InvariantCulture,
            $"{sent}; expected totals: {totals.Count} keys, sum {sum}, smallest {min.Key} = {min.Value}, largest {max.Key} = {max.Value}; written to {path}.");
    }

    /// <summary>
    /// Sends <paramref name="batches"/> with <paramref name="send"/>, <paramref name="concurrency"/> at a time, and returns
    /// the totals of exactly the batches whose send completed. <paramref name="stop"/> (Ctrl+C) stops starting sends; the
    /// sends in flight are not cancelled but awaited, so that each batch is either counted or not on the queue. A failed
    /// send stops the fill the same way (<see cref="FillResult.Error"/>).
    /// </summary>
    public static async Task<FillResult> SendAsync(IReadOnlyList<FillBatch> batches, Func<string, Task> send, int concurrency, Action? sent, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentNullException.ThrowIfNull(send);
        var totals = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long count = 0, items = 0;
        Exception? error = null;
        var stopped = false;
        try
        {
            await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = stop }, async (batch, _) =>
            {
                await send(batch.Message).ConfigureAwait(false);
                lock (totals)
                {
                    foreach (var (key, delta) in batch.Items)
                    {
                        totals[key] = totals.GetValueOrDefault(key) + delta;
                    }

                    count++;
                    items += batch.Items.Count;
                }

                sent?.Invoke();
            }).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            stopped = true;
        }
        catch (Exception ex)
        {
            error = ex;
        }

        return new FillResult(count, items, totals, stopped, error);
    }

    /// <summary>Every batch in order: its message text and its items.</summary>
    public List<FillBatch> Build(bool base64)
    {
        var random = new Random(seed);
        var batchesBuilt = new List<FillBatch>(batches);
        var run = Guid.NewGuid().ToString("N")[..8];
        for (var b = 0; b < batches; b++)
        {
            var items = new (string Key, long Delta)[itemsPerBatch];
            for (var i = 0; i < itemsPerBatch; i++)
            {
                items[i] = (prefix + random.Next(keys).ToString(CultureInfo.InvariantCulture), random.Next(1, 10));
            }

            var json = JsonSerializer.Serialize(new { batchId = $"{run}-{b}", items = items.Select(static i => new { key = i.Key, delta = i.Delta }) });
            batchesBuilt.Add(new FillBatch(IncrementMessages.Encode(json, base64), items));
        }

        return batchesBuilt;
    }
}

/// <summary>One queue message of a fill: its text and the items it carries.</summary>
public sealed record FillBatch(string Message, IReadOnlyList<(string Key, long Delta)> Items);

/// <summary>What a fill sent: batches and items whose send completed, their totals per key, and how it ended.</summary>
public sealed record FillResult(long Batches, long Items, IReadOnlyDictionary<string, long> Totals, bool Stopped, Exception? Error);

/// <summary>Compares an expected-totals file with the counters the service serves.</summary>
public static class ExpectedTotals
{
    /// <summary>
    /// Reads every key's counter (<c>GET {api}/counters/{key}</c>, 404 = missing) and returns the keys whose value differs
    /// from <paramref name="expected"/>, in key order, with the value found (null when missing).
    /// </summary>
    public static async Task<List<(string Key, long Expected, long? Actual)>> DifferencesAsync(HttpClient client, IReadOnlyDictionary<string, long> expected, int concurrency, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(expected);
        var differing = new System.Collections.Concurrent.ConcurrentBag<(string, long, long?)>();
        await Parallel.ForEachAsync(expected, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (pair, ct) =>
        {
            using var response = await client.GetAsync(new Uri("counters/" + pair.Key, UriKind.Relative), ct).ConfigureAwait(false);
            long? actual = null;
            if (response.StatusCode != System.Net.HttpStatusCode.NotFound)
            {
                response.EnsureSuccessStatusCode();
                using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
                actual = body.RootElement.GetProperty("value").GetInt64();
            }

            if (actual != pair.Value)
            {
                differing.Add((pair.Key, pair.Value, actual));
            }
        }).ConfigureAwait(false);
        return [.. differing.OrderBy(static d => d.Item1, StringComparer.Ordinal)];
    }
}
