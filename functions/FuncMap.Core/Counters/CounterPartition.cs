using System.Text;

namespace FuncMap.Counters;

/// <summary>
/// The stable placement of a key: FNV-1a (32-bit) over the key's UTF-8 bytes, modulo 64.
/// It names the table partition (<c>"00"</c>–<c>"63"</c>) and, modulo the shard count (a power of
/// two no larger than 64), the engine shard; so a shard's keys always fall in whole partitions.
/// </summary>
public static class CounterPartition
{
    /// <summary>The number of table partitions.</summary>
    public const int Count = 64;

    private const uint FnvOffsetBasis = 2166136261;
    private const uint FnvPrime = 16777619;

    private static readonly string[] Names = Enumerable.Range(0, Count).Select(i => i.ToString("00", System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>FNV-1a 32 of the key's UTF-8 bytes.</summary>
    public static uint Hash(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var hash = FnvOffsetBasis;
        foreach (var c in key)
        {
            if (c < 0x80)
            {
                hash = (hash ^ c) * FnvPrime;
            }
            else
            {
                // Valid keys are ASCII; other text is hashed by its UTF-8 bytes all the same.
                return HashUtf8(key);
            }
        }

        return hash;
    }

    /// <summary>The partition number, 0–63.</summary>
    public static int Of(string key) => (int)(Hash(key) % Count);

    /// <summary>The partition as the table's PartitionKey, <c>"00"</c>–<c>"63"</c>.</summary>
    public static string KeyOf(string key) => Names[Of(key)];

    /// <summary>The PartitionKey of partition <paramref name="partition"/>.</summary>
    public static string Name(int partition) => Names[partition];

    private static uint HashUtf8(string key)
    {
        var hash = FnvOffsetBasis;
        foreach (var b in Encoding.UTF8.GetBytes(key))
        {
            hash = (hash ^ b) * FnvPrime;
        }

        return hash;
    }
}
