using FuncMap.Batches;
using FuncMap.Validation;

namespace FuncMap.Client;

/// <summary>What <see cref="CounterBuffer.Increment"/> does when the buffer holds <see cref="CounterBufferOptions.Capacity"/> keys and the increment needs a new one.</summary>
public enum CounterBufferFullMode
{
    /// <summary>Block the calling thread until a flush is acknowledged and frees room (an increment of a pending key never waits).</summary>
    Wait,

    /// <summary>Refuse the increment with <see cref="CounterBufferFullException"/> (counted as refused, reason <c>full</c>).</summary>
    Throw,
}

/// <summary>Settings of <see cref="CounterBuffer"/>.</summary>
public sealed class CounterBufferOptions
{
    /// <summary>
    /// The default largest batch: 5,000 items. A batch holds at most 10,000 (<see cref="IncrementBatchParser.MaxItems"/>),
    /// but 10,000 items of the longest keys (90 characters) and deltas take about 1.3 MB, over the hosts' default body limit
    /// (<c>FuncMap:Http:MaxBodyBytes</c>, 1 MiB); 5,000 such items take about 650 KB.
    /// </summary>
    public const int DefaultMaxBatchItems = 5_000;

    /// <summary>How often the pending sums are flushed (default 1 s).</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A flush starts at once when this many distinct keys are pending (default 5,000).</summary>
    public int MaxPendingKeys { get; set; } = DefaultMaxBatchItems;

    /// <summary>The most items per batch (1–10,000; default 5,000): a flush of more keys sends several batches, one after another.</summary>
    public int MaxBatchItems { get; set; } = DefaultMaxBatchItems;

    /// <summary>
    /// The most keys held at once, pending and sent but not yet acknowledged (default 100,000; roughly 100–200 bytes
    /// each): the buffer's memory bound. An increment of a key that is pending always fits; one that needs a new pending
    /// sum (a new key, or a key whose sum is in a batch not yet acknowledged) follows <see cref="FullMode"/> when full.
    /// </summary>
    public int Capacity { get; set; } = 100_000;

    /// <summary>What an increment does when the buffer is full (default <see cref="CounterBufferFullMode.Wait"/>).</summary>
    public CounterBufferFullMode FullMode { get; set; } = CounterBufferFullMode.Wait;

    /// <summary>
    /// How long <see cref="CounterBuffer.DisposeAsync"/> keeps sending what is left (default 30 s); what is still not
    /// acknowledged then is reported as lost (logged, counted as refused with reason <c>unsent</c>).
    /// </summary>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The pause before a batch is sent again after the HTTP pipeline's own retries gave up (default 1 s).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// An optional readable start of the writer id (at most 64 printable ASCII characters, such as the service name).
    /// The writer id is this prefix and a random GUID, new for every buffer, so no two writers or process lifetimes
    /// ever share a batch id.
    /// </summary>
    public string? WriterIdPrefix { get; set; }

    /// <summary>The first rule these settings break, or null when they are valid.</summary>
    public string? Validate()
    {
        if (FlushInterval <= TimeSpan.Zero)
        {
            return "FlushInterval must be positive.";
        }

        if (MaxBatchItems is < 1 or > IncrementBatchParser.MaxItems)
        {
            return $"MaxBatchItems must be between 1 and {IncrementBatchParser.MaxItems} (the server's batch limit).";
        }

        if (MaxPendingKeys < 1 || Capacity < MaxPendingKeys)
        {
            return "MaxPendingKeys must be at least 1 and Capacity at least MaxPendingKeys.";
        }

        if (DisposeTimeout < TimeSpan.Zero || RetryDelay < TimeSpan.Zero)
        {
            return "DisposeTimeout and RetryDelay must not be negative.";
        }

        if (WriterIdPrefix is { Length: > 0 } prefix && (prefix.Length > 64 || OperationId.Validate(prefix, nameof(WriterIdPrefix)) is not null))
        {
            return "WriterIdPrefix is at most 64 printable ASCII characters without leading or trailing spaces.";
        }

        return null;
    }
}

/// <summary>The buffer holds <see cref="CounterBufferOptions.Capacity"/> keys and its <see cref="CounterBufferOptions.FullMode"/> is <see cref="CounterBufferFullMode.Throw"/>.</summary>
public sealed class CounterBufferFullException : Exception
{
    public CounterBufferFullException()
        : base("The counter buffer is full: it holds its capacity of keys that are not yet acknowledged.")
    {
    }

    public CounterBufferFullException(string message)
        : base(message)
    {
    }

    public CounterBufferFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>An increment the server refused or that could not be sent, with why.</summary>
/// <param name="Key">The counter key.</param>
/// <param name="Delta">The summed delta that was not applied.</param>
/// <param name="Increments">How many <see cref="CounterBuffer.Increment"/> calls it sums.</param>
/// <param name="Reason"><c>counter.overflow</c>, <c>idempotency.mismatch</c>, another ProblemDetails rule (or the HTTP status), or <c>unsent</c>.</param>
public sealed record RefusedIncrement(string Key, long Delta, long Increments, string Reason);

/// <summary>What a flush did: what the server acknowledged, what it refused, and what is still not acknowledged.</summary>
/// <param name="Batches">Batches acknowledged.</param>
/// <param name="Increments">Increments (calls) in them.</param>
/// <param name="Refused">Increments the server refused (overflow, mismatch, a 4xx for the whole batch): never applied, not retried.</param>
/// <param name="Unsent">
/// Increments still not acknowledged: after <see cref="CounterBuffer.FlushAsync"/> they stay held and the buffer keeps
/// sending them (same batch id); after <see cref="CounterBuffer.CloseAsync"/> they are given up (they may or may not
/// have been applied: the last attempt got no answer).
/// </param>
/// <param name="LastError">The last failure of a send, when there was one.</param>
public sealed record FlushResult(int Batches, long Increments, IReadOnlyList<RefusedIncrement> Refused, IReadOnlyList<RefusedIncrement> Unsent, Exception? LastError)
{
    /// <summary>True when everything was acknowledged and nothing refused.</summary>
    public bool IsComplete => Refused.Count == 0 && Unsent.Count == 0;
}
