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

    private string[] _entries;
    private int _start;
    private int _count;

    /// <summary>An empty window.</summary>
    public OperationWindow()
    {
        _entries = new string[4];
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
            for (var i = 0; i < _count; i++)
            {
                grown[i] = _entries[(_start + i) % _entries.Length];
            }

            _entries = grown;
            _start = 0;
        }

        if (_count == _entries.Length)
        {
            _entries[_start] = entry;
            _start = (_start + 1) % _entries.Length;
        }
        else
        {
            _entries[(_start + _count) % _entries.Length] = entry;
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
            _entries[_start] = forgotten;
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

    /// <summary>The slot of the newest entry for <paramref name="id"/>, or -1.</summary>
    /// <remarks>
    /// Every add with an id scans the whole window of its counter (a batch: every key), so an entry is compared in
    /// place, as "starts with the id, then ends or has the separator" (equal to <see cref="IdOf"/>'s id, since ids
    /// never contain the separator), not by searching each entry for its separator first. The id's last character
    /// is compared first: ids of one client usually share a long prefix and differ at the end (a sequence number).
    /// </remarks>
    private int IndexOf(ReadOnlySpan<char> id)
    {
        var last = id.Length - 1;
        for (var i = _count - 1; i >= 0; i--)
        {
            var slot = (_start + i) % _entries.Length;
            var entry = _entries[slot];
            if ((last < 0 || (entry.Length > last && entry[last] == id[last])) && (entry.Length == id.Length || entry[id.Length] == Separator)
                && entry.AsSpan().StartsWith(id, StringComparison.Ordinal))
            {
                return slot;
            }
        }

        return -1;
    }
}
