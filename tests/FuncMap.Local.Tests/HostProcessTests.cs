using System.Diagnostics;

namespace FuncMap.Local.Tests;

/// <summary>The local host as a process: how it ends when it cannot start.</summary>
public sealed class HostProcessTests
{
    /// <summary>
    /// A host that cannot start ends with exit code 1 and one line on stderr naming the cause, never with an
    /// unhandled exception (the runtime aborts on those: SIGABRT, exit code 134, a stack trace on stderr).
    /// </summary>
    [Theory]
    [InlineData("--FuncMap:Http:MaxBodyBytes=0", "MaxBodyBytes")]
    [InlineData("--FuncMap:Engine:ShardCount=3", "ShardCount")]
    [InlineData("--urls=http://127.0.0.1:{taken}", "address already in use")]
    public async Task Main_StartFails_ExitCode1AndOneLineOnStderr(string argument, string named)
    {
        using var data = new TempDirectory();
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        argument = argument.Replace("{taken}", ((System.Net.IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "FuncMap.Local.dll"), argument, "--FuncMap:Storage:Enabled=false", $"--FuncMap:DataDirectory={data.Path}" })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "None";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var lines = (await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(process.ExitCode == 1, $"exit code {process.ExitCode}; stderr: {await stderr}; stdout: {await stdout}");
        var line = Assert.Single(lines);
        Assert.StartsWith("FuncMap.Local failed to start: ", line, StringComparison.Ordinal);
        Assert.Contains(named, line, StringComparison.Ordinal);
    }
}
