using System.Diagnostics;
using System.Globalization;
using System.Text;
using FuncMap.Testing;

namespace FuncMap.Local.Tests;

/// <summary>
/// The local host as a process: how it ends when it cannot start. A start refused for an expected reason ends with exit
/// code 1 and exactly one line on stderr naming the cause, with the host's default logging on: no stack trace on either
/// stream, and the cause said once (not also by a log line). Never an unhandled exception (the runtime aborts on those:
/// SIGABRT, exit code 134, a stack trace on stderr).
/// </summary>
public sealed class HostProcessTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string Prefix = "FuncMap.Local failed to start: ";

    [Theory]
    [InlineData("--FuncMap:Http:MaxBodyBytes=0", "FuncMap:Http:MaxBodyBytes must be")]
    [InlineData("--FuncMap:Engine:ShardCount=3", "FuncMap:Engine: ShardCount must be a power of two")]
    [InlineData("--FuncMap:Storage:Enabled=true --FuncMap:Storage:LeaseDuration=00:00:01", "FuncMap:Storage:LeaseDuration must be at least 3 seconds")]
    [InlineData("--FuncMap:Journal:SegmentMaxBytes=100", "FuncMap:Journal: SegmentMaxBytes must be at least 4096")]
    public async Task Main_InvalidConfiguration_OneLineNamingTheSetting(string arguments, string named)
    {
        using var data = new TempDirectory();
        var storage = arguments.Contains("Storage:Enabled", StringComparison.Ordinal) ? [] : new[] { "--FuncMap:Storage:Enabled=false" };
        var run = await HostRun.UntilExitAsync([.. arguments.Split(' '), .. storage, $"--FuncMap:DataDirectory={data.Path}"]);

        run.AssertRefusedOnce(named);
    }

    [Fact]
    public async Task Main_PortTaken_OneLineNamingUrls()
    {
        using var data = new TempDirectory();
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);

        var run = await HostRun.UntilExitAsync([$"--urls=http://127.0.0.1:{port}", "--FuncMap:Storage:Enabled=false", $"--FuncMap:DataDirectory={data.Path}"]);

        var line = run.AssertRefusedOnce("address already in use");
        Assert.Contains("--urls", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Main_DataDirectoryLocked_OneLine()
    {
        using var data = new TempDirectory();
        await using var owner = await HostProcess.StartReadyAsync(["--FuncMap:Storage:Enabled=false", $"--FuncMap:DataDirectory={data.Path}"]);

        var run = await HostRun.UntilExitAsync(["--FuncMap:Storage:Enabled=false", $"--FuncMap:DataDirectory={data.Path}"]);

        run.AssertRefusedOnce("is in use by another process");
    }

    [Fact]
    public async Task Main_LeaseHeld_OneLine()
    {
        using var first = new TempDirectory();
        using var second = new TempDirectory();
        var table = AzuriteFixture.UniqueTableName("leaseheld");
        string[] storage =
        [
            "--FuncMap:Storage:Enabled=true", $"--FuncMap:Storage:ConnectionString={azurite.ConnectionString}",
            $"--FuncMap:Storage:TableName={table}", $"--FuncMap:Storage:LeaseTableName={table}lease",
            $"--FuncMap:Storage:QueueName={AzuriteFixture.UniqueQueueName()}", $"--FuncMap:Storage:PoisonQueueName={AzuriteFixture.UniqueQueueName()}",
            "--FuncMap:Storage:LeaseDuration=00:00:06", "--FuncMap:Storage:LeaseSafetyMargin=00:00:01",
        ];
        await using var owner = await HostProcess.StartReadyAsync([.. storage, $"--FuncMap:DataDirectory={first.Path}"]);

        var run = await HostRun.UntilExitAsync([.. storage, $"--FuncMap:DataDirectory={second.Path}"]);

        run.AssertRefusedOnce("Another FuncMap host owns this storage");
    }

    /// <summary>A finished host process: exit code and both streams.</summary>
    private sealed record HostRun(int ExitCode, string Stdout, string Stderr)
    {
        public static async Task<HostRun> UntilExitAsync(IEnumerable<string> arguments)
        {
            await using var host = HostProcess.Start(arguments);
            return await host.ExitAsync(TimeSpan.FromSeconds(90));
        }

        /// <summary>Asserts exit code 1, one line on stderr naming <paramref name="named"/>, no stack frame anywhere, the cause said once.</summary>
        public string AssertRefusedOnce(string named)
        {
            var all = Stdout + "\n" + Stderr;
            Assert.True(ExitCode == 1, $"exit code {ExitCode}; stderr: {Stderr}; stdout: {Stdout}");
            var line = Assert.Single(Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            Assert.StartsWith(Prefix, line, StringComparison.Ordinal);
            Assert.Contains(named, line, StringComparison.Ordinal);
            Assert.DoesNotContain(all.Split('\n'), static l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
            Assert.DoesNotContain("Exception:", all, StringComparison.Ordinal);
            Assert.Equal(1, Occurrences(all, named));
            return line;
        }

        private static int Occurrences(string text, string value)
        {
            var count = 0;
            for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
            {
                count++;
            }

            return count;
        }
    }

    /// <summary>The built FuncMap.Local.dll as a child process, with the host's default logging (Production).</summary>
    private sealed class HostProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _stdout = new();
        private readonly StringBuilder _stderr = new();
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private HostProcess(IEnumerable<string> arguments)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "FuncMap.Local.dll"));
            if (!arguments.Any(static a => a.StartsWith("--urls", StringComparison.Ordinal)))
            {
                start.ArgumentList.Add("--urls=http://127.0.0.1:0");
            }

            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["DOTNET_ENVIRONMENT"] = "Production";
            _process = new Process { StartInfo = start };
            _process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    return;
                }

                lock (_stdout)
                {
                    _stdout.AppendLine(e.Data);
                }

                if (e.Data.Contains("Ready: engine serves", StringComparison.Ordinal))
                {
                    _ready.TrySetResult();
                }
            };
            _process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    lock (_stderr)
                    {
                        _stderr.AppendLine(e.Data);
                    }
                }
            };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public static HostProcess Start(IEnumerable<string> arguments) => new(arguments);

        /// <summary>Starts a host and returns once it logged that it serves.</summary>
        public static async Task<HostProcess> StartReadyAsync(IEnumerable<string> arguments)
        {
            var host = new HostProcess(arguments);
            var exited = host._process.WaitForExitAsync();
            if (await Task.WhenAny(host._ready.Task, exited).WaitAsync(TimeSpan.FromSeconds(60)) != host._ready.Task)
            {
                var run = await host.ExitAsync(TimeSpan.FromSeconds(5));
                await host.DisposeAsync();
                Assert.Fail($"the first host did not become ready: exit code {run.ExitCode}; {run.Stderr} {run.Stdout}");
            }

            return host;
        }

        public async Task<HostRun> ExitAsync(TimeSpan timeout)
        {
            using var deadline = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
                Assert.Fail($"the host did not exit within {timeout.TotalSeconds} s; stdout: {_stdout}");
            }

            lock (_stdout)
            {
                lock (_stderr)
                {
                    return new HostRun(_process.ExitCode, _stdout.ToString(), _stderr.ToString());
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }
    }
}
