using System.Net.Sockets;
using System.Text;

namespace FuncMap.Local.Tests;

/// <summary>An HTTP/1.1 answer read off a socket: status, headers (names lower-case), body.</summary>
public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body);

/// <summary>
/// HTTP/1.1 over a plain socket, for what <see cref="HttpClient"/> cannot send: a body paced byte by byte, chunk framing
/// of one's own choosing. The server closes the connection after the answer (each request says <c>Connection: close</c>).
/// </summary>
public static class RawHttp
{
    /// <summary>
    /// Sends <paramref name="head"/> (request line and headers, without the blank line), then <paramref name="body"/>
    /// <paramref name="bytesPerWrite"/> bytes at a time with <paramref name="pause"/> between writes, and stops sending
    /// as soon as the answer has arrived.
    /// </summary>
    public static async Task<RawResponse> SendAsync(Uri server, string head, ReadOnlyMemory<byte> body, int bytesPerWrite, TimeSpan pause, CancellationToken cancellationToken)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port, cancellationToken);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head + "\r\nConnection: close\r\n\r\n"), cancellationToken);

        var answer = ReadToEndAsync(stream, cancellationToken);
        try
        {
            for (var sent = 0; sent < body.Length && !answer.IsCompleted; sent += bytesPerWrite)
            {
                await stream.WriteAsync(body.Slice(sent, Math.Min(bytesPerWrite, body.Length - sent)), cancellationToken);
                if (pause > TimeSpan.Zero)
                {
                    await Task.WhenAny(answer, Task.Delay(pause, cancellationToken));
                }
            }
        }
        catch (IOException)
        {
            // The server answered and closed while the body was still being sent: the answer is what counts.
        }

        return Parse(await answer);
    }

    /// <summary>The chunked framing of <paramref name="body"/> in chunks of <paramref name="chunkSize"/> bytes, with the last chunk and an empty trailer.</summary>
    public static byte[] Chunked(ReadOnlySpan<byte> body, int chunkSize)
    {
        using var framed = new MemoryStream();
        for (var i = 0; i < body.Length; i += chunkSize)
        {
            var chunk = body.Slice(i, Math.Min(chunkSize, body.Length - i));
            framed.Write(Encoding.ASCII.GetBytes(chunk.Length.ToString("x", System.Globalization.CultureInfo.InvariantCulture) + "\r\n"));
            framed.Write(chunk);
            framed.Write("\r\n"u8);
        }

        framed.Write("0\r\n\r\n"u8);
        return framed.ToArray();
    }

    private static async Task<byte[]> ReadToEndAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        using var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException) when (received.Length > 0)
        {
            // A reset after the answer arrived.
        }

        return received.ToArray();
    }

    private static RawResponse Parse(byte[] raw)
    {
        var text = Encoding.UTF8.GetString(raw);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(end > 0, $"no HTTP answer: \"{text}\"");
        var lines = text[..end].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        var body = text[(end + 4)..];
        if (headers.TryGetValue("transfer-encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Dechunk(body);
        }

        return new RawResponse(status, headers, body);
    }

    private static string Dechunk(string chunked)
    {
        var result = new StringBuilder();
        var at = 0;
        while (true)
        {
            var lineEnd = chunked.IndexOf("\r\n", at, StringComparison.Ordinal);
            var size = Convert.ToInt32(chunked[at..lineEnd].Split(';')[0], 16);
            if (size == 0)
            {
                return result.ToString();
            }

            result.Append(chunked, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
    }
}
