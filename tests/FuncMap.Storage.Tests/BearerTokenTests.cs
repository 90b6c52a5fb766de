using System.Net;
using Azure.Core;
using Azure.Core.Pipeline;

namespace FuncMap.Storage.Tests;

/// <summary>Identity-based auth: a fake credential and a fake HTTP handler, no network.</summary>
public sealed class BearerTokenTests
{
    [Fact]
    public async Task FromTokenCredential_TableAndQueueRequests_CarryBearerTokenForStorageScope()
    {
        var credential = new FakeCredential();
        var handler = new RecordingHandler();
        var options = new StorageClientOptions { Transport = new HttpClientTransport(new HttpClient(handler)) };
        var connection = StorageConnection.FromTokenCredential(
            new Uri("https://acct.table.core.windows.net"), new Uri("https://acct.queue.core.windows.net"), credential, options);

        handler.Next = () => new HttpResponseMessage(HttpStatusCode.NotFound);
        var entity = await connection.GetTableClient("Counters").GetEntityAsync("07", "page:home");
        handler.Next = () => new HttpResponseMessage(HttpStatusCode.OK) { Headers = { { "x-ms-approximate-messages-count", "3" } } };
        var count = await connection.GetQueueClient("counter-increments").GetApproximateCountAsync();

        Assert.Null(entity);
        Assert.Equal(3, count);
        Assert.Equal(2, handler.Requests.Count);
        Assert.All(handler.Requests, r =>
        {
            Assert.Equal("Bearer", r.Headers.Authorization?.Scheme);
            Assert.Equal("fake-token", r.Headers.Authorization?.Parameter);
            Assert.Equal(StorageClientOptions.DefaultServiceVersion, r.Headers.GetValues("x-ms-version").Single());
        });
        Assert.Equal("https://acct.table.core.windows.net/Counters(PartitionKey='07',RowKey='page%3Ahome')", handler.Requests[0].RequestUri!.OriginalString);
        Assert.Equal(["https://storage.azure.com/.default"], credential.Scopes.Distinct());
    }

    [Fact]
    public async Task FromTokenCredential_HttpEndpoint_RefusedByBearerPolicy()
    {
        var connection = StorageConnection.FromTokenCredential(
            new Uri("http://127.0.0.1:10002/devstoreaccount1"), new Uri("http://127.0.0.1:10001/devstoreaccount1"), new FakeCredential(),
            new StorageClientOptions { Transport = new HttpClientTransport(new HttpClient(new RecordingHandler())) });

        // Azure.Core never sends a bearer token over plain http.
        await Assert.ThrowsAnyAsync<Exception>(() => connection.GetQueueClient("q-x").GetApproximateCountAsync());
    }

    private sealed class FakeCredential : TokenCredential
    {
        public List<string> Scopes { get; } = [];

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            lock (Scopes)
            {
                Scopes.AddRange(requestContext.Scopes);
            }

            return new AccessToken("fake-token", DateTimeOffset.UtcNow.AddHours(1));
        }

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public List<HttpRequestMessage> Requests { get; } = [];

        public Func<HttpResponseMessage> Next { get; set; } = () => new HttpResponseMessage(HttpStatusCode.OK);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add(request);
            return Task.FromResult(Next());
        }
    }
}
