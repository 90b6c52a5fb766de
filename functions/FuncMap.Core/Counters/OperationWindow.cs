namespace FuncMap.Counters;

/// <summary>
/// The ids of the most recent operations applied to one counter, oldest first, at most
/// <see cref="Capacity"/> of them. An operation whose id is in the window is a duplicate and is not
/// applied again. The bound is by count, not time: a retry arriving after 64 newer operations with
/// ids on the same counter is applied again (documented in the README).
/// </summary>
public sealed class OperationWindow
{
    /// <summary>How many operation ids are remembered per counter.</summary>
    public const int Capacity = 64;

    private string[] _ids;
    private int _start;
    private int _count;

    /// <summary>An empty window.</summary>
    public OperationWindow()
    {
        _ids = new string[4];
    }

    /// <summary>A window holding <paramref name="ids"/> (oldest first; only the newest <see cref="Capacity"/> are kept).</summary>
    public OperationWindow(IEnumerable<string>? ids)
        : this()
    {
        if (ids is null)
        {
            return;
        }

        foreach (var id in ids)
        {
            Add(id);
        }
    }

    /// <summary>How many ids the window holds.</summary>
    public int Count => _count;

    /// <summary>True when an operation with <paramref name="id"/> was applied within the window.</summary>
    public bool Contains(string id)
    {
        for (var i = 0; i < _count; i++)
        {
            if (string.Equals(_ids[(_start + i) % _ids.Length], id, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Remembers <paramref name="id"/>, forgetting the oldest id when the window is full.</summary>
    public void Add(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (_count == _ids.Length && _ids.Length < Capacity)
        {
            var grown = new string[Math.Min(Capacity, _ids.Length * 2)];
            for (var i = 0; i < _count; i++)
            {
                grown[i] = _ids[(_start + i) % _ids.Length];
            }

            _ids = grown;
            _start = 0;
        }

        if (_count == _ids.Length)
        {
            _ids[_start] = id;
            _start = (_start + 1) % _ids.Length;
        }
        else
        {
            _ids[(_start + _count) % _ids.Length] = id;
            _count++;
        }
    }

    /// <summary>The ids, oldest first.</summary>
    public string[] ToArray()
    {
        var result = new string[_count];
        for (var i = 0; i < _count; i++)
        {
            result[i] = _ids[(_start + i) % _ids.Length];
        }

        return result;
    }
}
