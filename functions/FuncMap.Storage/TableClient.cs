using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Azure;
using Azure.Core;

namespace FuncMap.Storage;

/// <summary>Table service REST client for one table (OData JSON, minimal metadata so typed values round-trip).</summary>
internal sealed class TableClient : ITableClient
{
    internal const int MaxBatchSize = 100;
    private const string JsonAccept = "application/json;odata=minimalmetadata";
    private readonly StorageConnection _connection;
    private readonly string _tableUri;

    public TableClient(StorageConnection connection, string name)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (string.IsNullOrEmpty(name) || name.Length is < 3 or > 63 || !char.IsAsciiLetter(name[0]) || !name.All(char.IsAsciiLetterOrDigit))
        {
            throw new ArgumentException("A table name is 3-63 letters or digits, starting with a letter.", nameof(name));
        }

        _connection = connection;
        Name = name;
        _tableUri = connection.TableBase + "/" + name;
    }

    public string Name { get; }

    public async Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["TableName"] = Name });
        using var message = CreateJson(RequestMethod.Post, new Uri(_connection.TableBase + "/Tables"), body);
        message.Request.Headers.SetValue("Prefer", "return-no-content");
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status is 201 or 204)
        {
            return;
        }

        var failure = StorageRequests.Failure(response);
        if (failure.Status == 409 && failure.ErrorCode == "TableAlreadyExists")
        {
            return;
        }

        throw failure;
    }

    public async Task<TableEntity?> GetEntityAsync(string partitionKey, string rowKey, CancellationToken cancellationToken = default)
    {
        using var message = CreateJson(RequestMethod.Get, EntityUri(partitionKey, rowKey), body: null);
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status == 404)
        {
            return null;
        }

        if (response.Status != 200)
        {
            throw StorageRequests.Failure(response);
        }

        using var doc = JsonDocument.Parse(response.Content.ToMemory());
        response.Headers.TryGetValue("ETag", out var etag);
        return TableJson.Deserialize(doc.RootElement, etag);
    }

    public async Task<ETag> AddEntityAsync(TableEntity entity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entity);
        using var message = CreateJson(RequestMethod.Post, new Uri(_tableUri), TableJson.Serialize(entity));
        message.Request.Headers.SetValue("Prefer", "return-no-content");
        return await SendWriteAsync(message, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ETag> UpdateEntityAsync(TableEntity entity, ETag ifMatch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entity);
        using var message = CreateJson(RequestMethod.Put, EntityUri(entity.PartitionKey, entity.RowKey), TableJson.Serialize(entity));
        message.Request.Headers.SetValue("If-Match", ifMatch == default ? "*" : ifMatch.ToString("H"));
        return await SendWriteAsync(message, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ETag> UpsertEntityAsync(TableEntity entity, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entity);
        using var message = CreateJson(RequestMethod.Put, EntityUri(entity.PartitionKey, entity.RowKey), TableJson.Serialize(entity));
        return await SendWriteAsync(message, cancellationToken).ConfigureAwait(false);
    }

    public async Task<bool> DeleteEntityAsync(string partitionKey, string rowKey, ETag ifMatch = default, CancellationToken cancellationToken = default)
    {
        using var message = CreateJson(RequestMethod.Delete, EntityUri(partitionKey, rowKey), body: null);
        message.Request.Headers.SetValue("If-Match", ifMatch == default ? "*" : ifMatch.ToString("H"));
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        return response.Status switch
        {
            204 => true,
            404 => false,
            _ => throw StorageRequests.Failure(response),
        };
    }

    public async Task<TablePage> QueryPageAsync(TableFilter? filter = null, IReadOnlyList<string>? columns = null, int? pageSize = null, TableContinuation? continuation = null, CancellationToken cancellationToken = default)
    {
        if (pageSize is < 1 or > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(pageSize), pageSize, "A page holds 1 to 1000 entities.");
        }

        var query = new List<string>();
        if (filter is not null)
        {
            query.Add("$filter=" + Uri.EscapeDataString(filter.Expression));
        }

        if (columns is { Count: > 0 })
        {
            foreach (var name in columns)
            {
                _ = TableFilter.Property(name); // validates the name
            }

            query.Add("$select=" + Uri.EscapeDataString(string.Join(',', columns)));
        }

        if (pageSize is { } top)
        {
            query.Add("$top=" + top.ToString(CultureInfo.InvariantCulture));
        }

        if (continuation is not null)
        {
            query.Add("NextPartitionKey=" + Uri.EscapeDataString(continuation.NextPartitionKey));
            if (continuation.NextRowKey is not null)
            {
                query.Add("NextRowKey=" + Uri.EscapeDataString(continuation.NextRowKey));
            }
        }

        var uri = _tableUri + "()" + (query.Count > 0 ? "?" + string.Join('&', query) : string.Empty);
        using var message = CreateJson(RequestMethod.Get, new Uri(uri), body: null);
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status != 200)
        {
            throw StorageRequests.Failure(response);
        }

        var entities = new List<TableEntity>();
        using (var doc = JsonDocument.Parse(response.Content.ToMemory()))
        {
            foreach (var item in doc.RootElement.GetProperty("value").EnumerateArray())
            {
                entities.Add(TableJson.Deserialize(item));
            }
        }

        TableContinuation? next = null;
        if (response.Headers.TryGetValue("x-ms-continuation-NextPartitionKey", out var nextPk) && !string.IsNullOrEmpty(nextPk))
        {
            response.Headers.TryGetValue("x-ms-continuation-NextRowKey", out var nextRk);
            next = new TableContinuation(nextPk, string.IsNullOrEmpty(nextRk) ? null : nextRk);
        }

        return new TablePage(entities, next);
    }

    public async IAsyncEnumerable<TablePage> QueryAsync(TableFilter? filter = null, IReadOnlyList<string>? columns = null, int? pageSize = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        TableContinuation? continuation = null;
        do
        {
            var page = await QueryPageAsync(filter, columns, pageSize, continuation, cancellationToken).ConfigureAwait(false);
            yield return page;
            continuation = page.Continuation;
        }
        while (continuation is not null);
    }

    public async Task<TableTransactionResult> SubmitTransactionAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(actions);
        TableBatch.Validate(actions);

        // Indexes into the caller's list of the actions still to submit: a delete that finds no row is dropped and the
        // rest resubmitted (the failed attempt applied nothing, and the row is gone either way).
        var pending = Enumerable.Range(0, actions.Count).ToList();
        var missing = new List<int>();
        while (pending.Count > 0)
        {
            var submitted = pending.Select(i => actions[i]).ToList();
            var (body, contentType) = TableBatch.BuildRequest(_tableUri, submitted);
            using var message = StorageRequests.Create(_connection, StorageService.Table, RequestMethod.Post, new Uri(_connection.TableBase + "/$batch"));
            message.Request.Headers.SetValue("Accept", JsonAccept);
            message.Request.Headers.SetValue("DataServiceVersion", "3.0");
            message.Request.Headers.SetValue("MaxDataServiceVersion", "3.0;NetFx");
            message.Request.Headers.SetValue("Content-Type", contentType);
            message.Request.Content = RequestContent.Create(body);
            var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
            if (response.Status != 202)
            {
                throw StorageRequests.Failure(response);
            }

            response.Headers.TryGetValue("Content-Type", out var responseType);
            var parts = TableBatch.ParseResponse(responseType, response.Content.ToString());
            var failed = parts.FindIndex(p => p.Status >= 300);
            if (failed < 0)
            {
                var etags = new ETag[actions.Count];
                for (var i = 0; i < pending.Count && i < parts.Count; i++)
                {
                    etags[pending[i]] = parts[i].ETag is { } e ? new ETag(e) : default;
                }

                missing.Sort();
                return new TableTransactionResult(etags, missing);
            }

            var error = parts[failed];
            var (code, detail) = StorageRequests.ParseErrorBody(error.Body);
            var index = TableBatch.FailedIndex(detail, error.ContentId) ?? (parts.Count > 1 ? failed : null);
            if (index is { } local && local < pending.Count)
            {
                var original = pending[local];
                var action = actions[original];
                if (error.Status == 404 && action.ActionType == TableTransactionActionType.Delete && (action.ETag == default || action.ETag == ETag.All))
                {
                    missing.Add(original);
                    pending.RemoveAt(local);
                    continue;
                }

                index = original;
            }

            throw new StorageException(error.Status, code, StorageException.Describe(error.Status, code, detail), index);
        }

        missing.Sort();
        return new TableTransactionResult(new ETag[actions.Count], missing);
    }

    internal Uri EntityUri(string partitionKey, string rowKey) => new(_tableUri + TableBatch.KeyPath(partitionKey, rowKey));

    private HttpMessage CreateJson(RequestMethod method, Uri uri, byte[]? body)
    {
        var message = StorageRequests.Create(_connection, StorageService.Table, method, uri);
        message.Request.Headers.SetValue("Accept", JsonAccept);
        message.Request.Headers.SetValue("DataServiceVersion", "3.0");
        if (body is not null)
        {
            message.Request.Headers.SetValue("Content-Type", "application/json");
            message.Request.Content = RequestContent.Create(body);
        }

        return message;
    }

    private async Task<ETag> SendWriteAsync(HttpMessage message, CancellationToken cancellationToken)
    {
        var response = await StorageRequests.SendAsync(_connection, message, cancellationToken).ConfigureAwait(false);
        if (response.Status is not (201 or 204))
        {
            throw StorageRequests.Failure(response);
        }

        return response.Headers.TryGetValue("ETag", out var etag) ? new ETag(etag) : default;
    }
}
