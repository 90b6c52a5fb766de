using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace FuncMap.Testing;

/// <summary>
/// A real Azurite (the repository's pinned one, node_modules/azurite) on free loopback ports, persisting to a
/// temporary folder so data survives <see cref="StopAsync"/> / <see cref="StartAsync"/> on the same ports.
/// Use as an xunit collection fixture: one Azurite per collection, unique table/queue names per test.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime, IAsyncDisposable
{
    /// <summary>Azurite's well-known development account.</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>Azurite's well-known development account key (public, not a secret).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(20);
    private static int s_nameCounter;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly StringBuilder _output = new();
    private Process? _process;

    public AzuriteFixture()
    {
        RepositoryRoot = FindRepositoryRoot();
        Location = Path.Combine(Path.GetTempPath(), "funcmap-azurite-" + Guid.NewGuid().ToString("N"));
        var ports = LoopbackPorts.Free(3);
        (BlobPort, QueuePort, TablePort) = (ports[0], ports[1], ports[2]);
    }

    public string RepositoryRoot { get; }

    /// <summary>Azurite's workspace folder (deleted on dispose).</summary>
    public string Location { get; }

    public int BlobPort { get; }

    public int QueuePort { get; }

    public int TablePort { get; }

    public Uri BlobEndpoint => new($"http://127.0.0.1:{BlobPort}/{AccountName}");

    public Uri QueueEndpoint => new($"http://127.0.0.1:{QueuePort}/{AccountName}");

    public Uri TableEndpoint => new($"http://127.0.0.1:{TablePort}/{AccountName}");

    /// <summary>Connection string for devstoreaccount1 with explicit endpoints (works with any storage client).</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint={BlobEndpoint};QueueEndpoint={QueueEndpoint};TableEndpoint={TableEndpoint};";

    /// <summary>True while the Azurite process is running.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>A table name unique in this test run (letters and digits, starts with a letter).</summary>
    public static string UniqueTableName(string prefix = "t") =>
        prefix + Guid.NewGuid().ToString("N")[..12] + Interlocked.Increment(ref s_nameCounter).ToString(CultureInfo.InvariantCulture);

    /// <summary>A queue name unique in this test run (lower case, digits and hyphens).</summary>
    public static string UniqueQueueName(string prefix = "q") =>
#pragma warning disable CA1308 // Queue names must be lower case.
        prefix.ToLowerInvariant() + "-" + Guid.NewGuid().ToString("N")[..12] + "-" + Interlocked.Increment(ref s_nameCounter).ToString(CultureInfo.InvariantCulture);
#pragma warning restore CA1308

    public Task InitializeAsync() => StartAsync();

    /// <summary>Starts Azurite (no-op when running) and returns once all three ports accept connections.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsRunning)
            {
                return;
            }

            Directory.CreateDirectory(Location);
            var entry = Path.Combine(RepositoryRoot, "node_modules", "azurite", "dist", "src", "azurite.js");
            var start = new ProcessStartInfo("node")
            {
                WorkingDirectory = RepositoryRoot,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[]
                     {
                         entry, "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--location", Location,
                         "--blobHost", "127.0.0.1", "--blobPort", BlobPort.ToString(CultureInfo.InvariantCulture),
                         "--queueHost", "127.0.0.1", "--queuePort", QueuePort.ToString(CultureInfo.InvariantCulture),
                         "--tableHost", "127.0.0.1", "--tablePort", TablePort.ToString(CultureInfo.InvariantCulture),
                     })
            {
                start.ArgumentList.Add(arg);
            }

            var process = new Process { StartInfo = start };
            process.OutputDataReceived += (_, e) => Capture(e.Data);
            process.ErrorDataReceived += (_, e) => Capture(e.Data);
            if (!process.Start())
            {
                throw new InvalidOperationException("Could not start node for Azurite.");
            }

            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _process = process;
            await WaitUntilListeningAsync(process, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Stops Azurite gracefully (SIGTERM, so it saves its data), killing it if it does not exit in time.
    /// The ports stay reserved for <see cref="StartAsync"/>.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var process = _process;
            if (process is null)
            {
                return;
            }

            if (!process.HasExited)
            {
                if (!OperatingSystem.IsWindows())
                {
                    using var term = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false });
                    if (term is not null)
                    {
                        await term.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                    }
                }

                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                deadline.CancelAfter(OperatingSystem.IsWindows() ? TimeSpan.Zero : StopDeadline);
                try
                {
                    await process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Did not exit on SIGTERM in time: kill it; data written since the last autosave may be lost.
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            process.Dispose();
            _process = null;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task DisposeAsync()
    {
        var process = _process;
        _process = null;
        if (process is not null)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
            }

            process.Dispose();
        }

        if (Directory.Exists(Location))
        {
            Directory.Delete(Location, recursive: true);
        }

        _gate.Dispose();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync().ConfigureAwait(false);

    /// <summary>What Azurite printed (stdout and stderr), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "package.json")) || File.Exists(Path.Combine(dir.FullName, "FuncMap.sln")))
            {
                if (!File.Exists(Path.Combine(dir.FullName, "node_modules", "azurite", "dist", "src", "azurite.js")))
                {
                    throw new InvalidOperationException($"Azurite is not installed under {dir.FullName}: run `npm ci` there first.");
                }

                return dir.FullName;
            }
        }

        throw new InvalidOperationException("No repository root (a folder with package.json or FuncMap.sln) above " + AppContext.BaseDirectory);
    }

    private async Task WaitUntilListeningAsync(Process process, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        foreach (var port in new[] { BlobPort, QueuePort, TablePort })
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"Azurite exited with code {process.ExitCode} before listening: {Output}");
                }

                if (deadline.Elapsed > StartDeadline)
                {
                    process.Kill(entireProcessTree: true);
                    throw new TimeoutException($"Azurite did not listen on port {port} within {StartDeadline}: {Output}");
                }

                using var client = new TcpClient();
                try
                {
                    using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    attempt.CancelAfter(TimeSpan.FromSeconds(1));
                    await client.ConnectAsync(IPAddress.Loopback, port, attempt.Token).ConfigureAwait(false);
                    break;
                }
                catch (Exception ex) when (ex is SocketException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    // Not listening yet: the readiness poll retries until the deadline above.
                    await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    private void Capture(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }
}
