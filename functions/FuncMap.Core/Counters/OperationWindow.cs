using System.Globalization;

namespace FuncMap.Counters;

/// <summary>How an operation id compares with the window.</summary>
public enum WindowMatch : byte
{
    /// <summary>The id is not in the window: the operation is new.</summary>
    None = 0,

    /// <summary>The id was applied for the same request (same kind and delta): a repeat, answered as a replay.</summary>
    Same = 1,

    /// <summary>The id was applied for a different request: refused (<c>idempotency.mismatch</c>).</summary>
    Different = 2,
}

/// <summary>
/// The most recent operations applied to one counter, oldest first, at most <see cref="Capacity"/> of them:
/// for each, its id and a fingerprint of what it did (kind and delta), as one entry
/// <c>{id}\t{fingerprint}</c> (<see cref="Entry"/>). Ids are printable ASCII, so the tab never occurs in one
/// and the entries keep the persisted shape, a string per operation (the table's newline-separated
/// <c>OperationIds</c>, the journal's operation id field, the entity's state).
/// An operation whose id is in the window is a repeat when its fingerprint is the same, and is refused when it
/// differs (draft-ietf-httpapi-idempotency-key-header: a key reused for another request). An entry written
/// before fingerprints existed (a bare id) matches its id as <see cref="WindowMatch.Same"/>: what that request
/// was is unknown, and answering a repeat as a replay is what such an entry meant when it was written.
/// The bound is by count, not time: a retry arriving after 64 newer operations with ids on the same counter
/// is applied again (documented in the README).
/// </summary>
public sealed class OperationWindow
{
    /// <summary>How many operations are remembered per counter.</summary>
    public const int Capacity = 64;

    /// <summary>Separates the id from the fingerprint inside an entry.</summary>
    public const char Separator = '\t';

    // A ring of entries, oldest at _start; _hashes[i] is the hash of _entries[i]'s id (IdHash), kept in step.
    private string[] _entries;
    private int[] _hashes;
    private int _start;
    private int _count;

    /// <summary>An empty window.</summary>
    public OperationWindow()
    {
        _entries = new string[4];
        _hashes = new int[4];
    }

    /// <summary>A window holding <paramref name="entries"/> (oldest first; only the newest <see cref="Capacity"/> are kept).</summary>
    public OperationWindow(IEnumerable<string>? entries)
        : this()
    {
        if (entries is null)
        {
            return;
        }

        foreach (var entry in entries)
        {
            Add(entry);
        }
    }

    /// <summary>How many operations the window holds.</summary>
    public int Count => _count;

    /// <summary>The fingerprint of what <paramref name="operation"/> does: <c>add:{delta}</c>, <c>reset</c> or <c>delete</c>.</summary>
    public static string Fingerprint(in CounterOperation operation) => operation.Kind switch
    {
        CounterOperationKind.Add => "add:" + operation.Delta.ToString(CultureInfo.InvariantCulture),
        CounterOperationKind.Reset => "reset",
        CounterOperationKind.Delete => "delete",
        _ => throw new ArgumentOutOfRangeException(nameof(operation), operation.Kind, "Unknown operation kind."),
    };

    /// <summary>The entry that remembers <paramref name="operation"/> (which must carry an id).</summary>
    public static string Entry(in CounterOperation operation)
    {
        var id = operation.OperationId ?? throw new ArgumentException("Only operations with an id are remembered.", nameof(operation));
        return id + Separator + Fingerprint(operation);
    }

    /// <summary>The id part of an entry.</summary>
    public static ReadOnlySpan<char> IdOf(string entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var tab = entry.IndexOf(Separator, StringComparison.Ordinal);
        return tab < 0 ? entry : entry.AsSpan(0, tab);
    }

    /// <summary>How <paramref name="operation"/> (which must carry an id) compares with the window.</summary>
    public WindowMatch Match(in CounterOperation operation)
    {
        var id = operation.OperationId ?? throw new ArgumentException("Only operations with an id are matched.", nameof(operation));
        var index = IndexOf(id);
        if (index < 0)
        {
            return WindowMatch.None;
        }

        var entry = _entries[index];
        if (entry.Length == id.Length)
        {
            // A bare id from before fingerprints: taken as the same request (see the type's remarks).
            return WindowMatch.Same;
        }

        return entry.AsSpan(id.Length + 1).SequenceEqual(Fingerprint(operation)) ? WindowMatch.Same : WindowMatch.Different;
    }

    /// <summary>True when an operation with <paramref name="id"/> was applied within the window, whatever it did.</summary>
    public bool Contains(ReadOnlySpan<char> id) => IndexOf(id) >= 0;

