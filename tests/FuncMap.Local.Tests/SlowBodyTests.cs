using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace FuncMap.Local.Tests;

/// <summary>
/// A request body slower than Kestrel's minimum data rate, on a real Kestrel (TestServer has no data rate). The rate is
/// set high for the test (100 bytes/s after a 2 s grace period; the default is 240 bytes/s after 5 s) so that a body paced
/// at one byte per 100 ms falls below it within seconds.
/// </summary>
public sealed class SlowBodyTests
{
    /// <summary>Every route that reads a body answers 408 <c>body.timeout</c> with <c>Connection: close</c>, sized or chunked, not 400.</summary>
    [Fact]
    public async Task SlowBody_EveryRouteThatReadsABody_Returns408ProblemAndClosesTheConnection()
    {
        // The routes that read a body: add and batch (the local host's /bench/noop does not read one).
        await using var factory = LocalHostFactory.OnKestrel(
            kestrel: kestrel => kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(bytesPerSecond: 100, gracePeriod: TimeSpan.FromSeconds(2)));
        using var client = await factory.StartAsync();
        var body = Encoding.ASCII.GetBytes("{\"delta\": 1" + new string(' ', 200) + "}");
        var batch = Encoding.ASCII.GetBytes("{\"batchId\": \"slow\", \"items\": [{\"key\": \"slow\", \"delta\": 1}]}" + new string(' ', 200));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var requests = new (string Head, byte[] Body)[]
        {
            ($"POST /api/counters/slow/add HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {body.Length}", body),
            ("POST /api/counters/slow/add HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked", RawHttp.Chunked(body, 1)),
            ($"POST /api/counters/batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {batch.Length}", batch),
        };
        var answers = await Task.WhenAll(requests.Select(r =>
            RawHttp.SendAsync(client.BaseAddress!, r.Head, r.Body, bytesPerWrite: 1, pause: TimeSpan.FromMilliseconds(100), timeout.Token)));

        for (var i = 0; i < answers.Length; i++)
        {
            var answer = answers[i];
            Assert.True(answer.Status == 408, $"{requests[i].Head.Split('\r')[0]}: {answer.Status} {answer.Body}");
            Assert.Equal("close", answer.Headers["connection"]);
            Assert.StartsWith("application/problem+json", answer.Headers["content-type"], StringComparison.Ordinal);
            using var problem = JsonDocument.Parse(answer.Body);
            Assert.Equal("body.timeout", problem.RootElement.GetProperty("rule").GetString());
            Assert.Equal(408, problem.RootElement.GetProperty("status").GetInt32());
        }

        Assert.Equal(0, factory.Metrics.UnexpectedCount);
        Assert.False(factory.Engine.TryGet("slow", out _));
    }
}
