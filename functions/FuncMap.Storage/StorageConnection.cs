using Azure.Core;
using Azure.Core.Pipeline;

namespace FuncMap.Storage;

/// <summary>
/// One storage account: endpoints plus one shared <see cref="HttpPipeline"/> (retries, logging,
/// Shared Key or bearer-token auth) used by every table and queue client made from it.
/// </summary>
public sealed class StorageConnection
{
    /// <summary>Azurite's well-known development account.</summary>
    public const string DevelopmentAccountName = "devstoreaccount1";

    /// <summary>Azurite's well-known development account key (public, not a secret).</summary>
    public const string DevelopmentAccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>OAuth scope for Azure Storage (tables and queues alike).</summary>
    public const string StorageScope = "https://storage.azure.com/.default";

    private StorageConnection(Uri tableEndpoint, Uri queueEndpoint, HttpPipeline pipeline, string serviceVersion, string? accountName)
    {
        TableEndpoint = tableEndpoint;
        QueueEndpoint = queueEndpoint;
        Pipeline = pipeline;
        ServiceVersion = serviceVersion;
        AccountName = accountName;
    }

    /// <summary>Table service endpoint, e.g. http://127.0.0.1:10002/devstoreaccount1.</summary>
    public Uri TableEndpoint { get; }

    /// <summary>Queue service endpoint, e.g. http://127.0.0.1:10001/devstoreaccount1.</summary>
    public Uri QueueEndpoint { get; }

    /// <summary>Account name when known (Shared Key connections).</summary>
    public string? AccountName { get; }

    internal HttpPipeline Pipeline { get; }

    /// <summary>Table endpoint without a trailing slash, for appending paths.</summary>
    internal string TableBase => TableEndpoint.AbsoluteUri.TrimEnd('/');

    /// <summary>Queue endpoint without a trailing slash, for appending paths.</summary>
    internal string QueueBase => QueueEndpoint.AbsoluteUri.TrimEnd('/');

    internal string ServiceVersion { get; }

    /// <summary>
    /// Parses <c>UseDevelopmentStorage=true</c> or an account connection string
    /// (<c>DefaultEndpointsProtocol</c>, <c>AccountName</c>, <c>AccountKey</c>, <c>EndpointSuffix</c>,
    /// <c>TableEndpoint</c>, <c>QueueEndpoint</c>) and builds a Shared Key connection.
    /// </summary>
    public static StorageConnection FromConnectionString(string connectionString, StorageClientOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var segment in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = segment.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException("Connection string segment without a name: each segment is Name=Value.");
            }

            parts[segment[..eq].Trim()] = segment[(eq + 1)..].Trim();
        }

        if (parts.TryGetValue("UseDevelopmentStorage", out var dev) && bool.TryParse(dev, out var useDev) && useDev)
        {
            var proxy = parts.TryGetValue("DevelopmentStorageProxyUri", out var p) ? new Uri(p) : new Uri("http://127.0.0.1");
            return FromSharedKey(
                new Uri($"{proxy.Scheme}://{proxy.Host}:10002/{DevelopmentAccountName}"),
                new Uri($"{proxy.Scheme}://{proxy.Host}:10001/{DevelopmentAccountName}"),
                DevelopmentAccountName,
                DevelopmentAccountKey,
                options);
        }

        if (!parts.TryGetValue("AccountName", out var account) || !parts.TryGetValue("AccountKey", out var key))
        {
            throw new FormatException("Connection string needs AccountName and AccountKey (or UseDevelopmentStorage=true).");
        }

        var protocol = parts.TryGetValue("DefaultEndpointsProtocol", out var proto) ? proto : "https";
        var suffix = parts.TryGetValue("EndpointSuffix", out var sfx) ? sfx : "core.windows.net";
        var table = parts.TryGetValue("TableEndpoint", out var te) ? new Uri(te) : new Uri($"{protocol}://{account}.table.{suffix}");
        var queue = parts.TryGetValue("QueueEndpoint", out var qe) ? new Uri(qe) : new Uri($"{protocol}://{account}.queue.{suffix}");
        return FromSharedKey(table, queue, account, key, options);
    }

    /// <summary>Shared Key connection to explicit endpoints.</summary>
    public static StorageConnection FromSharedKey(Uri tableEndpoint, Uri queueEndpoint, string accountName, string accountKey, StorageClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tableEndpoint);
        ArgumentNullException.ThrowIfNull(queueEndpoint);
        ArgumentException.ThrowIfNullOrWhiteSpace(accountName);
        ArgumentException.ThrowIfNullOrWhiteSpace(accountKey);
        options ??= new StorageClientOptions();
        var pipeline = HttpPipelineBuilder.Build(options, new SharedKeyPolicy(accountName, accountKey));
        return new StorageConnection(Trim(tableEndpoint), Trim(queueEndpoint), pipeline, options.ServiceVersion, accountName);
    }

    /// <summary>
    /// Identity-based connection (managed identity in production): a bearer token for
    /// <see cref="StorageScope"/> on every request. The endpoints must be https.
    /// </summary>
    public static StorageConnection FromTokenCredential(Uri tableEndpoint, Uri queueEndpoint, TokenCredential credential, StorageClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tableEndpoint);
        ArgumentNullException.ThrowIfNull(queueEndpoint);
        ArgumentNullException.ThrowIfNull(credential);
        options ??= new StorageClientOptions();
        var pipeline = HttpPipelineBuilder.Build(options, new BearerTokenAuthenticationPolicy(credential, StorageScope));
        return new StorageConnection(Trim(tableEndpoint), Trim(queueEndpoint), pipeline, options.ServiceVersion, accountName: null);
    }

    /// <summary>A client for one table of this account.</summary>
    public ITableClient GetTableClient(string tableName) => new TableClient(this, tableName);

    /// <summary>A client for one queue of this account.</summary>
    public IQueueClient GetQueueClient(string queueName) => new QueueClient(this, queueName);

    private static Uri Trim(Uri endpoint) => new(endpoint.AbsoluteUri.TrimEnd('/'));
}
