using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using FuncMap.Client;
using Microsoft.Extensions.DependencyInjection;

// End-to-end increments/s until durable and visible, through FuncMapClient: (a) AddAsync per increment, (b) CounterBuffer,
// the same callers, on one hot key and on 1,024 keys; HTTP requests sent per 1,000,000 increments; p99 flush latency.
// Each case ends when every increment is acknowledged (Journal mode: in the journal), and its totals are read back.
//   dotnet run -c Release --project bench/FuncMap.Client.Benchmarks [-- --smoke] [--seconds 10] [--callers 64] [--url URL]
var smoke = args.Contains("--smoke");
var seconds = Option("--seconds", smoke ? 2 : 10);
var callers = Option("--callers", 64);
var url = OptionText("--url");

using var host = url is null ? LocalHost.Start() : null;
var baseAddress = url is null ? host!.BaseAddress : new Uri(url);
await (host?.WaitReadyAsync() ?? Task.CompletedTask);

Console.WriteLine($"host {baseAddress}, {callers} callers, {seconds} s per case, {Environment.ProcessorCount} cores");
Console.WriteLine("| keys | way | increments | increments/s | HTTP requests per 1,000,000 increments | p99 flush (ms) | totals |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach (var keys in new[] { 1, 1024 })
{
    var perAdd = await RunAsync(baseAddress, keys, callers, TimeSpan.FromSeconds(seconds), buffered: false);
    var buffered = await RunAsync(baseAddress, keys, callers, TimeSpan.FromSeconds(seconds), buffered: true);
    Console.WriteLine($"| {keys} | AddAsync | {perAdd.Increments:N0} | {perAdd.PerSecond:N0} | {perAdd.RequestsPerMillion:N0} | – | {perAdd.Exact} |");
    Console.WriteLine($"| {keys} | CounterBuffer | {buffered.Increments:N0} | {buffered.PerSecond:N0} | {buffered.RequestsPerMillion:N1} | {buffered.P99FlushMs:N0} | {buffered.Exact} |");
    Console.WriteLine($"| {keys} | ratio | | {buffered.PerSecond / perAdd.PerSecond:N0}× | {perAdd.RequestsPerMillion / Math.Max(buffered.RequestsPerMillion, 1e-9):N0}× fewer | | |");
}

return 0;

static async Task<Result> RunAsync(Uri baseAddress, int keyCount, int callers, TimeSpan duration, bool buffered)
{
    var services = new ServiceCollection();
    services.AddFuncMapClient(o => o.BaseAddress = baseAddress);
    services.AddFuncMapCounterBuffer();
    await using var provider = services.BuildServiceProvider();
    var meters = provider.GetRequiredService<IMeterFactory>();
    long requests = 0;
    var flushes = new List<double>();
    using var listener = new MeterListener();
    listener.InstrumentPublished = (instrument, l) =>
    {
        if (instrument.Meter.Name == ClientInstruments.MeterName && instrument.Meter.Scope == meters
            && instrument.Name is ClientInstruments.Requests or ClientInstruments.FlushDuration)
        {
            l.EnableMeasurementEvents(instrument);
        }
    };
    listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref requests, value));
    listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
    {
        lock (flushes)
        {
            flushes.Add(value);
        }
    });
    listener.Start();

    var client = provider.GetRequiredService<FuncMapClient>();
    var prefix = $"bench-{(buffered ? "buf" : "add")}-{keyCount}-{Guid.NewGuid().ToString("N")[..6]}:";
    var counts = new long[keyCount];
    var stopwatch = Stopwatch.StartNew();
    using var stop = new CancellationTokenSource(duration);
    var buffer = buffered ? provider.GetRequiredService<CounterBuffer>() : null;
    var tasks = Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
    {
        var local = new long[keyCount];
        var i = c;
        while (!stop.IsCancellationRequested)
        {
            var k = i++ % keyCount;
            if (buffer is null)
            {
                await client.AddAsync(prefix + k, 1);
            }
            else
            {
                buffer.Increment(prefix + k, 1);
                if ((i & 1023) == 0)
                {
                    await Task.Yield();
                }
            }

            local[k]++;
        }

        lock (counts)
        {
            for (var k = 0; k < keyCount; k++)
            {
                counts[k] += local[k];
            }
        }
    })).ToArray();
    await Task.WhenAll(tasks);
    if (buffer is not null)
    {
        var closed = await buffer.CloseAsync();
        if (!closed.IsComplete)
        {
            throw new InvalidOperationException($"The buffer did not send everything: {closed.LastError}");
        }
    }

    var elapsed = stopwatch.Elapsed;
    listener.Dispose();
    var total = counts.Sum();
    var exact = true;
    for (var k = 0; k < keyCount; k++)
    {
        exact &= ((await client.GetAsync(prefix + k))?.Value ?? 0) == counts[k];
    }

    double p99;
    lock (flushes)
    {
        flushes.Sort();
        p99 = flushes.Count == 0 ? 0 : flushes[Math.Min(flushes.Count - 1, (int)Math.Ceiling(flushes.Count * 0.99) - 1)] * 1000;
    }

    return new Result(total, total / elapsed.TotalSeconds, requests * 1_000_000.0 / Math.Max(total, 1), p99, exact ? "exact" : "WRONG");
}

int Option(string name, int fallback) =>
    OptionText(name) is { } text ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

string? OptionText(string name)
{
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}

/// <summary>One case's figures.</summary>
internal sealed record Result(long Increments, double PerSecond, double RequestsPerMillion, double P99FlushMs, string Exact);

/// <summary>The local host as a child process (<c>dotnet FuncMap.Local.dll</c>): Journal mode, storage off, a fresh data directory.</summary>
internal sealed class LocalHost : IDisposable
{
    private readonly Process _process;
    private readonly string _data;

    private LocalHost(Process process, Uri baseAddress, string data)
    {
        _process = process;
        BaseAddress = baseAddress;
        _data = data;
    }

    public Uri BaseAddress { get; }

    public static LocalHost Start()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var data = Path.Combine(Path.GetTempPath(), "funcmap-client-bench-" + Guid.NewGuid().ToString("N"));
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[]
        {
            Path.Combine(AppContext.BaseDirectory, "FuncMap.Local.dll"), "--urls", $"http://127.0.0.1:{port}",
            "--FuncMap:Storage:Enabled=false", "--FuncMap:Durability:Mode=Journal", $"--FuncMap:DataDirectory={data}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(start)!;
        process.OutputDataReceived += static (_, _) => { };
        process.ErrorDataReceived += static (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine("host: " + e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new LocalHost(process, new Uri($"http://127.0.0.1:{port}/"), data);
    }

    public async Task WaitReadyAsync()
    {
        using var http = new HttpClient { BaseAddress = BaseAddress };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                using var response = await http.GetAsync(new Uri("readyz", UriKind.Relative));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("The local host did not become ready in 60 s.");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }
}
