using System.Globalization;
using System.Text;

namespace FuncMap.Storage;

/// <summary>Entity group transactions as multipart/mixed $batch: request body and response parsing.</summary>
internal static class TableBatch
{
    /// <summary>A parsed changeset response part.</summary>
    internal sealed record Part(int Status, string? ETag, int? ContentId, string Body);

    public static void Validate(IReadOnlyList<TableTransactionAction> actions)
    {
        if (actions.Count is 0 or > TableClient.MaxBatchSize)
        {
            throw new ArgumentException($"A transaction holds 1 to {TableClient.MaxBatchSize} actions; got {actions.Count}.", nameof(actions));
        }

        var partition = actions[0].Entity.PartitionKey;
        var rows = new HashSet<string>(StringComparer.Ordinal);
        foreach (var action in actions)
        {
            ArgumentNullException.ThrowIfNull(action);
            if (!string.Equals(action.Entity.PartitionKey, partition, StringComparison.Ordinal))
            {
                throw new ArgumentException("All actions of a transaction must share one PartitionKey.", nameof(actions));
            }

            if (!rows.Add(action.Entity.RowKey))
            {
                throw new ArgumentException("A transaction may touch each row only once.", nameof(actions));
            }
        }
    }

    /// <summary>"(PartitionKey='..',RowKey='..')" with quotes doubled and the keys percent-encoded.</summary>
    public static string KeyPath(string partitionKey, string rowKey) =>
        "(PartitionKey='" + EscapeKey(partitionKey) + "',RowKey='" + EscapeKey(rowKey) + "')";

    private static string EscapeKey(string key) => Uri.EscapeDataString(key.Replace("'", "''", StringComparison.Ordinal));

    public static (byte[] Body, string ContentType) BuildRequest(string tableUri, IReadOnlyList<TableTransactionAction> actions)
    {
        var batch = "batch_" + Guid.NewGuid().ToString("D");
        var changeset = "changeset_" + Guid.NewGuid().ToString("D");
        var sb = new StringBuilder();
        sb.Append("--").Append(batch).Append("\r\n");
        sb.Append("Content-Type: multipart/mixed; boundary=").Append(changeset).Append("\r\n\r\n");
        var contentId = 1;
        foreach (var action in actions)
        {
            sb.Append("--").Append(changeset).Append("\r\n");
            sb.Append("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n");
            var entity = action.Entity;
            var (verb, url, withBody) = action.ActionType switch
            {
                TableTransactionActionType.Add => ("POST", tableUri, true),
                TableTransactionActionType.UpsertReplace or TableTransactionActionType.UpdateReplace => ("PUT", tableUri + KeyPath(entity.PartitionKey, entity.RowKey), true),
                TableTransactionActionType.Delete => ("DELETE", tableUri + KeyPath(entity.PartitionKey, entity.RowKey), false),
                _ => throw new ArgumentOutOfRangeException(nameof(actions), action.ActionType, "Unknown action type."),
            };
            sb.Append(verb).Append(' ').Append(url).Append(" HTTP/1.1\r\n");
            sb.Append("Content-ID: ").Append(contentId++.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
            sb.Append("Accept: application/json;odata=minimalmetadata\r\n");
            sb.Append("DataServiceVersion: 3.0\r\n");
            if (action.ActionType is TableTransactionActionType.UpdateReplace or TableTransactionActionType.Delete)
            {
                sb.Append("If-Match: ").Append(action.ETag == default ? "*" : action.ETag.ToString("H")).Append("\r\n");
            }

            if (withBody)
            {
                sb.Append("Content-Type: application/json\r\n");
                if (action.ActionType == TableTransactionActionType.Add)
                {
                    sb.Append("Prefer: return-no-content\r\n");
                }

                sb.Append("\r\n").Append(Encoding.UTF8.GetString(TableJson.Serialize(entity))).Append("\r\n");
            }
            else
            {
                sb.Append("\r\n");
            }
        }

        sb.Append("--").Append(changeset).Append("--\r\n");
        sb.Append("--").Append(batch).Append("--\r\n");
        return (Encoding.UTF8.GetBytes(sb.ToString()), "multipart/mixed; boundary=" + batch);
    }

    /// <summary>Parses the changeset's HTTP responses, in order.</summary>
    public static List<Part> ParseResponse(string? contentType, string body)
    {
        var changeset = Boundary(body) ?? throw new StorageException(202, null, "Batch response without a changeset boundary: " + contentType);
        var parts = new List<Part>();
        foreach (var raw in body.Split("--" + changeset, StringSplitOptions.None).Skip(1))
        {
            if (raw.StartsWith("--", StringComparison.Ordinal))
            {
                break;
            }

            var http = raw.IndexOf("HTTP/1.1 ", StringComparison.Ordinal);
            if (http < 0)
            {
                continue;
            }

            var lines = raw[http..].Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
            var status = int.Parse(lines[0].AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture);
            string? etag = null;
            int? contentId = null;
            var i = 1;
            for (; i < lines.Length && lines[i].Length > 0; i++)
            {
                var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0)
                {
                    continue;
                }

                var name = lines[i][..colon].Trim();
                var value = lines[i][(colon + 1)..].Trim();
                if (name.Equals("ETag", StringComparison.OrdinalIgnoreCase))
                {
                    etag = value;
                }
                else if (name.Equals("Content-ID", StringComparison.OrdinalIgnoreCase) && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                {
                    contentId = id;
                }
            }

            parts.Add(new Part(status, etag, contentId, string.Join('\n', lines.Skip(i + 1)).Trim()));
        }

        return parts;
    }

    /// <summary>The failed operation: the "N:" prefix of the error message (service contract), else Content-ID - 1.</summary>
    public static int? FailedIndex(string? message, int? contentId)
    {
        if (message is not null)
        {
            var colon = message.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && int.TryParse(message.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            {
                return index;
            }
        }

        return contentId is > 0 ? contentId - 1 : null;
    }

    private static string? Boundary(string body)
    {
        const string marker = "boundary=";
        var at = body.IndexOf(marker, StringComparison.OrdinalIgnoreCase);
        if (at < 0)
        {
            return null;
        }

        var start = at + marker.Length;
        var end = start;
        while (end < body.Length && !char.IsWhiteSpace(body[end]) && body[end] != ';')
        {
            end++;
        }

        return body[start..end];
    }
}
