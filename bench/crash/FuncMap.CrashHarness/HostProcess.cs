using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace FuncMap.Crash;

/// <summary>
/// The local host as a child process (<c>dotnet FuncMap.Local.dll</c>) on a free loopback port, with its
/// output appended to a log file. <see cref="Kill"/> is SIGKILL on Linux: no shutdown code runs.
/// </summary>
public sealed class HostProcess : IDisposable
{
    private readonly string _dll;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly StreamWriter _log;
    private Process? _process;

    public HostProcess(string dll, IReadOnlyDictionary<string, string> environment, string logPath)
    {
        _dll = Path.GetFullPath(dll);
        if (!File.Exists(_dll))
        {
            throw new FileNotFoundException($"The host is not built: {_dll} is missing (dotnet build functions/FuncMap.Local -c Release).", _dll);
        }

        _environment = environment;
        _log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        LogPath = logPath;
    }

    /// <summary>The base address of the running host.</summary>
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    /// <summary>The host's output, all starts appended.</summary>
    public string LogPath { get; }

    /// <summary>True while the process runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The exit code of the last process that exited (null while one runs or before the first).</summary>
    public int? ExitCode { get; private set; }

    /// <summary>Starts the host on a new free port (a killed host's port may linger in TIME_WAIT), with extra command-line arguments.</summary>
    public void Start(params string[] arguments)
    {
        ExitCode = null;
        var port = FreePort();
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(_dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(_dll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(BaseAddress.ToString().TrimEnd('/'));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in _environment)
        {
            start.Environment[key] = value;
        }

        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        Write($"---- start on {BaseAddress} at {DateTimeOffset.UtcNow:O}");
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    /// <summary>Waits until <c>/readyz</c> answers 200; fails when the process exits first or the deadline passes.</summary>
    public async Task WaitReadyAsync(HttpClient client, TimeSpan deadline)
    {
        var started = Stopwatch.StartNew();
        while (true)
        {
            if (_process is not { HasExited: false })
            {
                throw new InvalidOperationException($"The host exited with code {_process?.ExitCode} before it was ready; see {LogPath}.");
            }

            try
            {
                using var response = await client.GetAsync(new Uri(BaseAddress, "readyz"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (started.Elapsed > deadline)
            {
                throw new TimeoutException($"The host was not ready within {deadline}; see {LogPath}.");
            }

            // Polling another process's readiness: there is nothing to wait on but its port.
            await Task.Delay(50);
        }
    }

    /// <summary>Waits until the process exits by itself (a refused start, a lost lease); returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan deadline)
    {
        var process = _process ?? throw new InvalidOperationException("Not started.");
        using var timeout = new CancellationTokenSource(deadline);
        await process.WaitForExitAsync(timeout.Token);
        var code = process.ExitCode;
        Write($"---- exited by itself, exit code {code}, at {DateTimeOffset.UtcNow:O}");
        process.Dispose();
        _process = null;
        ExitCode = code;
        return code;
    }

    /// <summary>SIGSTOP: the process is frozen (its clocks keep running) until <see cref="ResumeAsync"/>.</summary>
    public Task PauseAsync() => SignalAsync("-STOP", "paused (SIGSTOP)");

    /// <summary>SIGCONT after <see cref="PauseAsync"/>.</summary>
    public Task ResumeAsync() => SignalAsync("-CONT", "resumed (SIGCONT)");

    /// <summary>SIGKILL (the whole process tree) and wait for the exit.</summary>
    public void Kill()
    {
        var process = _process ?? throw new InvalidOperationException("Not started.");
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
        Write($"---- killed (SIGKILL) at {DateTimeOffset.UtcNow:O}");
        process.Dispose();
        _process = null;
    }

    /// <summary>SIGTERM (a graceful stop: drain, close the journal) and wait for the exit.</summary>
    public async Task StopAsync()
    {
        var process = _process ?? throw new InvalidOperationException("Not started.");
        await SignalAsync("-TERM", "stopping (SIGTERM)");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(deadline.Token);
        Write($"---- stopped (SIGTERM), exit code {process.ExitCode}, at {DateTimeOffset.UtcNow:O}");
        ExitCode = process.ExitCode;
        process.Dispose();
        _process = null;
    }

    private async Task SignalAsync(string signal, string what)
    {
        var process = _process ?? throw new InvalidOperationException("Not started.");
        using (var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { signal, process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false }))
        {
            await kill!.WaitForExitAsync();
        }

        Write($"---- {what} at {DateTimeOffset.UtcNow:O}");
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process?.Dispose();
        _log.Dispose();
    }

    private void Write(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.WriteLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
