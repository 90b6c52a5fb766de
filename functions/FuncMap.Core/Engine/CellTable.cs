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
/// Memory: one reference and one hash per slot at a load of at most 3/4, against about 56 bytes per entry for a
/// ConcurrentDictionary node and bucket. Hashing is the randomized string hash, so keys chosen to
/// collide cannot degrade probing.
/// </remarks>
internal sealed class CellTable
{
    /// <summary>Marks the slot of a removed cell: probes step over it, inserts may reuse it.</summary>
    private static readonly CounterCell Removed = new(string.Empty);

    // A slot's cell and its key's hash: probes compare hashes and touch a cell only on a match.
    // A hash is written before its cell is published, and read after the cell, so a reader that
    // sees a cell sees its hash (or, if the slot was reused meanwhile, misses a key being changed
    // concurrently, which is a valid outcome of a concurrent read).
    private Table _table;
    private int _count;
    private int _used;

    public CellTable(int capacity = 16)
    {
        _table = new Table((int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 4 / 3 + 1)));
    }

    /// <summary>Live cells, tombstoned counters included.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The cell of <paramref name="key"/>, or null. Any thread.</summary>
    public CounterCell? Find(string key)
    {
        var table = Volatile.Read(ref _table);
        var mask = table.Cells.Length - 1;
        var hash = key.GetHashCode();
        var i = hash & mask;
        while (true)
        {
            var cell = Volatile.Read(ref table.Cells[i]);
            if (cell is null)
            {
                return null;
            }

            // The Removed marker's key is empty, which no valid key is.
            if (table.Hashes[i] == hash && string.Equals(cell.Key, key, StringComparison.Ordinal) && !ReferenceEquals(cell, Removed))
            {
                return cell;
            }

            i = (i + 1) & mask;
        }
    }

    /// <summary>Adds a new cell for <paramref name="key"/>, which must not be present. Owner only.</summary>
    public CounterCell Add(string key)
    {
        if ((_used + 1) * 4 > _table.Cells.Length * 3)
        {
            Grow();
        }

        var cell = new CounterCell(key);
        Insert(_table, cell, key.GetHashCode(), countUsed: true);
        Volatile.Write(ref _count, _count + 1);
        return cell;
    }

    /// <summary>Removes <paramref name="cell"/>. Owner only.</summary>
    public void Remove(CounterCell cell)
    {
        var cells = _table.Cells;
        var mask = cells.Length - 1;
        var i = cell.Key.GetHashCode() & mask;
        while (cells[i] is { } current)
        {
            if (ReferenceEquals(current, cell))
            {
                Volatile.Write(ref cells[i], Removed);
                Volatile.Write(ref _count, _count - 1);
                return;
            }

            i = (i + 1) & mask;
        }
    }

    /// <summary>The live cells at about this moment. Any thread.</summary>
    public IEnumerable<CounterCell> Cells()
    {
        var cells = Volatile.Read(ref _table).Cells;
        for (var i = 0; i < cells.Length; i++)
        {
            var cell = Volatile.Read(ref cells[i]);
            if (cell is not null && !ReferenceEquals(cell, Removed))
            {
                yield return cell;
            }
        }
    }

    private void Insert(Table table, CounterCell cell, int hash, bool countUsed)
    {
        var mask = table.Cells.Length - 1;
        var i = hash & mask;
        while (true)
        {
            var current = table.Cells[i];
            if (current is null || ReferenceEquals(current, Removed))
            {
                if (current is null && countUsed)
                {
                    _used++;
                }

                table.Hashes[i] = hash;
                Volatile.Write(ref table.Cells[i], cell);
                return;
            }

            i = (i + 1) & mask;
        }
    }

    private void Grow()
    {
        // Double when live cells need it; otherwise rebuild at the same size to clear Removed markers.
        var old = _table;
        var size = (_count + 1) * 2 > old.Cells.Length * 3 / 4 ? old.Cells.Length * 2 : old.Cells.Length;
        var grown = new Table(size);
        var live = 0;
        for (var i = 0; i < old.Cells.Length; i++)
        {
            if (old.Cells[i] is { } cell && !ReferenceEquals(cell, Removed))
            {
                Insert(grown, cell, old.Hashes[i], countUsed: false);
                live++;
            }
        }

        _used = live;
        Volatile.Write(ref _table, grown);
    }

    private sealed class Table(int size)
    {
        public readonly CounterCell?[] Cells = new CounterCell?[size];
        public readonly int[] Hashes = new int[size];
    }
}
