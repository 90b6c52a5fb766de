using System.Text.Json;

namespace FuncMap.Local.Tests;

/// <summary>Chunk framing on a real Kestrel, written byte for byte on a socket (a client library may coalesce small chunks).</summary>
public sealed class ChunkedBodyTests
{
    /// <summary>
    /// The limit counts body bytes, not chunk framing: 300 KB in 2-byte chunks (1.05 MB on the wire) and exactly 1 MiB in
    /// 7-byte chunks are applied; 1 MiB + 1 byte in 7-byte chunks is 413 ProblemDetails.
    /// </summary>
    [Theory]
    [InlineData(300 * 1000, 2, 200, 1)]
    [InlineData(1024 * 1024, 7, 200, 1)]
    [InlineData(1024 * 1024 + 1, 7, 413, 1)]
    [InlineData(1024 * 1024 + 1, 7, 413, 64)]
    public async Task ChunkedAdd_SmallChunks_TheLimitCountsBodyBytes(int size, int chunk, int status, int chunksPerWrite)
    {
        await using var factory = LocalHostFactory.OnKestrel();
        using var client = await factory.StartAsync();
        var body = new byte[size];
        body.AsSpan().Fill((byte)' ');
        "{\"delta\": 3"u8.CopyTo(body);
        body[^1] = (byte)'}';
        var framed = RawHttp.Chunked(body, chunk);
        var perChunk = framed.Length / Math.Max(1, (size + chunk - 1) / chunk);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        var answer = await RawHttp.SendAsync(client.BaseAddress!,
            "POST /api/counters/chunks/add?wait=true HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked",
            framed, bytesPerWrite: perChunk * chunksPerWrite, pause: TimeSpan.Zero, timeout.Token);

        Assert.True(answer.Status == status, $"{answer.Status}: {answer.Body}");
        using var json = JsonDocument.Parse(answer.Body);
        if (status == 200)
        {
            Assert.Equal(3, json.RootElement.GetProperty("value").GetInt64());
        }
        else
        {
            Assert.Equal("body.size", json.RootElement.GetProperty("rule").GetString());
            Assert.False(factory.Engine.TryGet("chunks", out _));
        }
    }
}
