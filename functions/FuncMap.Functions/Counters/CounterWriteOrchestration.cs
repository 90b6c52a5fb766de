using System.Security.Cryptography;
using System.Text;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace FuncMap.Functions.Counters;

/// <summary>A write whose caller waits for the result (<c>?wait=true</c>).</summary>
/// <param name="Key">The counter key (validated).</param>
/// <param name="Operation">One of <see cref="CounterOperations.Add"/>, <see cref="CounterOperations.Reset"/>, <see cref="CounterOperations.Delete"/>.</param>
/// <param name="OperationId">The write's operation id.</param>
/// <param name="Delta">The amount for add.</param>
public sealed record CounterWriteRequest(string Key, string Operation, string OperationId, long Delta);

/// <summary>
/// The orchestration behind <c>?wait=true</c>: it calls the owner (<c>CallEntityAsync</c>) and returns
/// the owner's <see cref="CounterOutcome"/>. Its instance id is derived from (key, operation,
/// operation id), so a retried request finds the instance its first attempt started instead of
/// starting a second one. A completed instance id that is reused would start the orchestration
/// again (the runtime overwrites completed instances); that is harmless only because the entity
/// deduplicates the operation id, so the second run answers Duplicate with the current state.
/// </summary>
public static class CounterWriteOrchestration
{
    /// <summary>The orchestrator function's name.</summary>
    public const string Name = "CounterWrite";

    /// <summary>Calls the entity and returns its outcome. Deterministic: no clock, no I/O besides the call.</summary>
    [Function(Name)]
    public static Task<CounterOutcome> RunAsync([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var request = context.GetInput<CounterWriteRequest>()
            ?? throw new InvalidOperationException($"{Name} needs a {nameof(CounterWriteRequest)} input.");
        return context.Entities.CallEntityAsync<CounterOutcome>(
            Counter.IdOf(request.Key), request.Operation, new CounterCommand(request.OperationId, request.Delta));
    }

    /// <summary>
    /// The instance id for <paramref name="request"/>: a hash, because operation ids may contain
    /// characters an instance id may not (<c>/ \ # ?</c>), and must not start with <c>@</c> (entity ids do).
    /// The delta is part of it: a request that reuses an operation id with another delta must reach the
    /// owner (which refuses it, <c>idempotency.mismatch</c>) instead of joining the first request's instance
    /// and reading its answer as its own.
    /// </summary>
    public static string InstanceIdFor(CounterWriteRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var delta = request.Operation == CounterOperations.Add ? request.Delta.ToString(System.Globalization.CultureInfo.InvariantCulture) : string.Empty;
        var identity = Encoding.UTF8.GetBytes($"{request.Key}\n{request.Operation}\n{request.OperationId}\n{delta}");
        return "counter-write-" + Convert.ToHexStringLower(SHA256.HashData(identity));
    }

    /// <summary>
    /// Starts the orchestration for <paramref name="request"/> unless an instance with its id exists,
    /// then waits for it at most <paramref name="timeout"/>. Returns the finished instance (null when it is
    /// still running after the timeout) and whether it was an earlier request's (joined: this one is a repeat).
    /// </summary>
    public static async Task<(OrchestrationMetadata? Instance, bool Joined)> StartOrJoinAsync(
        DurableTaskClient client, CounterWriteRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var instanceId = InstanceIdFor(request);
        var existing = await client.GetInstanceAsync(instanceId, getInputsAndOutputs: true, cancellationToken);
        if (existing is { IsCompleted: true })
        {
            return (existing, true);
        }

        if (existing is null)
        {
            try
            {
                await client.ScheduleNewOrchestrationInstanceAsync(Name, request, new StartOrchestrationOptions(instanceId), cancellationToken);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // A concurrent retry of the same write may have started it first: then join that one.
                if (await client.GetInstanceAsync(instanceId, getInputsAndOutputs: false, cancellationToken) is null)
                {
                    throw;
                }
            }
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            return (await client.WaitForInstanceCompletionAsync(instanceId, getInputsAndOutputs: true, deadline.Token), existing is not null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, existing is not null);
        }
    }
}
