using Azure.Core;
using Azure.Data.Tables;
using Azure.Identity;
using FuncMap.Storage;
using Microsoft.Extensions.Configuration;

namespace FuncMap.Functions.Hosting;

/// <summary>
/// Builds the snapshot's <see cref="TableServiceClient"/> from the same connection the Functions
/// runtime uses (<c>AzureWebJobsStorage</c>): a connection string locally
/// (<c>UseDevelopmentStorage=true</c> for Azurite), identity-based settings in Azure
/// (<c>AzureWebJobsStorage__tableServiceUri</c> or <c>__accountName</c>, <c>__credential=managedidentity</c>,
/// <c>__clientId</c>), so no account key is ever needed.
/// </summary>
public static class StorageClients
{
    /// <summary>The connection name shared with the runtime.</summary>
    public const string ConnectionName = "AzureWebJobsStorage";

    /// <summary>Creates the client for <paramref name="connectionName"/>.</summary>
    public static TableServiceClient CreateTableServiceClient(IConfiguration configuration, string connectionName = ConnectionName)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var connectionString = configuration[connectionName];
        if (!string.IsNullOrWhiteSpace(connectionString))
        {
            return new TableServiceClient(connectionString, StorageClientDefaults.Tables());
        }

        var section = configuration.GetSection(connectionName);
        var endpoint = section["tableServiceUri"] is { Length: > 0 } uri
            ? new Uri(uri)
            : section["accountName"] is { Length: > 0 } account
                ? new Uri($"https://{account}.table.core.windows.net")
                : throw new InvalidOperationException(
                    $"No storage connection: set {connectionName} to a connection string, or {connectionName}__tableServiceUri (or __accountName) for an identity-based connection.");

        return new TableServiceClient(endpoint, CreateCredential(section), StorageClientDefaults.Tables());
    }

    private static TokenCredential CreateCredential(IConfigurationSection section)
    {
        if (string.Equals(section["credential"], "managedidentity", StringComparison.OrdinalIgnoreCase))
        {
            return section["clientId"] is { Length: > 0 } clientId
                ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId))
                : new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned);
        }

        // A developer signed in with az / azd / Visual Studio against a real account.
        return new DefaultAzureCredential();
    }
}
