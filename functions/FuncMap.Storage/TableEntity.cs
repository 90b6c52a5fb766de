using System.Globalization;
using Azure;

namespace FuncMap.Storage;

/// <summary>
/// A table row: keys, ETag, Timestamp and typed properties (string, long as Edm.Int64, int, bool, double,
/// DateTimeOffset as Edm.DateTime, Guid, byte[] as Edm.Binary).
/// </summary>
public sealed class TableEntity
{
    private readonly Dictionary<string, object> _properties = new(StringComparer.Ordinal);

    public TableEntity(string partitionKey, string rowKey)
    {
        ArgumentNullException.ThrowIfNull(partitionKey);
        ArgumentNullException.ThrowIfNull(rowKey);
        PartitionKey = partitionKey;
        RowKey = rowKey;
    }

    public string PartitionKey { get; }

    public string RowKey { get; }

    /// <summary>The row's ETag as last read or written; default when unknown.</summary>
    public ETag ETag { get; set; }

    /// <summary>Server-maintained modification time; null on entities that were never read back.</summary>
    public DateTimeOffset? Timestamp { get; set; }

    public IReadOnlyDictionary<string, object> Properties => _properties;

    /// <summary>Gets or sets a property; setting null removes it. Only the supported types are accepted.</summary>
    public object? this[string name]
    {
        get => _properties.TryGetValue(name, out var value) ? value : null;
        set
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
            if (name is "PartitionKey" or "RowKey" or "Timestamp" || name.StartsWith("odata.", StringComparison.Ordinal))
            {
                throw new ArgumentException($"'{name}' is a system property.", nameof(name));
            }

            if (value is null)
            {
                _properties.Remove(name);
                return;
            }

            _properties[name] = value switch
            {
                string or long or int or bool or double or Guid or byte[] => value,
                DateTimeOffset dto => dto.ToUniversalTime(),
                DateTime dt => new DateTimeOffset(dt.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(dt, DateTimeKind.Utc) : dt.ToUniversalTime()),
                _ => throw new ArgumentException($"Type {value.GetType().Name} is not a supported table property type.", nameof(value)),
            };
        }
    }

    public string? GetString(string name) => this[name] as string;

    /// <summary>The property as Int64; an Int32 (how small numbers may come back untyped) widens.</summary>
    public long? GetInt64(string name) => this[name] switch
    {
        long l => l,
        int i => i,
        null => null,
        var other => throw TypeMismatch(name, other, "Int64"),
    };

    public int? GetInt32(string name) => this[name] switch
    {
        int i => i,
        long l => checked((int)l),
        null => null,
        var other => throw TypeMismatch(name, other, "Int32"),
    };

    public bool? GetBoolean(string name) => this[name] switch
    {
        bool b => b,
        null => null,
        var other => throw TypeMismatch(name, other, "Boolean"),
    };

    public double? GetDouble(string name) => this[name] switch
    {
        double d => d,
        int i => i,
        long l => l,
        null => null,
        var other => throw TypeMismatch(name, other, "Double"),
    };

    public DateTimeOffset? GetDateTimeOffset(string name) => this[name] switch
    {
        DateTimeOffset d => d,
        null => null,
        var other => throw TypeMismatch(name, other, "DateTimeOffset"),
    };

    public Guid? GetGuid(string name) => this[name] switch
    {
        Guid g => g,
        null => null,
        var other => throw TypeMismatch(name, other, "Guid"),
    };

    public byte[]? GetBinary(string name) => this[name] switch
    {
        byte[] b => b,
        null => null,
        var other => throw TypeMismatch(name, other, "Binary"),
    };

    private static InvalidCastException TypeMismatch(string name, object value, string wanted) =>
        new(string.Create(CultureInfo.InvariantCulture, $"Property '{name}' is {value.GetType().Name}, not {wanted}."));
}
