using Azure;
using Azure.Storage.Queues;
using FuncMap.Functions.Batches;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FuncMap.Functions.Hosting;

/// <summary>
/// Creates <c>counter-increments</c> and <c>counter-increments-poison</c> at start when the app runs on a
/// connection string (locally, against Azurite): nothing else creates them there, and the queue trigger logs
/// QueueNotFound every poll until something does. In Azure the Bicep template creates both queues and the app
/// connects by identity, so this does nothing there. A failure is logged and does not stop the app.
/// </summary>
public sealed class LocalQueueProvisioner(IConfiguration configuration, ILogger<LocalQueueProvisioner> logger) : IHostedService
{
    /// <summary>The queues the app reads and writes.</summary>
    public static readonly IReadOnlyList<string> QueueNames = [IncrementQueueFunction.QueueName, IncrementQueueFunction.PoisonQueueName];

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var connectionString = configuration[StorageClients.ConnectionName];
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return;
        }

        var service = new QueueServiceClient(connectionString);
        foreach (var name in QueueNames)
        {
            try
            {
                // Null when the queue already existed.
                if (await service.GetQueueClient(name).CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false) is not null)
                {
                    Log.QueueCreated(logger, name);
                }
            }
            catch (RequestFailedException ex)
            {
                Log.QueueCreateFailed(logger, ex, name, ex.ErrorCode);
            }
        }
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
