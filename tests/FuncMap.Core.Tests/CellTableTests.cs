using FuncMap.Engine;

namespace FuncMap.Core.Tests;

public sealed class CellTableTests
{
    [Fact]
    public void Add_ManyKeys_EachFoundWithItsOwnCell()
    {
        var table = new CellTable();
        var cells = Enumerable.Range(0, 50_000).Select(i => table.Add($"key:{i}")).ToArray();

        Assert.Equal(50_000, table.Count);
        for (var i = 0; i < cells.Length; i++)
        {
            Assert.Same(cells[i], table.Find($"key:{i}"));
        }

        Assert.Null(table.Find("key:50000"));
    }

    [Fact]
    public void Remove_Cell_IsNotFoundAndKeyCanBeAddedAgain()
    {
        var table = new CellTable();
        var first = table.Add("a");
        table.Add("b");

        table.Remove(first);

        Assert.Null(table.Find("a"));
        Assert.NotNull(table.Find("b"));
        Assert.Equal(1, table.Count);
        var again = table.Add("a");
        Assert.Same(again, table.Find("a"));
        Assert.Equal(["a", "b"], table.Cells().Select(c => c.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Remove_ManyThenAddMany_KeepsEveryLiveKeyReachable()
    {
        var table = new CellTable();
        var cells = new Dictionary<string, CounterCell>();
        for (var round = 0; round < 20; round++)
        {
            for (var i = 0; i < 1_000; i++)
            {
                var key = $"r{round}:{i}";
                cells[key] = table.Add(key);
            }

            // Remove half of what is live: the Removed markers must not break probing or fill the table.
            foreach (var key in cells.Keys.Where((_, i) => i % 2 == 0).ToList())
            {
                table.Remove(cells[key]);
                cells.Remove(key);
            }
        }

        Assert.Equal(cells.Count, table.Count);
        foreach (var (key, cell) in cells)
        {
            Assert.Same(cell, table.Find(key));
        }
    }

    [Fact]
    public async Task Find_WhileOwnerAddsAndGrows_NeverReturnsAnotherKeysCellAndFindsEveryEarlierKey()
    {
        const int Keys = 200_000;
        var table = new CellTable();
        var added = -1; // index of the last key whose Add returned
        var owner = Task.Run(() =>
        {
            for (var i = 0; i < Keys; i++)
            {
                table.Add($"k{i}");
                Volatile.Write(ref added, i);
            }
        });

        var readers = Enumerable.Range(0, 2).Select(seed => Task.Run(() =>
        {
            var random = new Random(seed);
            var misses = 0;
            while (!owner.IsCompleted)
            {
                var last = Volatile.Read(ref added);
                if (last < 0)
                {
                    continue;
                }

                var i = random.Next(last + 1);
                var cell = table.Find($"k{i}");
                if (cell is null)
                {
                    misses++;
                }
                else
                {
                    Assert.Equal($"k{i}", cell.Key);
                }
            }

            return misses;
        })).ToArray();

        await owner;
        var misses = await Task.WhenAll(readers);
        Assert.All(misses, m => Assert.Equal(0, m));
        Assert.Equal(Keys, table.Count);
    }
}
