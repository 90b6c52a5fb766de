namespace FuncMap.Journal;

/// <summary>
/// A place in a journal: segment <paramref name="Sequence"/> (the number in its file name), byte
/// <paramref name="Offset"/> in it (the end of its last durable frame; 64, the header's size, when it has none).
/// Ordered by sequence, then offset: a journal that holds a later position holds every record of an earlier one,
/// unless segments were truncated (older segments only) or the directory is another journal's.
/// </summary>
/// <param name="Sequence">The segment's sequence number (≥ 1; 0 for "no segment").</param>
/// <param name="Offset">Bytes from the start of the segment file.</param>
public readonly record struct JournalPosition(long Sequence, long Offset) : IComparable<JournalPosition>
{
    /// <inheritdoc />
    public int CompareTo(JournalPosition other)
    {
        var bySequence = Sequence.CompareTo(other.Sequence);
        return bySequence != 0 ? bySequence : Offset.CompareTo(other.Offset);
    }

    /// <summary>True when <paramref name="left"/> comes before <paramref name="right"/>.</summary>
    public static bool operator <(JournalPosition left, JournalPosition right) => left.CompareTo(right) < 0;

    /// <summary>True when <paramref name="left"/> comes after <paramref name="right"/>.</summary>
    public static bool operator >(JournalPosition left, JournalPosition right) => left.CompareTo(right) > 0;

    /// <summary>True when <paramref name="left"/> comes before or is <paramref name="right"/>.</summary>
    public static bool operator <=(JournalPosition left, JournalPosition right) => left.CompareTo(right) <= 0;

    /// <summary>True when <paramref name="left"/> comes after or is <paramref name="right"/>.</summary>
    public static bool operator >=(JournalPosition left, JournalPosition right) => left.CompareTo(right) >= 0;

    /// <inheritdoc />
    public override string ToString() => $"segment {Sequence} offset {Offset}";
}
