using FuncMap.Engine;
using FuncMap.Journal;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FuncMap.Local.Tests;

/// <summary>A host the contract runs against.</summary>
public interface ICounterApiTarget
{
    /// <summary>A shared client with the base address (and access key) set.</summary>
    HttpClient Client { get; }

    /// <summary>Another client to the same host, for parallel callers.</summary>
    HttpClient CreateClient();

    /// <summary>How many requests ended in the 500 handler, where the host can tell (null otherwise).</summary>
    long? UnexpectedErrors { get; }
}

/// <summary>
/// The local host in memory, with settings and service overrides. Its data directory (journal) is
/// <paramref name="dataDirectory"/> when given (a restart test reuses one), else a fresh temporary
/// directory deleted on dispose: a test never writes into the source tree nor shares a journal.
/// </summary>
public sealed class LocalHostFactory(
    IReadOnlyDictionary<string, string?>? settings = null,
    Action<IServiceCollection>? services = null,
    string? dataDirectory = null)
    : WebApplicationFactory<Program>
{
    private readonly TempDirectory? _owned = dataDirectory is null ? new TempDirectory() : null;
    private OperationJournal? _journal;

    /// <summary>The host's <c>FuncMap:DataDirectory</c>.</summary>
    public string DataDirectory => dataDirectory ?? _owned!.Path;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting(JournalRegistration.DataDirectoryKey, DataDirectory);

        // The HTTP contract runs in memory; tests/FuncMap.Local.Storage.Tests run the host on Azurite.
        builder.UseSetting("FuncMap:Storage:Enabled", "false");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }

        if (services is not null)
        {
            builder.ConfigureTestServices(services);
        }
    }

    /// <summary>A factory whose host runs on a real Kestrel at a free loopback port; <paramref name="kestrel"/> adjusts its options.</summary>
    public static LocalHostFactory OnKestrel(
        IReadOnlyDictionary<string, string?>? settings = null,
        Action<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>? kestrel = null)
    {
        var factory = new LocalHostFactory(settings);
        factory.UseKestrel(options =>
        {
            options.Listen(System.Net.IPAddress.Loopback, 0);
            kestrel?.Invoke(options);
        });
        return factory;
    }

    /// <summary>Starts the host (if needed) and waits until the engine serves.</summary>
    public async Task<HttpClient> StartAsync()
    {
        var client = CreateClient();
        await Services.GetRequiredService<EngineReadiness>().WhenReady;
        return client;
    }

    public HttpMetrics Metrics => Services.GetRequiredService<HttpMetrics>();

    public CounterEngine Engine => Services.GetRequiredService<CounterEngine>();

    protected override IHost CreateHost(IHostBuilder builder)
    {
        var host = base.CreateHost(builder);
        _journal = host.Services.GetService<OperationJournal>();
        return host;
    }

    public override async ValueTask DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        finally
        {
            // The factory's dispose does not wait until the host's services are disposed (Program's own
            // app.Run disposes them, on its thread): the journal may still be closing, holding its
            // directory's lock. Closing it again waits for the first close.
            if (_journal is not null)
            {
                await _journal.DisposeAsync();
            }

            _owned?.Dispose();
        }
    }
}

/// <summary>A directory under the temp path, deleted with its content on dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "funcmap-local-tests", Guid.NewGuid().ToString("N"));

    public TempDirectory() => Directory.CreateDirectory(Path);

    public void Dispose()
    {
        if (Directory.Exists(Path))
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}

/// <summary>
/// The contract's target (a): the local host through <see cref="WebApplicationFactory{TEntryPoint}"/> on a real Kestrel
/// (a free loopback port): what the contract checks of the transport (path normalization, chunked framing, request-line
/// and header limits) exists only there, not in the in-memory TestServer.
/// </summary>
public sealed class LocalHostTarget : ICounterApiTarget, IAsyncLifetime, IDisposable
{
    private readonly LocalHostFactory _factory = LocalHostFactory.OnKestrel();

    public HttpClient Client { get; private set; } = null!;

    public HttpClient CreateClient() => _factory.CreateClient();

    public long? UnexpectedErrors => _factory.Metrics.UnexpectedCount;

    /// <summary>The host's services.</summary>
    public IServiceProvider Services => _factory.Services;

    public async Task InitializeAsync() => Client = await _factory.StartAsync();

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await _factory.DisposeAsync();
    }

    public void Dispose() => _factory.Dispose();
}

/// <summary>
/// The contract's target (b): any running host at <c>FUNCMAP_BASE_URL</c> (the local host or the
/// Functions app), with <c>FUNCMAP_FUNCTION_KEY</c> sent as <c>x-functions-key</c> when set. The URL is
/// the API's base as README and the Bicep output give it (<c>http://localhost:7071/api</c>) or the
/// host's root (<c>http://localhost:7071</c>): the tests' paths start with <c>api/</c>.
/// </summary>
public sealed class RemoteHostTarget : ICounterApiTarget, IDisposable
{
    public const string BaseUrlVariable = "FUNCMAP_BASE_URL";
    public const string FunctionKeyVariable = "FUNCMAP_FUNCTION_KEY";

    private readonly SocketsHttpHandler _handler = new() { PooledConnectionLifetime = TimeSpan.FromMinutes(2), MaxConnectionsPerServer = 64 };
    private readonly Uri? _baseAddress;
    private readonly string? _functionKey = Environment.GetEnvironmentVariable(FunctionKeyVariable);
    private HttpClient? _client;

    /// <remarks>The only public constructor: xunit requires exactly one on a class fixture.</remarks>
    public RemoteHostTarget()
    {
        var url = Environment.GetEnvironmentVariable(BaseUrlVariable);
        if (!string.IsNullOrEmpty(url))
        {
            _baseAddress = BaseAddressOf(url);
        }
    }

    /// <summary>The host's root for <paramref name="url"/>, the API's base (ending in <c>/api</c>) or the root itself.</summary>
    public static Uri BaseAddressOf(string url)
    {
        var trimmed = url.TrimEnd('/');
        if (trimmed.EndsWith("/api", StringComparison.OrdinalIgnoreCase))
        {
            trimmed = trimmed[..^"/api".Length];
        }

        return new Uri(trimmed + "/");
    }

    public HttpClient Client => _client ??= CreateClient();

    public long? UnexpectedErrors => null;

    public HttpClient CreateClient()
    {
        var client = new HttpClient(_handler, disposeHandler: false)
        {
            BaseAddress = _baseAddress ?? throw new InvalidOperationException($"{BaseUrlVariable} is not set."),
            Timeout = TimeSpan.FromSeconds(60),
        };
        if (!string.IsNullOrEmpty(_functionKey))
        {
            client.DefaultRequestHeaders.Add("x-functions-key", _functionKey);
        }
        return client;
    }

    public void Dispose()
    {
        _client?.Dispose();
        _handler.Dispose();
    }
}
