namespace FuncMap.Engine;

/// <summary>
/// A shard's index from key to <see cref="CounterCell"/>: open addressing with linear probing over one
/// array of cells (each cell knows its key), written only by the owner loop and read by any thread
/// without locks.
/// </summary>
/// <remarks>
/// Invariants that make lock-free reads safe: a slot goes from null to a fully built cell (published
/// with a release write) and from a cell to the <see cref="Removed"/> marker, never back to null; the
/// array always keeps free (null) slots, so every probe ends; growing builds a new array and publishes
/// it with one release write, leaving the old one intact for readers still probing it (they can only
/// miss keys added after they started, as if they had read a moment earlier).
/// Memory: one reference per slot at a load of at most 3/4, against about 56 bytes per entry for a
/// ConcurrentDictionary node and bucket. Hashing is the randomized string hash, so keys chosen to
/// collide cannot degrade probing.
/// </remarks>
internal sealed class CellTable
{
    /// <summary>Marks the slot of a removed cell: probes step over it, inserts may reuse it.</summary>
    private static readonly CounterCell Removed = new(string.Empty);

    private CounterCell?[] _slots;
    private int _count;
    private int _used;

    public CellTable(int capacity = 16)
    {
        _slots = new CounterCell?[(int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 4 / 3 + 1))];
    }

    /// <summary>Live cells, tombstoned counters included.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The cell of <paramref name="key"/>, or null. Any thread.</summary>
    public CounterCell? Find(string key)
    {
        var slots = Volatile.Read(ref _slots);
        var mask = slots.Length - 1;
        var i = key.GetHashCode() & mask;
        while (true)
        {
            var cell = Volatile.Read(ref slots[i]);
            if (cell is null)
            {
                return null;
            }

            // The Removed marker's key is empty, which no valid key is.
            if (string.Equals(cell.Key, key, StringComparison.Ordinal) && !ReferenceEquals(cell, Removed))
            {
                return cell;
            }

            i = (i + 1) & mask;
        }
    }

    /// <summary>Adds a new cell for <paramref name="key"/>, which must not be present. Owner only.</summary>
    public CounterCell Add(string key)
    {
        if ((_used + 1) * 4 > _slots.Length * 3)
        {
            Grow();
        }

        var cell = new CounterCell(key);
        Insert(_slots, cell, countUsed: true);
        Volatile.Write(ref _count, _count + 1);
        return cell;
    }

    /// <summary>Removes <paramref name="cell"/>. Owner only.</summary>
    public void Remove(CounterCell cell)
    {
        var slots = _slots;
        var mask = slots.Length - 1;
        var i = cell.Key.GetHashCode() & mask;
        while (slots[i] is { } current)
        {
            if (ReferenceEquals(current, cell))
            {
                Volatile.Write(ref slots[i], Removed);
                Volatile.Write(ref _count, _count - 1);
                return;
            }

            i = (i + 1) & mask;
        }
    }

    /// <summary>The live cells at about this moment. Any thread.</summary>
    public IEnumerable<CounterCell> Cells()
    {
        var slots = Volatile.Read(ref _slots);
        for (var i = 0; i < slots.Length; i++)
        {
            var cell = Volatile.Read(ref slots[i]);
            if (cell is not null && !ReferenceEquals(cell, Removed))
            {
                yield return cell;
            }
        }
    }

    private void Insert(CounterCell?[] slots, CounterCell cell, bool countUsed)
    {
        var mask = slots.Length - 1;
        var i = cell.Key.GetHashCode() & mask;
        while (true)
        {
            var current = slots[i];
            if (current is null)
            {
                if (countUsed)
                {
                    _used++;
                }

                Volatile.Write(ref slots[i], cell);
                return;
            }

            if (ReferenceEquals(current, Removed))
            {
                Volatile.Write(ref slots[i], cell);
                return;
            }

            i = (i + 1) & mask;
        }
    }

    private void Grow()
    {
        // Double when live cells need it; otherwise rebuild at the same size to clear Removed markers.
        var size = (_count + 1) * 2 > _slots.Length * 3 / 4 ? _slots.Length * 2 : _slots.Length;
        var grown = new CounterCell?[size];
        var live = 0;
        foreach (var cell in _slots)
        {
            if (cell is not null && !ReferenceEquals(cell, Removed))
            {
                Insert(grown, cell, countUsed: false);
                live++;
            }
        }

        _used = live;
        Volatile.Write(ref _slots, grown);
    }
}
