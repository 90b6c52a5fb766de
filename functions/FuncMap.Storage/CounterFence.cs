using Azure.Data.Tables;

namespace FuncMap.Storage;

/// <summary>
/// The fence row of a Counters partition: PartitionKey = the partition, RowKey <see cref="RowKey"/> (a character no
/// counter key may hold, so it never meets a counter), column <see cref="Epoch"/> = the newest lease epoch that wrote
/// the partition. A fenced writer puts this row, ETag-conditional, into every entity group transaction of the
/// partition: the transaction commits only while the fence is the one the writer last saw (Table storage has no
/// "update if column ≤ x"; an ETag is its only condition, and a transaction is atomic only inside one partition,
/// hence one fence per partition). A newer owner raises every fence before it loads the table, so from then on
/// every transaction of an older owner fails, and the rows it did not write before stay as the newer owner read them.
/// </summary>
public static class CounterFence
{
    /// <summary>The fence row's RowKey: <c>~</c> is outside the counter key charset and sorts after every counter key.</summary>
    public const string RowKey = "~fence";

    /// <summary>Int64 column: the epoch of the newest owner that raised the fence.</summary>
    public const string Epoch = "Epoch";

    /// <summary>True when <paramref name="entity"/> is a fence row (restore skips it: it is no counter).</summary>
    public static bool IsFence(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        return string.Equals(entity.RowKey, RowKey, StringComparison.Ordinal);
    }

    /// <summary>The fence entity of <paramref name="partitionKey"/> at <paramref name="epoch"/>.</summary>
    public static TableEntity Create(string partitionKey, long epoch) => new(partitionKey, RowKey) { [Epoch] = epoch };

    /// <summary>The epoch a fence entity holds (0 when the column is missing).</summary>
    public static long EpochOf(TableEntity entity)
    {
        ArgumentNullException.ThrowIfNull(entity);
        return entity.GetInt64(Epoch) ?? 0;
    }
}

/// <summary>
/// A fenced snapshot write was refused: a newer owner (higher lease epoch) has raised the partition's fence, so this
/// host no longer owns the storage. Not transient: the writer must stop, not retry.
/// </summary>
public sealed class CounterFencedException(string table, string partitionKey, long epoch, long fenceEpoch)
    : InvalidOperationException(
        $"Table {table}, partition {partitionKey}: the fence holds lease epoch {fenceEpoch}, newer than this host's {epoch}; " +
        "another host owns the storage now, and nothing more is written by this one.")
{
    /// <summary>This host's epoch.</summary>
    public long Epoch { get; } = epoch;

    /// <summary>The newer epoch the fence holds.</summary>
    public long FenceEpoch { get; } = fenceEpoch;

    /// <summary>The partition whose fence refused the write.</summary>
    public string PartitionKey { get; } = partitionKey;
}
