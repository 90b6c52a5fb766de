using System.Globalization;
using System.Text;

namespace FuncMap.Local.Tests;

/// <summary>One malformed request and the statuses it may get.</summary>
/// <param name="Name">What is wrong with it, for the failure message.</param>
/// <param name="Create">Builds the request (a fresh one per send).</param>
/// <param name="Expected">The acceptable statuses (all 4xx).</param>
/// <param name="ProblemBody">False where a server may reject the request before the app sees it (no ProblemDetails then).</param>
public sealed record BadCase(string Name, Func<HttpRequestMessage> Create, int[] Expected, bool ProblemBody = true);

/// <summary>
/// Generates malformed requests from a seeded <see cref="Random"/>: bad keys, bad bodies (invalid JSON,
/// wrong types, floats, huge numbers, unknown fields, deep nesting, random bytes), wrong content types,
/// oversize bodies, bad query values, bad Idempotency-Keys, bad batches and wrong methods.
/// </summary>
public static class BadInputGenerator
{
    private const string KeyChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:";
    private static readonly string[] BadKeyChars =
    [
        " ", "!", "\"", "#", "$", "%", "&", "'", "(", ")", "*", "+", ",", "/", ";", "<", "=", ">", "?", "@", "[", "\\", "]", "^", "`",
        "{", "|", "}", "~", "é", "ü", "€", "😀", "\u0001", "\u007f", "\t",
    ];

    private static readonly string[] WrongTypes =
    [
        "\"5\"", "true", "null", "[]", "123", "\"str\"", "{\"delta\":\"1\"}", "{\"delta\":true}", "{\"delta\":[1]}", "{\"delta\":{}}",
        "{\"delta\":null}", "{\"delta\":false}", "[{\"delta\":1}]",
    ];

    private static readonly string[] WrongContentTypes =
    [
        "text/plain", "application/xml", "text/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/json; charset=utf-16", "application/json; charset=latin1", "application/octet-stream", "image/png", "json",
    ];

