using System.Globalization;
using System.Text;
using Azure.Data.Tables;

namespace FuncMap.Storage;

/// <summary>One accepted add: <paramref name="Delta"/> to counter <paramref name="Key"/>.</summary>
/// <param name="Key">A valid counter key (1–90 characters of <c>A–Z a–z 0–9 - _ . :</c>).</param>
/// <param name="Delta">The amount.</param>
public readonly record struct AcceptedItem(string Key, long Delta);

/// <summary>One key's share of a fold: the add numbered <paramref name="Sequence"/> by the fold record's source for <paramref name="Key"/>.</summary>
/// <param name="Key">The counter key.</param>
/// <param name="Sequence">The source's number for this key, contiguous from 1.</param>
/// <param name="Delta">The sum of the folded adds of this key (fits in an Int64).</param>
public readonly record struct FoldEntry(string Key, long Sequence, long Delta);

/// <summary>A fold record: the per-key sums that one folder took out of a partition of <c>Accepted</c>, numbered under <paramref name="Source"/>.</summary>
/// <param name="Source">The sequence source the numbers belong to (the folder's, not necessarily the partition's).</param>
/// <param name="Entries">The numbered sums.</param>
public sealed record FoldRecord(string Source, IReadOnlyList<FoldEntry> Entries);

/// <summary>
/// The schema of table <c>Accepted</c>, where the Functions app keeps adds it has answered 202 until they are folded
/// into their counters' entities. PartitionKey = the accepting process's source id; two kinds of rows:
/// <list type="bullet">
/// <item>accepted rows, RowKey = the process's flush number (19 digits, so ordinal order is write order), column
/// <see cref="Items"/>: one line <c>{key}\t{delta}\n</c> per add (keys never hold a tab or newline);</item>
/// <item>fold records, RowKey <c>~fold-{folder source}-{n}</c> (after every accepted row), column <see cref="Source"/>
/// and <see cref="EntriesPrefix"/>00…14: one line <c>{key}\t{sequence}\t{delta}\n</c> per entry.</item>
/// </list>
/// Limits (Azure Table storage, "Understanding the Table service data model"): a string property holds at most 64 KiB
/// (UTF-16, so <see cref="MaxPropertyChars"/> characters), an entity at most 1 MiB and 252 properties; an entity-group
/// transaction ("Performing entity group transactions") holds at most 100 operations on one PartitionKey and 4 MiB.
/// An accepted row uses one property; a fold record up to <see cref="MaxFoldProperties"/> (960 KiB), which always
/// holds the entries of one accepted row (at most 43 characters per item, ≥ 4 characters per item line).
/// </summary>
public static class AcceptedRows
{
    /// <summary>The table's name.</summary>
    public const string TableName = "Accepted";

    /// <summary>String column of an accepted row: its items.</summary>
    public const string Items = "Items";

    /// <summary>String column of a fold record: the sequence source of its numbers.</summary>
    public const string Source = "Source";

    /// <summary>Prefix of a fold record's string columns (<c>Entries00</c>…).</summary>
    public const string EntriesPrefix = "Entries";

    /// <summary>The characters a string property holds (64 KiB of UTF-16).</summary>
    public const int MaxPropertyChars = 32 * 1024;

    /// <summary>How many entry columns a fold record may use (15 × 64 KiB, under the 1 MiB entity limit).</summary>
    public const int MaxFoldProperties = 15;

    /// <summary>The characters of a fold record's entries: each column keeps room for one line, since lines are not split.</summary>
    public const int MaxFoldChars = MaxFoldProperties * (MaxPropertyChars - 256);

    /// <summary>The most accepted rows one fold deletes: a transaction's 100 operations less the fold record's insert.</summary>
    public const int MaxRowsPerFold = 99;

    /// <summary>The upper bound of one fold entry's line beyond its key: tab, sequence (19 digits), tab, delta (20), newline.</summary>
    public const int FoldLineOverhead = 42;

    /// <summary>RowKey prefix of fold records; <c>~</c> sorts after the digits of accepted rows.</summary>
    public const string FoldPrefix = "~fold-";

    /// <summary>The RowKey of flush <paramref name="flush"/>.</summary>
    public static string RowKeyOf(long flush) => flush.ToString("D19", CultureInfo.InvariantCulture);

    /// <summary>The flush number of an accepted row's RowKey (<see cref="RowKeyOf"/>); null for any other RowKey.</summary>
    public static long? FlushOf(string rowKey) =>
        long.TryParse(rowKey, NumberStyles.None, CultureInfo.InvariantCulture, out var flush) ? flush : null;

