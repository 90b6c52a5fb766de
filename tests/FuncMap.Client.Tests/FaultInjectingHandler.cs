using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace FuncMap.Client.Tests;

/// <summary>The faults <see cref="FaultInjectingHandler"/> injects into one attempt.</summary>
public enum Fault
{
    /// <summary>Pass the attempt through.</summary>
    None,

    /// <summary>(a) The server applies the request; its answer is dropped (the caller sees a lost connection).</summary>
    DropResponseAfterApplied,

    /// <summary>(b) The connection is torn down half way through sending the body: the server sees a reset mid-request.</summary>
    ResetMidRequest,

    /// <summary>(c) The server applies the request; the caller gets 503 with <c>Retry-After: 1</c> instead of its answer.</summary>
    ServiceUnavailableAfterApplied,

    /// <summary>(d) The server applies the request; its answer comes later than the attempt timeout.</summary>
    AnswerAfterAttemptTimeout,
}

/// <summary>
/// Injects faults into attempts: placed below the resilience handler, so every retry passes through it with the same
/// request message. Its choice function decides per attempt (attempt 1, 2, …, counted on the message); every injected
/// fault is counted.
/// </summary>
public sealed class FaultInjectingHandler(Func<HttpRequestMessage, string?, int, Fault> choose) : DelegatingHandler
{
    private static readonly HttpRequestOptionsKey<int> Attempt = new("FuncMap.Client.Tests.Attempt");
    private readonly ConcurrentDictionary<Fault, int> _injected = new();
    private readonly ConcurrentQueue<(string? IdempotencyKey, long Timestamp)> _attempts = new();

    /// <summary>A handler that injects the faults in turn on the first two attempts of a call, by a hash of the call's id.</summary>
    public static FaultInjectingHandler Mixed() => new(static (request, id, attempt) =>
    {
        if (attempt > 2 || request.Method == HttpMethod.Get)
        {
            return Fault.None;
        }

        // A stable pseudo-random choice per call and attempt: 40% pass, 15% each fault.
        var roll = (int)((uint)StringComparer.Ordinal.GetHashCode((id ?? string.Empty) + attempt) % 20);
        return roll switch
        {
            < 8 => Fault.None,
            < 11 => Fault.DropResponseAfterApplied,
            < 14 => Fault.ResetMidRequest,
            < 17 => Fault.ServiceUnavailableAfterApplied,
            _ => Fault.AnswerAfterAttemptTimeout,
        };
    });

    /// <summary>How many times each fault was injected.</summary>
    public int Injected(Fault fault) => _injected.TryGetValue(fault, out var n) ? n : 0;

    /// <summary>Every attempt that passed, in order: its <c>Idempotency-Key</c> (or batch id) and when it started.</summary>
    public IReadOnlyCollection<(string? IdempotencyKey, long Timestamp)> Attempts => _attempts;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var attempt = request.Options.TryGetValue(Attempt, out var previous) ? previous + 1 : 1;
        request.Options.Set(Attempt, attempt);
        var id = await IdOfAsync(request, cancellationToken);
        _attempts.Enqueue((id, TimeProvider.System.GetTimestamp()));
        var fault = choose(request, id, attempt);
        if (fault == Fault.ResetMidRequest && request.Content is null)
        {
            fault = Fault.DropResponseAfterApplied;
        }

        if (fault != Fault.None)
        {
            _injected.AddOrUpdate(fault, 1, static (_, n) => n + 1);
        }

        switch (fault)
        {
            case Fault.ResetMidRequest:
                var original = request.Content!;
                request.Content = new BrokenContent(await original.ReadAsByteArrayAsync(cancellationToken), original.Headers.ContentType);
                try
                {
                    return await base.SendAsync(request, cancellationToken);
                }
                finally
                {
                    request.Content = original;
                }

            case Fault.DropResponseAfterApplied:
                (await base.SendAsync(request, cancellationToken)).Dispose();
                throw new HttpRequestException(HttpRequestError.ResponseEnded, "Injected: the answer was lost after the server applied the request.");

            case Fault.ServiceUnavailableAfterApplied:
                (await base.SendAsync(request, cancellationToken)).Dispose();
                var unavailable = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)
                {
                    RequestMessage = request,
                    Content = new StringContent("""{"status":503,"title":"Injected.","rule":"test.unavailable"}""", Encoding.UTF8, "application/problem+json"),
                };
                unavailable.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(1));
                return unavailable;

            case Fault.AnswerAfterAttemptTimeout:
                using (await base.SendAsync(request, cancellationToken))
                {
                    // The attempt timeout cancels this token: the answer never comes in time.
                    await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
                    throw new InvalidOperationException("unreachable");
                }

            default:
                return await base.SendAsync(request, cancellationToken);
        }
    }

    /// <summary>The call's id: its <c>Idempotency-Key</c>, or for a batch the id (read from the request's options).</summary>
    private static async Task<string?> IdOfAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Headers.TryGetValues(FuncMapClient.IdempotencyKeyHeader, out var values))
        {
            return values.First();
        }

        if (request.Content is null || request.RequestUri?.OriginalString.EndsWith("counters/batch", StringComparison.Ordinal) != true)
        {
            return null;
        }

        var body = await request.Content.ReadAsStringAsync(cancellationToken);
        var start = body.IndexOf("\"batchId\":\"", StringComparison.Ordinal) + "\"batchId\":\"".Length;
        return body[start..body.IndexOf('"', start)];
    }

    /// <summary>A body that announces its full length, sends half of it and fails: the connection is aborted mid-request.</summary>
    private sealed class BrokenContent : HttpContent
    {
        private readonly byte[] _bytes;

        public BrokenContent(byte[] bytes, MediaTypeHeaderValue? type)
        {
            _bytes = bytes;
            Headers.ContentType = type;
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_bytes.AsMemory(0, _bytes.Length / 2));
            await stream.FlushAsync();
            throw new IOException("Injected: the connection broke while the body was being sent.");
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _bytes.Length;
            return true;
        }
    }
}