    public static List<BadCase> Generate(Random random, string prefix)
    {
        var cases = new List<BadCase>();
        var validKey = prefix + "bad";

        for (var i = 0; i < 40; i++)
        {
            var key = RandomKey(random, random.Next(91, 300));
            cases.Add(Route($"key length {key.Length}", random, key, [400]));
        }

        for (var i = 0; i < 80; i++)
        {
            var bad = BadKeyChars[random.Next(BadKeyChars.Length)];
            var key = RandomKey(random, random.Next(0, 20));
            key = key.Insert(random.Next(key.Length + 1), bad);
            var control = bad.Length == 1 && char.IsControl(bad[0]);
            cases.Add(Route($"key with U+{(int)bad[0]:X4}", random, key, [400, 404], problemBody: !control));
        }

        for (var i = 0; i < 100; i++)
        {
            var (name, body) = RandomBadAddBody(random);
            cases.Add(new($"add body {name}", () => Post($"api/counters/{validKey}/add", body, "application/json"), [400]));
        }

        for (var i = 0; i < 40; i++)
        {
            var type = i % 4 == 3 ? $"x-{RandomKey(random, 5)}/{RandomKey(random, 5)}" : WrongContentTypes[random.Next(WrongContentTypes.Length)];
            var batch = random.Next(2) == 0;
            var uri = batch ? "api/counters/batch" : $"api/counters/{validKey}/add";
            var body = Encoding.UTF8.GetBytes(batch ? """{"batchId":"b","items":[{"key":"k","delta":1}]}""" : """{"delta":1}""");
            cases.Add(new($"content type {type}", () => Post(uri, body, type), [415]));
        }

        cases.Add(new("body without content type", () => Post($"api/counters/{validKey}/add", "{\"delta\":1}"u8.ToArray(), null), [415]));
        foreach (var chunked in new[] { false, true })
        {
            foreach (var uri in new[] { "api/counters/batch", $"api/counters/{validKey}/add" })
            {
                // Chunked: exactly one byte over, so the bounded read consumes the whole body before refusing it.
                var size = 1024 * 1024 + 1 + (chunked ? 0 : random.Next(100_000));
                cases.Add(new($"oversize {size} chunked={chunked} {uri}", () => Oversize(uri, size, chunked), [413]));
            }
        }

        for (var i = 0; i < 60; i++)
        {
            var (name, query) = RandomBadListQuery(random);
            cases.Add(new($"list {name}", () => new HttpRequestMessage(HttpMethod.Get, "api/counters?" + query), [400]));
        }

        for (var i = 0; i < 10; i++)
        {
            var wait = Uri.EscapeDataString(RandomKey(random, random.Next(1, 10)) + "x");
            cases.Add(new($"wait={wait}", () => new HttpRequestMessage(HttpMethod.Post, $"api/counters/{validKey}/reset?wait={wait}"), [400]));
        }

        for (var i = 0; i < 30; i++)
        {
            var id = (i % 3) switch
            {
                0 => new string('i', random.Next(129, 400)),
                1 => RandomKey(random, 2) + "\t" + new string('t', random.Next(1, 50)),
                _ => RandomKey(random, 3) + "\t" + RandomKey(random, 3),
            };
            cases.Add(new($"Idempotency-Key of {id.Length}", () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Post, $"api/counters/{validKey}/add");
                request.Headers.TryAddWithoutValidation("Idempotency-Key", id);
                return request;
            }, [400]));
        }

        for (var i = 0; i < 60; i++)
        {
            var (name, body) = RandomBadBatch(random, prefix);
            cases.Add(new($"batch {name}", () => Post("api/counters/batch", body, "application/json"), [400]));
        }

        var wrongMethods = new (HttpMethod Method, string Uri)[]
        {
            (HttpMethod.Put, $"api/counters/{validKey}"), (HttpMethod.Patch, $"api/counters/{validKey}"), (HttpMethod.Get, $"api/counters/{validKey}/add"),
            (HttpMethod.Delete, "api/counters"), (HttpMethod.Put, "api/counters/batch"), (HttpMethod.Get, $"api/counters/{validKey}/reset"),
            (HttpMethod.Post, $"api/counters/{validKey}"), (HttpMethod.Delete, $"api/counters/{validKey}/add"), (HttpMethod.Put, $"api/counters/{validKey}/add"),
            (HttpMethod.Post, "api/counters"),
        };
        foreach (var (method, uri) in wrongMethods)
        {
            cases.Add(new($"{method} {uri}", () => new HttpRequestMessage(method, uri), [405]));
        }

        return cases;
    }

    private static BadCase Route(string name, Random random, string key, int[] expected, bool problemBody = true)
    {
        var escaped = Uri.EscapeDataString(key);
        return random.Next(4) switch
        {
            0 => new($"{name} (add)", () => new HttpRequestMessage(HttpMethod.Post, $"api/counters/{escaped}/add"), expected, problemBody),
            1 => new($"{name} (reset)", () => new HttpRequestMessage(HttpMethod.Post, $"api/counters/{escaped}/reset?wait=true"), expected, problemBody),
            2 => new($"{name} (delete)", () => new HttpRequestMessage(HttpMethod.Delete, $"api/counters/{escaped}"), expected, problemBody),
            _ => new($"{name} (get)", () => new HttpRequestMessage(HttpMethod.Get, $"api/counters/{escaped}"), expected, problemBody),
        };
    }

    private static (string Name, byte[] Body) RandomBadAddBody(Random random)
    {
        switch (random.Next(8))
        {
            case 0:
                var valid = $"{{\"delta\": {random.Next(-1000, 1000)}}}";
                return ("truncated JSON", Encoding.UTF8.GetBytes(valid[..random.Next(1, valid.Length - 1)]));
            case 1:
                return ("wrong type", Encoding.UTF8.GetBytes(WrongTypes[random.Next(WrongTypes.Length)]));
            case 2:
                var number = random.Next(3) switch
                {
                    0 => (random.NextDouble() * 1e6).ToString("0.0##", CultureInfo.InvariantCulture),
                    1 => $"{random.Next(1, 9)}e{random.Next(0, 30)}",
                    _ => $"-{random.Next(1, 9)}.{random.Next(1, 99)}E-{random.Next(1, 5)}",
                };
                return ($"float {number}", Encoding.UTF8.GetBytes($"{{\"delta\": {number}}}"));
            case 3:
                var digits = new string(Enumerable.Range(0, random.Next(20, 60)).Select(i => (char)('1' + random.Next(9))).ToArray());
                var huge = random.Next(3) switch { 0 => digits, 1 => "-" + digits, _ => "1e400" };
                return ($"huge {huge[..Math.Min(8, huge.Length)]}", Encoding.UTF8.GetBytes($"{{\"delta\": {huge}}}"));
            case 4:
                var name = random.Next(3) switch { 0 => "Delta", 1 => "DELTA", _ => RandomKey(random, random.Next(1, 12)) + "x" };
                return ($"unknown field {name}", Encoding.UTF8.GetBytes($"{{\"delta\": 1, \"{name}\": 2}}"));
            case 5:
                var depth = random.Next(5, 3000);
                return ($"nesting {depth}", Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth)));
            case 6:
                var objects = random.Next(5, 500);
                var nested = new StringBuilder("{\"delta\": ");
                for (var i = 0; i < objects; i++)
                {
                    nested.Append("{\"a\": ");
                }

                nested.Append('1').Append('}', objects + 1);
                return ($"nested objects {objects}", Encoding.UTF8.GetBytes(nested.ToString()));
            default:
                var bytes = new byte[random.Next(1, 300)];
                random.NextBytes(bytes);
                bytes[0] = random.Next(2) == 0 ? (byte)0xFF : (byte)'x';
                return ("random bytes", bytes);
        }
    }

    private static (string Name, string Query) RandomBadListQuery(Random random)
    {
        switch (random.Next(6))
        {
            case 0:
                var junk = Uri.EscapeDataString(RandomKey(random, random.Next(1, 10)) + "z");
                return ($"pageSize={junk}", $"pageSize={junk}");
            case 1:
                var size = random.Next(2) == 0 ? -random.Next(0, 100000) : random.Next(1001, int.MaxValue);
                return ($"pageSize={size}", $"pageSize={size}");
            case 2:
                return ("pageSize=99999999999", "pageSize=99999999999");
            case 3:
                var bytes = new byte[random.Next(8, 60)];
                random.NextBytes(bytes);
                return ("random token", $"continuationToken={Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_')}");
            case 4:
                var garbage = Uri.EscapeDataString(new string(Enumerable.Range(0, random.Next(1, 40)).Select(_ => (char)random.Next(33, 127)).ToArray()) + "!");
                return ("garbage token", $"continuationToken={garbage}");
            default:
                var bad = BadKeyChars[random.Next(BadKeyChars.Length)];
                return ("bad prefix", $"prefix={Uri.EscapeDataString("p" + bad)}");
        }
    }

    private static (string Name, byte[] Body) RandomBadBatch(Random random, string prefix)
    {
        var key = prefix + "bk";
        var body = random.Next(10) switch
        {
            0 => """{"items":[{"key":"k","delta":1}]}""",
            1 => """{"batchId":"b"}""",
            2 => """{"batchId":"b","items":[]}""",
            3 => """{"batchId":"b","items":{"key":"k","delta":1}}""",
            4 => $$"""{"batchId":"b","items":[{"key":"{{key}} x","delta":1}]}""",
            5 => $$"""{"batchId":"b","items":[{"key":"{{key}}","delta":{{random.Next(1, 9)}}.5}]}""",
            6 => $$"""{"batchId":{{random.Next()}},"items":[{"key":"{{key}}","delta":1}]}""",
            7 => $$"""{"batchId":"b","items":[{"key":"{{key}}","delta":1,"extra":true}],"x":1}""",
            8 => $$"""{"batchId":"b","items":[{"key":"{{key}}","delta":9223372036854775807},{"key":"{{key}}","delta":1}]}""",
            _ => """{"batchId":"b","items":[""" + string.Join(",", Enumerable.Repeat("""{"key":"k","delta":1}""", 10_001)) + "]}",
        };
        return (body.Length > 60 ? body[..60] : body, Encoding.UTF8.GetBytes(body));
    }

    private static HttpRequestMessage Post(string uri, byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        return new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
    }

    private static HttpRequestMessage Oversize(string uri, int size, bool chunked)
    {
        var body = new byte[size];
        body.AsSpan().Fill((byte)' ');
        HttpContent content = chunked ? new StreamContent(new MemoryStream(body)) : new ByteArrayContent(body);
        content.Headers.ContentType = new("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        request.Headers.TransferEncodingChunked = chunked;
        request.Headers.ExpectContinue = !chunked;
        return request;
    }

    private static string RandomKey(Random random, int length) =>
        new(Enumerable.Range(0, length).Select(_ => KeyChars[random.Next(KeyChars.Length)]).ToArray());
}