    /// <summary>The RowKey of fold record <paramref name="number"/> of the folder whose source is <paramref name="folderSource"/>.</summary>
    public static string FoldRowKeyOf(string folderSource, long number) =>
        FoldPrefix + folderSource + "-" + number.ToString("D19", CultureInfo.InvariantCulture);

    /// <summary>True for a fold record's RowKey.</summary>
    public static bool IsFoldRecord(string rowKey) => rowKey.StartsWith(FoldPrefix, StringComparison.Ordinal);

    /// <summary>The characters <paramref name="item"/> takes in an accepted row.</summary>
    public static int CharsOf(in AcceptedItem item) => item.Key.Length + 2 + DigitsOf(item.Delta);

    /// <summary>An accepted row of <paramref name="items"/> (at most <see cref="MaxPropertyChars"/> characters of them).</summary>
    public static TableEntity ToEntity(string source, long flush, IReadOnlyList<AcceptedItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var text = new StringBuilder();
        foreach (var item in items)
        {
            text.Append(item.Key).Append('\t').Append(item.Delta.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        if (text.Length > MaxPropertyChars)
        {
            throw new ArgumentException($"An accepted row holds at most {MaxPropertyChars} characters of items; these take {text.Length}.", nameof(items));
        }

        return new TableEntity(source, RowKeyOf(flush)) { [Items] = text.ToString() };
    }

    /// <summary>The items of an accepted row; <see cref="InvalidDataException"/> naming the row when it is not one FuncMap wrote.</summary>
    public static List<AcceptedItem> ReadItems(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        var items = new List<AcceptedItem>();
        foreach (var fields in Lines(entity, entity.GetString(Items), 2))
        {
            items.Add(new AcceptedItem(fields[0], ParseLong(entity, fields[1])));
        }

        return items;
    }

    /// <summary>A fold record row in <paramref name="partition"/>.</summary>
    public static TableEntity ToFoldEntity(string partition, string rowKey, FoldRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var entity = new TableEntity(partition, rowKey) { [Source] = record.Source };
        var column = new StringBuilder();
        var index = 0;
        foreach (var entry in record.Entries)
        {
            var line = string.Create(CultureInfo.InvariantCulture, $"{entry.Key}\t{entry.Sequence}\t{entry.Delta}\n");
            if (column.Length + line.Length > MaxPropertyChars)
            {
                entity[EntriesColumn(index++)] = column.ToString();
                column.Clear();
            }

            column.Append(line);
        }

        entity[EntriesColumn(index++)] = column.ToString();
        if (index > MaxFoldProperties)
        {
            throw new ArgumentException($"A fold record holds at most {MaxFoldChars} characters of entries.", nameof(record));
        }

        return entity;
    }

    /// <summary>The fold record in <paramref name="entity"/>; <see cref="InvalidDataException"/> naming the row when it is not one FuncMap wrote.</summary>
    public static FoldRecord ReadFold(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        var source = entity.GetString(Source);
        if (string.IsNullOrEmpty(source))
        {
            throw Invalid(entity, $"column {Source} is missing");
        }

        var entries = new List<FoldEntry>();
        for (var i = 0; entity.GetString(EntriesColumn(i)) is { } column; i++)
        {
            foreach (var fields in Lines(entity, column, 3))
            {
                entries.Add(new FoldEntry(fields[0], ParseLong(entity, fields[1]), ParseLong(entity, fields[2])));
            }
        }

        return new FoldRecord(source, entries);
    }

    private static string EntriesColumn(int index) => EntriesPrefix + index.ToString("D2", CultureInfo.InvariantCulture);

    private static IEnumerable<string[]> Lines(TableEntity entity, string? text, int fieldCount)
    {
        if (text is null)
        {
            throw Invalid(entity, "its text column is missing");
        }

        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split('\t');
            if (fields.Length != fieldCount || fields[0].Length == 0)
            {
                throw Invalid(entity, $"line \"{line}\" does not have {fieldCount} tab-separated fields");
            }

            yield return fields;
        }
    }

    private static long ParseLong(TableEntity entity, string text) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Invalid(entity, $"\"{text}\" is not an Int64");

    private static InvalidDataException Invalid(TableEntity entity, string reason) =>
        new($"Row {entity.PartitionKey}/{entity.RowKey} of table {TableName} is not one FuncMap wrote: {reason}.");

    private static int DigitsOf(long value)
    {
        if (value == long.MinValue)
        {
            return 20;
        }

        var digits = value < 0 ? 2 : 1;
        for (var rest = Math.Abs(value); rest >= 10; rest /= 10)
        {
            digits++;
        }

        return digits;
    }
}
