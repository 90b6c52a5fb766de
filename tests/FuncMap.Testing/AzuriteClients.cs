using Azure.Data.Tables;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using FuncMap.Storage;
using Xunit;

namespace FuncMap.Testing;

/// <summary>Azure SDK clients on an <see cref="AzuriteFixture"/>, with the settings both hosts use (<see cref="StorageClientDefaults"/>).</summary>
public static class AzuriteClients
{
    /// <summary>A client of table <paramref name="name"/> (not created).</summary>
    public static TableClient Table(this AzuriteFixture azurite, string name)
    {
        ArgumentNullException.ThrowIfNull(azurite);
        return new TableClient(azurite.ConnectionString, name, StorageClientDefaults.Tables());
    }

    /// <summary>A client of queue <paramref name="name"/> (not created).</summary>
    public static QueueClient Queue(this AzuriteFixture azurite, string name)
    {
        ArgumentNullException.ThrowIfNull(azurite);
        return new QueueClient(azurite.ConnectionString, name, StorageClientDefaults.Queues());
    }

    /// <summary>A new, created table with a unique name.</summary>
    public static async Task<TableClient> NewTableAsync(this AzuriteFixture azurite, string prefix = "t")
    {
        var table = azurite.Table(AzuriteFixture.UniqueTableName(prefix));
        await table.CreateIfNotExistsAsync().ConfigureAwait(false);
        return table;
    }

    /// <summary>A new, created queue with a unique name.</summary>
    public static async Task<QueueClient> NewQueueAsync(this AzuriteFixture azurite, string prefix = "q")
    {
        var queue = azurite.Queue(AzuriteFixture.UniqueQueueName(prefix));
        await queue.CreateIfNotExistsAsync().ConfigureAwait(false);
        return queue;
    }

    /// <summary>Receives the one message the queue holds (invisible to others for five minutes).</summary>
    public static async Task<QueueMessage> ReceiveOneAsync(this QueueClient queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        return Assert.Single((await queue.ReceiveMessagesAsync(1, TimeSpan.FromMinutes(5)).ConfigureAwait(false)).Value);
    }

    /// <summary>Every counter row of a Counters table (fence rows left out), read back as both hosts' restore reads it, by key.</summary>
    public static async Task<Dictionary<string, CounterRow>> ReadCounterRowsAsync(this TableClient table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var rows = new Dictionary<string, CounterRow>(StringComparer.Ordinal);
        await foreach (var entity in table.QueryAsync<TableEntity>().ConfigureAwait(false))
        {
            if (!CounterFence.IsFence(entity))
            {
                rows[entity.RowKey] = CounterRows.FromEntity(entity);
            }
        }

        return rows;
    }

    /// <summary>Writes <paramref name="output"/> to a new queue, as a queue output binding does, and reads the envelope back.</summary>
    public static async Task<PoisonEnvelope> ThroughPoisonQueueAsync(this AzuriteFixture azurite, string output)
    {
        var poison = await azurite.NewQueueAsync("poison").ConfigureAwait(false);
        await poison.SendMessageAsync(output).ConfigureAwait(false);
        return PoisonEnvelope.Parse((await poison.ReceiveOneAsync().ConfigureAwait(false)).Body.ToString())!;
    }
}
