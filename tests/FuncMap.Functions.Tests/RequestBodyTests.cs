using FuncMap.Functions.Http;
using FuncMap.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Tests;

/// <summary>
/// The worker's body reading (the add path, through <see cref="BenchNoopFunction"/>, which reads as an add does) as the
/// Functions host's proxy needs it: a refused body is read to its end before the 413, so the proxy, still sending it,
/// never fails the exchange with a 500; the server's own limit, which counts chunk framing, is lifted.
/// </summary>
public sealed class RequestBodyTests
{
    private const long Limit = FuncMapHttpOptions.DefaultMaxBodyBytes;

    [Theory]
    [InlineData(Limit + 1, false)]
    [InlineData(Limit + 1, true)]
    [InlineData(3L << 20, true)]
    [InlineData(31_000_000, false)]
    [InlineData(31_000_000, true)]
    public async Task OverTheLimit_ReadToItsEndThen413KeepingTheConnection(long size, bool chunked)
    {
        var body = new SpacesStream(size);
        var (problem, context) = await PostAsync(body, chunked ? null : size);

        Assert.Equal((413, "body.size"), (problem.StatusCode, problem.ProblemDetails.Extensions["rule"]));
        Assert.Equal(size, body.BytesRead);
        Assert.False(context.Response.Headers.ContainsKey("Connection"));
        Assert.Null(context.Features.Get<IHttpMaxRequestBodySizeFeature>()!.MaxRequestBodySize);
    }

    [Fact]
    public async Task OverTheDrainBound_StopsReadingAnd413WithConnectionClose()
    {
        var chunkedBody = new SpacesStream(RequestBody.MaxDrainBytes + (1 << 20));
        var (chunked, chunkedContext) = await PostAsync(chunkedBody, declared: null);
        Assert.Equal(413, chunked.StatusCode);
        Assert.InRange(chunkedBody.BytesRead, Limit + 1, RequestBody.MaxDrainBytes + 64 * 1024);
        Assert.Equal("close", chunkedContext.Response.Headers.Connection.ToString());

        var sizedBody = new SpacesStream(RequestBody.MaxDrainBytes + 1);
        var (sized, sizedContext) = await PostAsync(sizedBody, RequestBody.MaxDrainBytes + 1);
        Assert.Equal(413, sized.StatusCode);
        Assert.Equal(0, sizedBody.BytesRead);
        Assert.Equal("close", sizedContext.Response.Headers.Connection.ToString());
    }

    [Fact]
    public async Task OverTheLimitWithExpectContinue_NothingReadAnd413WithConnectionClose()
    {
        var body = new SpacesStream(Limit + 1);
        var (problem, context) = await PostAsync(body, Limit + 1, expectContinue: true);

        Assert.Equal(413, problem.StatusCode);
        Assert.Equal(0, body.BytesRead);
        Assert.Equal("close", context.Response.Headers.Connection.ToString());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AtTheLimit_Accepted(bool chunked)
    {
        var body = new SpacesStream(Limit, prefix: "{\"delta\": 4"u8.ToArray(), suffix: (byte)'}', maxPerRead: 2);
        var context = CreateContext(body, chunked ? null : Limit);

        var result = await Function().RunAsync(context.Request, CancellationToken.None);

        Assert.Equal(4, Assert.IsType<Accepted<BenchNoopAccepted>>(result.Result).Value!.Delta);
    }

    [Fact]
    public async Task SlowerThanTheMinimumDataRate_408WithConnectionClose()
    {
        var context = CreateContext(new TimedOutStream(), declared: 100);

        var result = await Function().RunAsync(context.Request, CancellationToken.None);

        var problem = Assert.IsType<ProblemHttpResult>(result.Result);
        Assert.Equal((408, "body.timeout"), (problem.StatusCode, problem.ProblemDetails.Extensions["rule"]));
        Assert.Equal("close", context.Response.Headers.Connection.ToString());
    }

    private static BenchNoopFunction Function() =>
        new(Options.Create(new BenchOptions { NoopEndpoint = true }), Options.Create(new FuncMapHttpOptions()));

    private static async Task<(ProblemHttpResult Problem, HttpContext Context)> PostAsync(Stream body, long? declared, bool expectContinue = false)
    {
        var context = CreateContext(body, declared);
        if (expectContinue)
        {
            context.Request.Headers.Expect = "100-continue";
        }

        var result = await Function().RunAsync(context.Request, CancellationToken.None);
        return (Assert.IsType<ProblemHttpResult>(result.Result), context);
    }

    private static DefaultHttpContext CreateContext(Stream body, long? declared)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Protocol = "HTTP/1.1";
        context.Request.Path = "/api/" + BenchNoopFunction.Route;
        context.Request.ContentType = "application/json";
        context.Request.ContentLength = declared;
        context.Request.Body = body;
        // The worker's server limit as Kestrel sets it by default (30,000,000 bytes, chunk framing counted).
        context.Features.Set<IHttpMaxRequestBodySizeFeature>(new BodySizeFeature { MaxRequestBodySize = 30_000_000 });
        return context;
    }

    private sealed class BodySizeFeature : IHttpMaxRequestBodySizeFeature
    {
        public bool IsReadOnly => false;

        public long? MaxRequestBodySize { get; set; }
    }

    /// <summary>A body of <c>size</c> bytes (spaces between an optional prefix and last byte), generated as it is read; <see cref="BytesRead"/> counts what was read.</summary>
    private sealed class SpacesStream(long size, byte[]? prefix = null, byte? suffix = null, int maxPerRead = int.MaxValue) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadInto(buffer.AsSpan(offset, count));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(ReadInto(buffer.Span));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(ReadInto(buffer.AsSpan(offset, count)));

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int ReadInto(Span<byte> buffer)
        {
            var n = (int)Math.Min(Math.Min(buffer.Length, maxPerRead), size - BytesRead);
            for (var i = 0; i < n; i++)
            {
                var at = BytesRead + i;
                buffer[i] = prefix is not null && at < prefix.Length ? prefix[at] : suffix is { } last && at == size - 1 ? last : (byte)' ';
            }

            BytesRead += n;
            return n;
        }
    }

    /// <summary>A body whose read fails as Kestrel's does when the data arrives slower than <c>MinRequestBodyDataRate</c>.</summary>
    private sealed class TimedOutStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => 0; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => throw Timeout();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromException<int>(Timeout());

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private static BadHttpRequestException Timeout() =>
            new("Reading the request body timed out due to data arriving too slowly. See MinRequestBodyDataRate.", StatusCodes.Status408RequestTimeout);
    }
}
