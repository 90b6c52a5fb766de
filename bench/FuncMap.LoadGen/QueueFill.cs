using System.Text.Json;
using FuncMap.Storage;

namespace FuncMap.LoadGen;

/// <summary>
/// A deterministic workload of increment batches: batch b has <c>itemsPerBatch</c> items on keys
/// <c>{prefix}{n}</c> (n below <c>keys</c>), deltas 1–9, all drawn from a seeded generator, so the
/// expected totals are known exactly.
/// </summary>
public sealed class QueueFill(int batches, int itemsPerBatch, int keys, string prefix = "load:", int seed = 12345)
{
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
