using Azure.Data.Tables;
using Azure.Storage.Queues;
using Microsoft.Extensions.Options;

namespace FuncMap.Local.Storage;

/// <summary>The clients of the tables and queues the host uses, from the one registered table and queue service client.</summary>
public sealed class CounterStorage
{
    /// <summary>The host's tables and queues on <paramref name="tables"/> and <paramref name="queues"/>, named as <paramref name="options"/> say.</summary>
    public CounterStorage(TableServiceClient tables, QueueServiceClient queues, IOptions<StorageOptions> options)
    {
        ArgumentNullException.ThrowIfNull(tables);
        ArgumentNullException.ThrowIfNull(queues);
        ArgumentNullException.ThrowIfNull(options);
        var o = options.Value;
        Counters = tables.GetTableClient(o.TableName);
        Leases = tables.GetTableClient(o.LeaseTableName);
        Queue = queues.GetQueueClient(o.QueueName);
        PoisonQueue = queues.GetQueueClient(o.PoisonQueueName);
    }

    /// <summary>The snapshot table.</summary>
    public TableClient Counters { get; }

    /// <summary>The table of the single-writer lease.</summary>
    public TableClient Leases { get; }

    /// <summary>The increment queue.</summary>
    public QueueClient Queue { get; }

    /// <summary>The poison queue.</summary>
    public QueueClient PoisonQueue { get; }
}
