using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Azure;

namespace FuncMap.Storage;

/// <summary>OData JSON for entities: Int64, DateTime, Guid, Binary and Double carry an "@odata.type" annotation.</summary>
internal static class TableJson
{
    private const string DateFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    public static byte[] Serialize(TableEntity entity)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("PartitionKey", entity.PartitionKey);
            writer.WriteString("RowKey", entity.RowKey);
            foreach (var (name, value) in entity.Properties)
            {
                switch (value)
                {
                    case string s:
                        writer.WriteString(name, s);
                        break;
                    case int i:
                        writer.WriteNumber(name, i);
                        break;
                    case bool b:
                        writer.WriteBoolean(name, b);
                        break;
                    case long l:
                        Typed(writer, name, l.ToString(CultureInfo.InvariantCulture), "Edm.Int64");
                        break;
                    case double d when double.IsFinite(d):
                        writer.WriteNumber(name, d);
                        writer.WriteString(name + "@odata.type", "Edm.Double");
                        break;
                    case double d:
                        Typed(writer, name, double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity", "Edm.Double");
                        break;
                    case DateTimeOffset dto:
                        Typed(writer, name, dto.UtcDateTime.ToString(DateFormat, CultureInfo.InvariantCulture), "Edm.DateTime");
                        break;
                    case Guid g:
                        Typed(writer, name, g.ToString("D"), "Edm.Guid");
                        break;
                    case byte[] bytes:
                        Typed(writer, name, Convert.ToBase64String(bytes), "Edm.Binary");
                        break;
                    default:
                        throw new InvalidOperationException($"Unsupported property type {value.GetType().Name}.");
                }
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads one entity from a minimal-metadata JSON object; <paramref name="etag"/> overrides odata.etag when given.</summary>
    public static TableEntity Deserialize(JsonElement element, string? etag = null)
    {
        var partitionKey = element.TryGetProperty("PartitionKey", out var pk) ? pk.GetString() ?? string.Empty : string.Empty;
        var rowKey = element.TryGetProperty("RowKey", out var rk) ? rk.GetString() ?? string.Empty : string.Empty;
        var entity = new TableEntity(partitionKey, rowKey);
        etag ??= element.TryGetProperty("odata.etag", out var e) ? e.GetString() : null;
        if (etag is not null)
        {
            entity.ETag = new ETag(etag);
        }

        foreach (var property in element.EnumerateObject())
        {
            var name = property.Name;
            if (name is "PartitionKey" or "RowKey" || name.StartsWith("odata.", StringComparison.Ordinal) || name.Contains('@', StringComparison.Ordinal))
            {
                continue;
            }

            var type = element.TryGetProperty(name + "@odata.type", out var t) ? t.GetString() : null;
            var value = ReadValue(property.Value, type);
            if (name == "Timestamp")
            {
                entity.Timestamp = value as DateTimeOffset? ?? (value is string ts ? ParseDate(ts) : null);
                continue;
            }

            if (value is not null)
            {
                entity[name] = value;
            }
        }

        return entity;
    }

    private static void Typed(Utf8JsonWriter writer, string name, string value, string edmType)
    {
        writer.WriteString(name, value);
        writer.WriteString(name + "@odata.type", edmType);
    }

    private static object? ReadValue(JsonElement value, string? edmType)
    {
        switch (edmType)
        {
            case "Edm.Int64":
                return value.ValueKind == JsonValueKind.String
                    ? long.Parse(value.GetString()!, NumberStyles.Integer, CultureInfo.InvariantCulture)
                    : value.GetInt64();
            case "Edm.DateTime":
                return ParseDate(value.GetString()!);
            case "Edm.Guid":
                return Guid.Parse(value.GetString()!);
            case "Edm.Binary":
                return Convert.FromBase64String(value.GetString()!);
            case "Edm.Double":
                return value.ValueKind == JsonValueKind.String
                    ? double.Parse(value.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture)
                    : value.GetDouble();
            case "Edm.Int32":
                return value.GetInt32();
            default:
                break;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number when value.TryGetInt32(out var i) && !value.GetRawText().Contains('.', StringComparison.Ordinal) => i,
            JsonValueKind.Number => value.GetDouble(),
            _ => null,
        };
    }

    private static DateTimeOffset ParseDate(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
