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

    /// <summary>One line for the terminal: how many keys, the grand total, the smallest and largest key total, and where the file is.</summary>
    public static string Summarize(IReadOnlyDictionary<string, long> totals, string path)
    {
        ArgumentNullException.ThrowIfNull(totals);
        if (totals.Count == 0)
        {
            return $"Expected totals: no keys; written to {path}.";
        }

        var min = totals.MinBy(static t => t.Value);
        var max = totals.MaxBy(static t => t.Value);
        var sum = totals.Values.Aggregate(Int128.Zero, static (a, v) => a + v);
        return string.Create(CultureInfo.InvariantCulture,
            $"Expected totals: {totals.Count} keys, sum {sum}, smallest {min.Key} = {min.Value}, largest {max.Key} = {max.Value}; all {totals.Count} written to {path}.");
    }

    /// <summary>Every message text in order and the totals they produce per key.</summary>
    public (List<string> Messages, SortedDictionary<string, long> Totals) Build(bool base64)
    {
        var random = new Random(seed);
        var totals = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var messages = new List<string>(batches);
        var run = Guid.NewGuid().ToString("N")[..8];
        for (var b = 0; b < batches; b++)
        {
            var items = new object[itemsPerBatch];
            for (var i = 0; i < itemsPerBatch; i++)
            {
                var key = prefix + random.Next(keys).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var delta = random.Next(1, 10);
                totals[key] = totals.GetValueOrDefault(key) + delta;
                items[i] = new { key, delta };
            }

            var json = JsonSerializer.Serialize(new { batchId = $"{run}-{b}", items });
            messages.Add(IncrementMessages.Encode(json, base64));
        }

        return (messages, totals);
    }
}
