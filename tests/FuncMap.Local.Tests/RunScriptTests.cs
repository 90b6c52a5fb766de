using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using FuncMap.Testing;

namespace FuncMap.Local.Tests;

/// <summary>
/// <c>eng/run.sh</c> as a user runs it, on ports chosen for the test (<c>FUNCMAP_AZURITE_PORTS</c>; never 10000–10002):
/// whatever already listens there and is not this checkout's Azurite is refused with one line on stderr, before anything
/// is installed, built or started, so that the host never takes over another installation's lease and counters.
/// </summary>
public sealed class RunScriptTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task RunSh_PortsServedByAnotherService_RefusesWithOneLine()
    {
        using var stop = new CancellationTokenSource();
        var servers = Enumerable.Range(0, 3).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        foreach (var server in servers)
        {
            server.Start();
        }

        var serving = servers.Select(server => ServeHttpAsync(server, stop.Token)).ToArray();
        try
        {
            var (code, stdout, stderr) = await RunAsync(string.Join(' ', servers.Select(static s => ((IPEndPoint)s.LocalEndpoint).Port)));

            Assert.Equal(1, code);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("not this checkout's Azurite (nginx/1.27.0)", line, StringComparison.Ordinal);
            Assert.Contains("FUNCMAP_AZURITE_PORTS", line, StringComparison.Ordinal);
            Assert.Equal(string.Empty, stdout);
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var server in servers)
            {
                server.Stop();
            }

            await Task.WhenAll(serving);
        }
    }

    [Fact]
    public async Task RunSh_PortsServedByAnotherCheckoutsAzurite_RefusesNamingItsData()
    {
        var ports = string.Join(' ', azurite.BlobPort, azurite.QueuePort, azurite.TablePort);

        var (code, stdout, stderr) = await RunAsync(ports);

        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("served by another Azurite (data in " + new DirectoryInfo(azurite.Location).FullName, line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout);
    }

    [Fact]
    public async Task RunSh_OnlySomePortsTaken_RefusesWithOneLine()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var free = new TcpListener(IPAddress.Loopback, 0);
        free.Start();
        var others = string.Join(' ', ((IPEndPoint)free.LocalEndpoint).Port, ((IPEndPoint)free.LocalEndpoint).Port + 1);
        free.Stop();

        var (code, stdout, stderr) = await RunAsync(port.ToString(CultureInfo.InvariantCulture) + " " + others);

        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"Port(s) {port} of ", line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout);
    }

    /// <summary>Answers every connection with one HTTP response from a server that is not Azurite.</summary>
    private static async Task ServeHttpAsync(TcpListener server, CancellationToken cancellationToken)
    {
        var response = Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nServer: nginx/1.27.0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        try
        {
            while (true)
            {
                using var client = await server.AcceptTcpClientAsync(cancellationToken);
                await client.GetStream().WriteAsync(response, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task<(int Code, string Stdout, string Stderr)> RunAsync(string ports)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = azurite.RepositoryRoot,
        };
        start.ArgumentList.Add(Path.Combine(azurite.RepositoryRoot, "eng", "run.sh"));
        start.Environment["FUNCMAP_AZURITE_PORTS"] = ports;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
