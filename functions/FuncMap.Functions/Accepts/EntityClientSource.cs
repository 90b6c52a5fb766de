using Microsoft.DurableTask.Client.Entities;

namespace FuncMap.Functions.Accepts;

/// <summary>
/// Hands the Durable entity client to <see cref="AcceptFolder"/>, which runs outside any function invocation. In the
/// isolated worker a client exists only as a function's <c>[DurableClient]</c> binding; the binding is a per-invocation
/// wrapper around a client the extension creates once per task hub and gRPC endpoint and keeps for the life of the
/// worker (<c>FunctionsDurableClientProvider</c>), and its <c>Entities</c> is that long-lived client's. Every function
/// that binds one offers it here (the HTTP writes, and <see cref="AcceptSweepFunction"/> on a timer, so that a
/// restarted instance without traffic still sweeps).
/// </summary>
public sealed class EntityClientSource
{
    private readonly TaskCompletionSource<DurableEntityClient> _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DurableEntityClient? _current;

    /// <summary>Offers <paramref name="entities"/>; the first one offered is kept.</summary>
    public void Offer(DurableEntityClient entities)
    {
        ArgumentNullException.ThrowIfNull(entities);
        if (Interlocked.CompareExchange(ref _current, entities, null) is null)
        {
            _first.TrySetResult(entities);
        }
    }

    /// <summary>The client, once a function has offered one.</summary>
    public Task<DurableEntityClient> GetAsync(CancellationToken cancellationToken) => _first.Task.WaitAsync(cancellationToken);
}
