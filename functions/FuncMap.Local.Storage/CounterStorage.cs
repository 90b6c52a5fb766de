using Azure.Identity;
using FuncMap.Storage;
using Microsoft.Extensions.Options;

namespace FuncMap.Local.Storage;

/// <summary>One storage connection (one HTTP pipeline) and the clients of the tables and queues the host uses.</summary>
public sealed class CounterStorage
{
    /// <summary>Connects as <paramref name="options"/> say: a connection string, or endpoints with <c>DefaultAzureCredential</c>.</summary>
    public CounterStorage(IOptions<StorageOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var o = options.Value;
        o.Validate();
        var connection = o.UsesIdentity
            ? StorageConnection.FromTokenCredential(o.TableServiceUri!, o.QueueServiceUri!, new DefaultAzureCredential(new DefaultAzureCredentialOptions
            {
                ManagedIdentityClientId = string.IsNullOrWhiteSpace(o.ManagedIdentityClientId) ? null : o.ManagedIdentityClientId,
            }))
            : StorageConnection.FromConnectionString(o.ConnectionString);
        Counters = connection.GetTableClient(o.TableName);
        Leases = connection.GetTableClient(o.LeaseTableName);
        Queue = connection.GetQueueClient(o.QueueName);
        PoisonQueue = connection.GetQueueClient(o.PoisonQueueName);
    }

    /// <summary>The snapshot table.</summary>
    public ITableClient Counters { get; }

    /// <summary>The table of the single-writer lease.</summary>
    public ITableClient Leases { get; }

    /// <summary>The increment queue.</summary>
    public IQueueClient Queue { get; }

    /// <summary>The poison queue.</summary>
    public IQueueClient PoisonQueue { get; }
}
