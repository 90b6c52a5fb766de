using System.Globalization;

namespace FuncMap.Storage;

/// <summary>
/// An OData $filter built from typed comparisons: every value is rendered as an escaped literal
/// (strings quoted with single quotes doubled), so user input never becomes filter syntax.
/// </summary>
public sealed class TableFilter
{
    private TableFilter(string expression) => Expression = expression;

    /// <summary>The rendered $filter expression.</summary>
    public string Expression { get; }

    public static TableProperty PartitionKey { get; } = new("PartitionKey");

    public static TableProperty RowKey { get; } = new("RowKey");

    public static TableProperty Timestamp { get; } = new("Timestamp");

    /// <summary>A property by name; names are identifiers (letters, digits, underscore), never expressions.</summary>
    public static TableProperty Property(string name) => new(name);

    /// <summary>prefix ≤ property &lt; prefix with its last character incremented; null for an empty prefix.</summary>
    public static TableFilter? StartsWith(TableProperty property, string prefix)
    {
        ArgumentNullException.ThrowIfNull(property);
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length == 0)
        {
            return null;
        }

        var last = prefix[^1];
        if (last == char.MaxValue)
        {
            return property.Ge(prefix);
        }

        return property.Ge(prefix).And(property.Lt(string.Concat(prefix.AsSpan(0, prefix.Length - 1), ((char)(last + 1)).ToString())));
    }

    public TableFilter And(TableFilter other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new TableFilter($"({Expression}) and ({other.Expression})");
    }

    public TableFilter Or(TableFilter other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new TableFilter($"({Expression}) or ({other.Expression})");
    }

    public TableFilter Not() => new($"not ({Expression})");

    public override string ToString() => Expression;

    internal static TableFilter Compare(string property, string op, string literal) => new($"{property} {op} {literal}");

    /// <summary>An OData literal for a string: quoted, with single quotes doubled.</summary>
    internal static string Quote(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    internal static string Literal(object value) => value switch
    {
        string s => Quote(s),
        long l => l.ToString(CultureInfo.InvariantCulture) + "L",
        int i => i.ToString(CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        double d when double.IsFinite(d) => d.ToString("R", CultureInfo.InvariantCulture) is var r && (r.Contains('.', StringComparison.Ordinal) || r.Contains('E', StringComparison.Ordinal)) ? r : r + ".0",
        DateTimeOffset dto => "datetime'" + dto.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture) + "'",
        Guid g => "guid'" + g.ToString("D") + "'",
        _ => throw new ArgumentException($"Cannot use {value.GetType().Name} in a filter.", nameof(value)),
    };
}

/// <summary>A property name to compare in a <see cref="TableFilter"/>.</summary>
public sealed class TableProperty
{
    internal TableProperty(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') || !char.IsAsciiLetter(name[0]) && name[0] != '_')
        {
            throw new ArgumentException("A property name is an identifier: letters, digits and underscore.", nameof(name));
        }

        Name = name;
    }

    public string Name { get; }

    public TableFilter Eq(string value) => Make("eq", value);

    public TableFilter Ne(string value) => Make("ne", value);

    public TableFilter Gt(string value) => Make("gt", value);

    public TableFilter Ge(string value) => Make("ge", value);

    public TableFilter Lt(string value) => Make("lt", value);

    public TableFilter Le(string value) => Make("le", value);

    public TableFilter Eq(long value) => Make("eq", value);

    public TableFilter Ne(long value) => Make("ne", value);

    public TableFilter Gt(long value) => Make("gt", value);

    public TableFilter Ge(long value) => Make("ge", value);

    public TableFilter Lt(long value) => Make("lt", value);

    public TableFilter Le(long value) => Make("le", value);

    public TableFilter Eq(bool value) => Make("eq", value);

    public TableFilter Eq(double value) => Make("eq", value);

    public TableFilter Gt(double value) => Make("gt", value);

    public TableFilter Lt(double value) => Make("lt", value);

    public TableFilter Eq(DateTimeOffset value) => Make("eq", value);

    public TableFilter Gt(DateTimeOffset value) => Make("gt", value);

    public TableFilter Ge(DateTimeOffset value) => Make("ge", value);

    public TableFilter Lt(DateTimeOffset value) => Make("lt", value);

    public TableFilter Le(DateTimeOffset value) => Make("le", value);

    public TableFilter Eq(Guid value) => Make("eq", value);

    private TableFilter Make(string op, object value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return TableFilter.Compare(Name, op, TableFilter.Literal(value));
    }
}
