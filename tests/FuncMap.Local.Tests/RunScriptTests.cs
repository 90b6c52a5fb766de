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
/// is installed, built or started, so that the host never takes over another installation's lease and counters; and
/// however the script is stopped, the host stops before the Azurite it started.
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

    [Fact]
    public async Task RunSh_SigintWhenStartedWithSigintIgnored_StopsTheHostBeforeAzurite()
    {
        // A script started as a background job of another script (or under nohup) starts with SIGINT ignored, so its
        // INT trap cannot be set: bash then exits on SIGINT through its EXIT trap, which must stop the host (its final
        // snapshot and lease release go to Azurite) before it stops Azurite.
        var ports = LoopbackPorts.Free(4);
        var (blob, queue, table, http) = (ports[0], ports[1], ports[2], ports[3]);
        using var azuriteData = new TempDirectory();
        using var hostData = new TempDirectory();
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = azurite.RepositoryRoot,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("trap '' INT; exec bash \"$0\" \"$@\"");
        start.ArgumentList.Add(Path.Combine(azurite.RepositoryRoot, "eng", "run.sh"));
        start.ArgumentList.Add($"--urls=http://127.0.0.1:{http}");
        start.ArgumentList.Add($"--FuncMap:DataDirectory={hostData.Path}");
        start.Environment["FUNCMAP_AZURITE_PORTS"] = $"{blob} {queue} {table}";
        start.Environment["FUNCMAP_AZURITE_DATA"] = azuriteData.Path;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // The first run of the script may restore and build the host in Release: minutes on a small machine.
            using var ready = new CancellationTokenSource(TimeSpan.FromMinutes(5));
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}") };
            while (!await IsReadyAsync(client, ready.Token))
            {
                if (process.HasExited)
                {
                    Assert.Fail("eng/run.sh exited before the host was ready: " + await stdout + await stderr);
                }

                await Task.Delay(200, ready.Token);
            }

            using (var signal = Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await signal.WaitForExitAsync(ready.Token);
            }

            using var stopped = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(stopped.Token);
            // The end of the output comes when every writer has closed it, the host included: a host left running
            // keeps it open, which times out here.
            string output;
            try
            {
                output = await stdout.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                Assert.Fail($"eng/run.sh exited (code {process.ExitCode}) with the host still running: {ProcessesNaming(hostData.Path).Count} process(es) hold its data directory");
                throw;
            }

            var hostClosed = output.IndexOf("Journal closed after writing its pending groups.", StringComparison.Ordinal);
            var leaseReleased = output.IndexOf(" released.", StringComparison.Ordinal);
            var azuriteStopped = output.IndexOf("==> Stopping Azurite", StringComparison.Ordinal);
            Assert.True(hostClosed >= 0 && leaseReleased >= 0, "the host did not stop in order: " + output);
            Assert.True(azuriteStopped > hostClosed && azuriteStopped > leaseReleased, "Azurite stopped before the host: " + output);
            Assert.Empty(ProcessesNaming(hostData.Path));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            // Without the fix the host outlives the script (a child of init): never leave it running.
            foreach (var leftover in ProcessesNaming(hostData.Path).Concat(ProcessesNaming(azuriteData.Path)))
            {
                using (leftover)
                {
                    leftover.Kill();
                }
            }
        }
    }

    private static async Task<bool> IsReadyAsync(HttpClient client, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await client.GetAsync("readyz", cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>The processes whose command line holds <paramref name="text"/> (read from /proc).</summary>
    private static List<Process> ProcessesNaming(string text)
    {
        var found = new List<Process>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(text, StringComparison.Ordinal))
                {
                    found.Add(Process.GetProcessById(pid));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // The process ended while it was read.
            }
        }

        return found;
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
