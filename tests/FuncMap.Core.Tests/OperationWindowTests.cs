using FuncMap.Counters;

namespace FuncMap.Core.Tests;

/// <summary>
/// The window's lookup (a hash per slot, then a string comparison) must answer exactly what a newest-first linear
/// scan of whole ids answers: these pin that, including hash collisions, a wrapped ring, undo and repeated ids.
/// </summary>
public sealed class OperationWindowTests
{
    [Fact]
    public void Match_TwoIdsWithEqualHashes_EachMatchesOnlyItsOwnEntry()
    {
        var (older, newer) = CollidingIds();
        var window = new OperationWindow([older + "\tadd:1", newer + "\tadd:2"]);

        // The newer entry's hash is found first for both: the older id must be found past it, by its own string.
        Assert.Equal(WindowMatch.Same, window.Match(CounterOperation.Add(1, older)));
        Assert.Equal(WindowMatch.Different, window.Match(CounterOperation.Add(2, older)));
        Assert.Equal(WindowMatch.Same, window.Match(CounterOperation.Add(2, newer)));

        var one = new OperationWindow([older + "\tadd:1"]);
        Assert.Equal(WindowMatch.None, one.Match(CounterOperation.Add(1, newer)));
        Assert.False(one.Contains(newer));
    }

    [Fact]
    public void Match_SameIdTwiceInRestoredEntries_TheNewestEntryDecides()
    {
        // A restored state may hold an id twice (snapshot row and journal); a lookup answers from the newest.
        var window = new OperationWindow(["op\tadd:1", "other\tadd:1", "op\tadd:2"]);

        Assert.Equal(WindowMatch.Same, window.Match(CounterOperation.Add(2, "op")));
        Assert.Equal(WindowMatch.Different, window.Match(CounterOperation.Add(1, "op")));
    }

    [Fact]
    public void Match_WrappedRingAndUndo_FindsWhatALinearScanFinds()
    {
        var window = new OperationWindow();
        for (var i = 0; i < OperationWindow.Capacity + 10; i++)
        {
            window.Add($"id{i}\tadd:{i}");
        }

        // The ring wrapped: the oldest ten are gone, both parts of the ring are searched.
        Assert.False(window.Contains("id9"));
        Assert.True(window.Contains("id10"));
        Assert.True(window.Contains("id73"));

        var forgotten = window.Oldest;
        window.Add("fresh\tadd:1");
        Assert.False(window.Contains("id10"));
        window.UndoAdd(forgotten);

        Assert.False(window.Contains("fresh"));
        Assert.Equal(WindowMatch.Same, window.Match(CounterOperation.Add(10, "id10")));
    }

    [Fact]
    public void Match_RandomAddsUndosAndLookups_AgreeWithALinearReference()
    {
        var random = new Random(24);
        var ids = Enumerable.Range(0, 150).Select(i => i % 3 == 0 ? $"batch-{i}" : i % 3 == 1 ? $"b{i}" : $"batch-{i}-x").ToArray();
        var window = new OperationWindow();
        var reference = new List<string>();
        for (var step = 0; step < 20_000; step++)
        {
            var roll = random.Next(10);
            if (roll < 5)
            {
                var entry = ids[random.Next(ids.Length)] + (random.Next(4) == 0 ? string.Empty : $"\tadd:{random.Next(3)}");
                var forgotten = window.Count == OperationWindow.Capacity ? window.Oldest : null;
                window.Add(entry);
                reference.Add(entry);
                if (reference.Count > OperationWindow.Capacity)
                {
                    reference.RemoveAt(0);
                }

                if (random.Next(3) == 0)
                {
                    window.UndoAdd(forgotten);
                    reference.RemoveAt(reference.Count - 1);
                    if (forgotten is not null)
                    {
                        reference.Insert(0, forgotten);
                    }
                }
            }
            else
            {
                var id = ids[random.Next(ids.Length)];
                var operation = CounterOperation.Add(random.Next(3), id);
                Assert.Equal(ReferenceMatch(reference, operation), window.Match(operation));
                Assert.Equal(reference.Any(e => OperationWindow.IdOf(e).SequenceEqual(id)), window.Contains(id));
            }

            Assert.Equal(reference, window.ToArray());
        }
    }

    /// <summary>The window's rule as a newest-first linear scan of whole ids.</summary>
    private static WindowMatch ReferenceMatch(List<string> entries, CounterOperation operation)
    {
        for (var i = entries.Count - 1; i >= 0; i--)
        {
            var entry = entries[i];
            if (OperationWindow.IdOf(entry).SequenceEqual(operation.OperationId))
            {
                return entry.Length == operation.OperationId!.Length || entry == OperationWindow.Entry(operation) ? WindowMatch.Same : WindowMatch.Different;
            }
        }

        return WindowMatch.None;
    }

    /// <summary>Two distinct ids with the same <see cref="OperationWindow.IdHash"/> in this process (a birthday search: about 80,000 ids).</summary>
    private static (string Older, string Newer) CollidingIds()
    {
        var seen = new Dictionary<int, string>();
        for (var i = 0; ; i++)
        {
            var id = $"batch-{i}";
            if (seen.TryGetValue(OperationWindow.IdHash(id), out var other))
            {
                return (other, id);
            }

            seen.Add(OperationWindow.IdHash(id), id);
        }
    }
}
