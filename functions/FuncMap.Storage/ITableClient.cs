using Azure;

namespace FuncMap.Storage;

/// <summary>One table of a storage account.</summary>
public interface ITableClient
{
    string Name { get; }

    /// <summary>Creates the table; an existing table is success.</summary>
    Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Applies up to 100 actions on one partition atomically (entity group transaction). A failure throws
    /// <see cref="StorageException"/> with <see cref="StorageException.FailedOperationIndex"/> and nothing applied.
    /// A <see cref="TableTransactionActionType.Delete"/> with ETag * of a row that does not exist is
    /// treated as done: the batch is resubmitted without it (see <see cref="TableTransactionResult.MissingDeletes"/>).
    /// </summary>
    Task<TableTransactionResult> SubmitTransactionAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken = default);

    /// <summary>One page of a query; pass the previous page's continuation to get the next.</summary>
    Task<TablePage> QueryPageAsync(TableFilter? filter = null, IReadOnlyList<string>? columns = null, int? pageSize = null, TableContinuation? continuation = null, CancellationToken cancellationToken = default);

    /// <summary>All pages of a query, following continuations until the server has no more.</summary>
    IAsyncEnumerable<TablePage> QueryAsync(TableFilter? filter = null, IReadOnlyList<string>? columns = null, int? pageSize = null, CancellationToken cancellationToken = default);

    /// <summary>The entity, or null when it does not exist.</summary>
    Task<TableEntity?> GetEntityAsync(string partitionKey, string rowKey, CancellationToken cancellationToken = default);

    /// <summary>Inserts; an existing row throws <see cref="StorageException"/> 409 EntityAlreadyExists. Returns the new ETag.</summary>
    Task<ETag> AddEntityAsync(TableEntity entity, CancellationToken cancellationToken = default);

    /// <summary>Replaces the row if its ETag still matches (412 UpdateConditionNotSatisfied otherwise). Returns the new ETag.</summary>
    Task<ETag> UpdateEntityAsync(TableEntity entity, ETag ifMatch, CancellationToken cancellationToken = default);

    /// <summary>Inserts or replaces the row. Returns the new ETag.</summary>
    Task<ETag> UpsertEntityAsync(TableEntity entity, CancellationToken cancellationToken = default);

    /// <summary>Deletes the row if the ETag matches (default: any). Returns false when the row did not exist.</summary>
    Task<bool> DeleteEntityAsync(string partitionKey, string rowKey, ETag ifMatch = default, CancellationToken cancellationToken = default);
}

/// <summary>What a transaction action does to its row.</summary>
public enum TableTransactionActionType
{
    /// <summary>Insert; fails with EntityAlreadyExists when the row exists.</summary>
    Add,

    /// <summary>Insert or replace (InsertOrReplace).</summary>
    UpsertReplace,

    /// <summary>Replace if the ETag matches.</summary>
    UpdateReplace,

    /// <summary>Delete if the ETag matches (* when none given).</summary>
    Delete,
}

/// <summary>One operation of an entity group transaction.</summary>
public sealed record TableTransactionAction(TableTransactionActionType ActionType, TableEntity Entity, ETag ETag = default)
{
    public static TableTransactionAction Upsert(TableEntity entity) => new(TableTransactionActionType.UpsertReplace, entity);

    public static TableTransactionAction Add(TableEntity entity) => new(TableTransactionActionType.Add, entity);

    public static TableTransactionAction Update(TableEntity entity, ETag ifMatch) => new(TableTransactionActionType.UpdateReplace, entity, ifMatch);

    public static TableTransactionAction Delete(string partitionKey, string rowKey, ETag ifMatch = default) =>
        new(TableTransactionActionType.Delete, new TableEntity(partitionKey, rowKey), ifMatch);
}

/// <summary>Outcome of a transaction: the ETag per submitted action (default for deletes) and the deletes that found no row.</summary>
public sealed record TableTransactionResult(IReadOnlyList<ETag> ETags, IReadOnlyList<int> MissingDeletes);

/// <summary>Where a query continues: the x-ms-continuation-NextPartitionKey / NextRowKey pair.</summary>
public sealed record TableContinuation(string NextPartitionKey, string? NextRowKey);

/// <summary>One page of query results.</summary>
public sealed record TablePage(IReadOnlyList<TableEntity> Entities, TableContinuation? Continuation);
