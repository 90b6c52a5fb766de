using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace FuncMap.Functions.Accepts;

/// <summary>
/// A timer whose only work is to hand the Durable entity client to the folder (<see cref="EntityClientSource"/>), so
/// that an instance that has served no write since it started still folds what stopped instances left in
/// <c>Accepted</c> (<see cref="AcceptFolder.SweepAsync"/>).
/// </summary>
public sealed class AcceptSweepFunction(EntityClientSource clients)
{
    /// <summary>Every 10 seconds (six-field NCRONTAB).</summary>
    public const string Schedule = "*/10 * * * * *";

    /// <summary>Offers the client; the folder does the rest on its own schedule.</summary>
    [Function("AcceptedSweep")]
    public void Run([TimerTrigger(Schedule)] TimerInfo timer, [DurableClient] DurableTaskClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        clients.Offer(client.Entities);
    }
}
