using System.Globalization;
using FuncMap.Counters;

namespace FuncMap.Testing;

/// <summary>Counter keys chosen by where they land, for tests of per-partition behaviour.</summary>
public static class TestKeys
{
    /// <summary>The first <paramref name="count"/> keys <c>{prefix}{n}</c> (n = 0, 1, …) whose partition is <paramref name="partition"/>.</summary>
    public static List<string> InPartition(string partition, int count, string prefix = "k") =>
        Enumerable.Range(0, int.MaxValue).Select(i => prefix + i.ToString(CultureInfo.InvariantCulture))
            .Where(k => CounterPartition.KeyOf(k) == partition).Take(count).ToList();
}
