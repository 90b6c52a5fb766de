using System.Globalization;
using Azure.Data.Tables;
using FuncMap.Storage;
using FuncMap.Testing;

namespace FuncMap.Crash;

/// <summary>
/// One Azurite and one set of table and queue names that several local hosts share (each with its own data
/// directory): the environment of each host, and reads of the lease row and the Counters rows they write.
/// </summary>
public sealed class SharedStorage : IAsyncDisposable
{
    private readonly AzuriteFixture _azurite;
    private readonly string _table = AzuriteFixture.UniqueTableName("twohost");
    private readonly string _leases = AzuriteFixture.UniqueTableName("twohostlease");
    private readonly string _queue = AzuriteFixture.UniqueQueueName("twohost");

    private SharedStorage(AzuriteFixture azurite)
    {
        _azurite = azurite;
        Counters = new TableClient(azurite.ConnectionString, _table);
        Leases = new TableClient(azurite.ConnectionString, _leases);
    }

    /// <summary>The Azurite the hosts share: stopping it (its data kept) is a storage outage.</summary>
    public AzuriteFixture Azurite => _azurite;

    /// <summary>The Counters table the hosts write.</summary>
    public TableClient Counters { get; }

    /// <summary>The lease table.</summary>
    public TableClient Leases { get; }

    /// <summary>Starts an Azurite of its own.</summary>
    public static async Task<SharedStorage> StartAsync()
    {
        var azurite = new AzuriteFixture();
        await azurite.StartAsync();
        return new SharedStorage(azurite);
    }

    /// <summary>
    /// The environment of a host on <paramref name="dataDirectory"/>: Journal mode, this storage, a short lease
    /// (<paramref name="leaseSeconds"/>, margin a third of it) so that takeovers happen in seconds.
    /// </summary>
    public Dictionary<string, string> Environment(string dataDirectory, double leaseSeconds, TimeSpan snapshotInterval) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["FuncMap__Durability__Mode"] = "Journal",
        ["FuncMap__DataDirectory"] = dataDirectory,
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__LogLevel__FuncMap"] = "Information",
        ["FuncMap__Storage__ConnectionString"] = _azurite.ConnectionString,
        ["FuncMap__Storage__TableName"] = _table,
        ["FuncMap__Storage__LeaseTableName"] = _leases,
        ["FuncMap__Storage__QueueName"] = _queue,
        ["FuncMap__Storage__PoisonQueueName"] = _queue + "-poison",
        ["FuncMap__Storage__SnapshotInterval"] = snapshotInterval.ToString("c", CultureInfo.InvariantCulture),
        ["FuncMap__Storage__LeaseDuration"] = TimeSpan.FromSeconds(leaseSeconds).ToString("c", CultureInfo.InvariantCulture),
        ["FuncMap__Storage__LeaseSafetyMargin"] = TimeSpan.FromSeconds(leaseSeconds / 3).ToString("c", CultureInfo.InvariantCulture),
    };

    /// <summary>The lease row (owner, expiry, epoch, clean), or null before the first claim.</summary>
    public async Task<TableEntity?> ReadLeaseAsync()
    {
        var response = await Leases.GetEntityIfExistsAsync<TableEntity>("lease", "counters");
        return response.HasValue ? response.Value : null;
    }

    /// <summary>Waits until the lease row's expiry (by this machine's clock) has passed: nobody renews it any more.</summary>
    public async Task WaitLeaseExpiredAsync(TimeSpan deadline)
    {
        var until = DateTimeOffset.UtcNow + deadline;
        while ((await ReadLeaseAsync())?.GetDateTimeOffset("ExpiresAt") is { } expires && expires >= DateTimeOffset.UtcNow)
        {
            if (DateTimeOffset.UtcNow > until)
            {
                throw new TimeoutException($"The lease did not expire within {deadline} (it expires {expires:O}).");
            }

            // Another process's row: there is nothing to wait on but the row itself.
            await Task.Delay(TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>The Counters rows (fence rows left out) by key: value, version and the epoch that wrote them.</summary>
    public async Task<Dictionary<string, (long Value, long Version, long Epoch)>> ReadRowsAsync()
    {
        var rows = new Dictionary<string, (long, long, long)>(StringComparer.Ordinal);
        await Counters.CreateIfNotExistsAsync();
        await foreach (var entity in Counters.QueryAsync<TableEntity>())
        {
            if (!CounterFence.IsFence(entity))
            {
                var row = CounterRows.FromEntity(entity);
                rows[row.Key] = (row.Value, row.Version, row.Epoch);
            }
        }

        return rows;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync() => await _azurite.DisposeAsync();
}