    /// <summary>Remembers <paramref name="entry"/> (see <see cref="Entry"/>), forgetting the oldest when the window is full.</summary>
    public void Add(string entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (_count == _entries.Length && _entries.Length < Capacity)
        {
            var grown = new string[Math.Min(Capacity, _entries.Length * 2)];
            var grownHashes = new int[grown.Length];
            for (var i = 0; i < _count; i++)
            {
                var slot = (_start + i) % _entries.Length;
                grown[i] = _entries[slot];
                grownHashes[i] = _hashes[slot];
            }

            (_entries, _hashes) = (grown, grownHashes);
            _start = 0;
        }

        var hash = IdHash(IdOf(entry));
        if (_count == _entries.Length)
        {
            (_entries[_start], _hashes[_start]) = (entry, hash);
            _start = (_start + 1) % _entries.Length;
        }
        else
        {
            var slot = (_start + _count) % _entries.Length;
            (_entries[slot], _hashes[slot]) = (entry, hash);
            _count++;
        }
    }

    /// <summary>The oldest entry, the one the next <see cref="Add"/> forgets when the window is full; null when empty.</summary>
    public string? Oldest => _count == 0 ? null : _entries[_start];

    /// <summary>
    /// Takes back the newest entry and, when that entry had pushed <paramref name="forgotten"/> out (the window was
    /// full: see <see cref="Oldest"/>), remembers it again as the oldest: undoes one <see cref="Add"/> exactly. Used to
    /// roll back operations that were refused after they were applied (a failed group commit).
    /// </summary>
    public void UndoAdd(string? forgotten)
    {
        if (_count == 0)
        {
            throw new InvalidOperationException("The window holds no entry to take back.");
        }

        _entries[(_start + _count - 1) % _entries.Length] = null!;
        _count--;
        if (forgotten is not null)
        {
            _start = (_start - 1 + _entries.Length) % _entries.Length;
            (_entries[_start], _hashes[_start]) = (forgotten, IdHash(IdOf(forgotten)));
            _count++;
        }
    }

    /// <summary>The entries, oldest first.</summary>
    public string[] ToArray()
    {
        var result = new string[_count];
        for (var i = 0; i < _count; i++)
        {
            result[i] = _entries[(_start + i) % _entries.Length];
        }

        return result;
    }

    /// <summary>
    /// The hash the window keeps per entry for its id: <see cref="string.GetHashCode(ReadOnlySpan{char})"/> (ordinal,
    /// randomized per process, so it is never persisted and a client cannot choose colliding ids ahead of time).
    /// </summary>
    internal static int IdHash(ReadOnlySpan<char> id) => string.GetHashCode(id);

    /// <summary>The slot of the newest entry for <paramref name="id"/>, or -1.</summary>
    /// <remarks>
    /// Every add with an id looks its id up in its counter's window (a batch: every key, with the same id), so the
    /// lookup compares the id's hash with the slots' hashes (a vectorized search of at most 64 ints, newest first)
    /// and compares strings only where a hash matches: whole ids, "starts with the id, then ends or has the
    /// separator" (equal to <see cref="IdOf"/>'s id, since ids never contain the separator). A hash collision
    /// costs one string comparison and the search goes on, so the answer is the linear scan's.
    /// </remarks>
    private int IndexOf(ReadOnlySpan<char> id)
    {
        if (_count == 0)
        {
            return -1;
        }

        var hash = IdHash(id);
        var end = _start + _count;
        if (end > _entries.Length)
        {
            // Wrapped: the newer part of the ring is [0, end - length), the older [_start, length).
            var newer = Find(0, end - _entries.Length, hash, id);
            if (newer >= 0)
            {
                return newer;
            }

            end = _entries.Length;
        }

        return Find(_start, end, hash, id);
    }

    /// <summary>The highest slot in [<paramref name="from"/>, <paramref name="to"/>) whose entry is for <paramref name="id"/>, or -1.</summary>
    private int Find(int from, int to, int hash, ReadOnlySpan<char> id)
    {
        var hashes = _hashes.AsSpan(from, to - from);
        while (true)
        {
            var i = hashes.LastIndexOf(hash);
            if (i < 0)
            {
                return -1;
            }

            var entry = _entries[from + i];
            if (entry.Length >= id.Length && (entry.Length == id.Length || entry[id.Length] == Separator)
                && entry.AsSpan().StartsWith(id, StringComparison.Ordinal))
            {
                return from + i;
            }

            hashes = hashes[..i];
        }
    }
}
