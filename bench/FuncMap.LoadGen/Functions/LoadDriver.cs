using System.Diagnostics;
using System.Globalization;

namespace FuncMap.LoadGen.Functions;

/// <summary>What one closed-loop burst of requests came to.</summary>
/// <param name="Accepted">Requests answered as expected (202).</param>
/// <param name="Unknown">Requests sent without a 2xx back: maybe applied, maybe not.</param>
/// <param name="NotSent">Requests whose connection was refused (never applied).</param>
/// <param name="Elapsed">From the first request until the last answer.</param>
public sealed record Burst(long Accepted, long Unknown, long NotSent, TimeSpan Elapsed);

/// <summary>Runs requests with a fixed number of concurrent callers (closed loop) and waits for conditions by polling.</summary>
public static class LoadDriver
{
    /// <summary>
    /// Sends requests 0..<paramref name="count"/>-1 with <paramref name="concurrency"/> callers; <paramref name="onAccepted"/>
    /// runs for each accepted one (to count the expected totals). Prints progress every 10 s to stderr.
    /// </summary>
    public static async Task<Burst> RunAsync(
        string name, int count, int concurrency, Func<int, CancellationToken, Task<SendOutcome>> send, Action<int>? onAccepted, CancellationToken cancellationToken)
    {
        long next = -1, accepted = 0, unknown = 0, notSent = 0;
        var clock = Stopwatch.StartNew();
        using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var progress = ReportAsync(name, count, clock, () => Interlocked.Read(ref accepted) + Interlocked.Read(ref unknown) + Interlocked.Read(ref notSent), done.Token);
        var callers = Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            long i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                switch (await send((int)i, cancellationToken))
                {
                    case SendOutcome.Accepted:
                        Interlocked.Increment(ref accepted);
                        onAccepted?.Invoke((int)i);
                        break;
                    case SendOutcome.NotSent:
                        Interlocked.Increment(ref notSent);
                        break;
                    default:
                        Interlocked.Increment(ref unknown);
                        break;
                }
            }
        }, cancellationToken));
        await Task.WhenAll(callers);
        var elapsed = clock.Elapsed;
        await done.CancelAsync();
        await progress;
        return new Burst(accepted, unknown, notSent, elapsed);
    }

    /// <summary>
    /// Polls <paramref name="check"/> every <paramref name="interval"/> until it returns true (then the time since
    /// <paramref name="since"/> started), or until <paramref name="timeout"/> (then null). A check that throws
    /// (the host is restarting) counts as not yet.
    /// </summary>
    public static async Task<TimeSpan?> WaitUntilAsync(
        string name, Stopwatch since, Func<CancellationToken, Task<bool>> check, TimeSpan interval, TimeSpan timeout, Func<string>? describe, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        while (true)
        {
            try
            {
                if (await check(cancellationToken))
                {
                    return since.Elapsed;
                }
            }
            catch (HttpRequestException ex)
            {
                Console.Error.WriteLine($"  [{name}] read failed ({ex.HttpRequestError}); reading again");
            }

            if (deadline.Elapsed > timeout)
            {
                return null;
            }

            if (deadline.Elapsed - lastReport >= TimeSpan.FromSeconds(15))
            {
                lastReport = deadline.Elapsed;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{name}] waiting for the totals: {deadline.Elapsed.TotalSeconds:0} s{(describe is null ? "" : "; " + describe())}"));
            }

            await Task.Delay(interval, cancellationToken);
        }
    }

    private static async Task ReportAsync(string name, int count, Stopwatch clock, Func<long> sent, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(10), cancellationToken);
                var n = sent();
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  [{name}] {n}/{count} answered, {n / clock.Elapsed.TotalSeconds:0.0}/s"));
            }
        }
        catch (OperationCanceledException)
        {
            // The burst is over.
        }
    }
}
