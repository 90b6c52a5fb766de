using System.CommandLine;
using System.Text.Json;
using Azure.Storage.Queues;
using FuncMap.LoadGen;
using FuncMap.LoadGen.Functions;
using FuncMap.Storage;
using Spectre.Console;

var batches = new Option<int>("--batches") { Description = "Number of batches (queue messages).", DefaultValueFactory = _ => 1000 };
var items = new Option<int>("--items-per-batch") { Description = "Items per batch.", DefaultValueFactory = _ => 20 };
var keys = new Option<int>("--keys") { Description = "Distinct keys the items are spread over.", DefaultValueFactory = _ => 100 };
var connection = new Option<string>("--connection") { Description = "Storage connection string.", DefaultValueFactory = _ => "UseDevelopmentStorage=true" };
var queue = new Option<string>("--queue") { Description = "Queue name.", DefaultValueFactory = _ => "counter-increments" };
var base64 = new Option<bool>("--base64") { Description = "Base64-encode the messages (as the Azure SDK does by default)." };
var prefix = new Option<string>("--prefix") { Description = "Key prefix.", DefaultValueFactory = _ => "load:" };
var seed = new Option<int>("--seed") { Description = "Seed of the workload (same seed, same totals).", DefaultValueFactory = _ => 12345 };
var concurrency = new Option<int>("--concurrency") { Description = "Concurrent sends.", DefaultValueFactory = _ => 32 };
var expectedFile = new Option<FileInfo>("--expected")
{
    Description = "Where the expected totals (JSON: key → value) are written; the terminal gets a summary.",
    DefaultValueFactory = _ => new FileInfo("loadgen-expected.json"),
};

var fill = new Command("fill", "Put increment batches on the queue and report the totals they must produce.")
{
    batches, items, keys, connection, queue, base64, prefix, seed, concurrency, expectedFile,
};
fill.SetAction(async (parse, cancellationToken) =>
{
    var workload = new QueueFill(parse.GetValue(batches), parse.GetValue(items), parse.GetValue(keys), parse.GetValue(prefix)!, parse.GetValue(seed));
    if (workload.Validate() is { } invalid)
    {
        // Every message would be poisoned: say so before sending any.
        await Console.Error.WriteLineAsync(invalid);
        return 2;
    }

    var built = workload.Build(parse.GetValue(base64));
    var client = new QueueClient(parse.GetValue(connection)!, parse.GetValue(queue)!, StorageClientDefaults.Queues());
    await client.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
    var started = System.Diagnostics.Stopwatch.StartNew();
    FillResult result = null!;
    await AnsiConsole.Progress()
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
        .StartAsync(async progress =>
        {
            var task = progress.AddTask($"Sending {built.Count} batches to {client.Name}", maxValue: built.Count);
            // Ctrl+C stops starting sends; the ones in flight finish, so the totals are exactly those of the sent batches.
            result = await QueueFill.SendAsync(built, text => client.SendMessageAsync(text, CancellationToken.None), parse.GetValue(concurrency), () => task.Increment(1), cancellationToken);
        });

    var file = parse.GetValue(expectedFile)!;
    await File.WriteAllTextAsync(file.FullName, JsonSerializer.Serialize(result.Totals, new JsonSerializerOptions { WriteIndented = true }), CancellationToken.None);
    // Console, not AnsiConsole: Spectre wraps at the terminal width, and this is one line.
    Console.WriteLine(QueueFill.Summarize(result, built.Count, started.Elapsed, file.FullName));
    return result.Error is not null ? 1 : result.Stopped ? 130 : 0;
});

// `verify`: the expected totals of a fill against the service.
var verifyUrl = new Option<string>("--base-url") { Description = "The service's API root (the local host: http://127.0.0.1:5080/api; the Functions app: http://127.0.0.1:7071/api).", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FUNCMAP_BASE_URL") ?? "http://127.0.0.1:5080/api" };
var verifyKey = new Option<string?>("--function-key") { Description = "A function key or FuncMap:AccessKey, sent as x-functions-key (default: FUNCMAP_FUNCTION_KEY).", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FUNCMAP_FUNCTION_KEY") };
var verifyExpected = new Option<FileInfo>("--expected") { Description = "The expected totals written by fill (JSON: key → value).", DefaultValueFactory = _ => new FileInfo("loadgen-expected.json") };
var verify = new Command("verify", "Compare the expected totals of a fill with the service's counters; print every key that differs.")
{
    verifyUrl, verifyKey, verifyExpected, concurrency,
};
verify.SetAction(async (parse, cancellationToken) =>
{
    var file = parse.GetValue(verifyExpected)!;
    var expected = JsonSerializer.Deserialize<Dictionary<string, long>>(await File.ReadAllTextAsync(file.FullName, cancellationToken)) ?? [];
    var api = parse.GetValue(verifyUrl)!;
    using var http = new HttpClient { BaseAddress = new Uri(api.EndsWith('/') ? api : api + "/") };
    if (parse.GetValue(verifyKey) is { Length: > 0 } key)
    {
        http.DefaultRequestHeaders.Add("x-functions-key", key);
    }

    var differing = await ExpectedTotals.DifferencesAsync(http, expected, parse.GetValue(concurrency), cancellationToken);
    foreach (var (name, want, got) in differing)
    {
        Console.WriteLine($"{name}: expected {want}, service {(got is { } v ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "missing (404)")}");
    }

    Console.WriteLine(differing.Count == 0
        ? $"All {expected.Count} keys of {file.Name} match the service at {api}."
        : $"{differing.Count} of {expected.Count} keys of {file.Name} differ from the service at {api} (listed above).");
    return differing.Count == 0 ? 0 : 1;
});

// `functions` and `functions-restart`: HTTP load on a running Functions app (bench/functions/run.sh, restart.sh).
var baseUrl = new Option<string?>("--base-url") { Description = "The app's API root, e.g. http://127.0.0.1:7071/api (default: FUNCMAP_BASE_URL).", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FUNCMAP_BASE_URL") };
var functionKey = new Option<string?>("--function-key") { Description = "A function key (default: FUNCMAP_FUNCTION_KEY; none for func start).", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("FUNCMAP_FUNCTION_KEY") };
var callers = new Option<int>("--concurrency") { Description = "Concurrent callers (closed loop).", DefaultValueFactory = _ => 16 };
var noopOps = new Option<int>("--noop-ops") { Description = "Requests to the no-op function per round (keep a round ≥ 10 s at the rate seen).", DefaultValueFactory = _ => 16000 };
var hotOps = new Option<int>("--hot-ops") { Description = "Adds on the hot key per round (keep a round ≥ 10 s at the rate seen).", DefaultValueFactory = _ => 8000 };
var spreadOps = new Option<int>("--spread-ops") { Description = "Adds over the spread keys per round.", DefaultValueFactory = _ => 2000 };
var spreadKeys = new Option<int>("--spread-keys") { Description = "Keys of the spread and batch phases.", DefaultValueFactory = _ => 1000 };
var batchCount = new Option<int>("--batches") { Description = "Batch requests per round.", DefaultValueFactory = _ => 32 };
var batchItems = new Option<int>("--batch-items") { Description = "Items (distinct keys, delta 1) per batch.", DefaultValueFactory = _ => 100 };
var priorOps = new Option<int>("--prior-ops") { Description = "Adds driven into the hub between the fresh and the after round (0: no after round).", DefaultValueFactory = _ => 100_000 };
var priorKeys = new Option<int>("--prior-keys") { Description = "Keys the prior adds are spread over.", DefaultValueFactory = _ => 1000 };
var priorConcurrency = new Option<int?>("--prior-concurrency") { Description = "Callers of the prior adds (default: --concurrency)." };
var applyTimeout = new Option<double>("--apply-timeout") { Description = "Seconds a phase may wait for its totals after its last answer.", DefaultValueFactory = _ => 1800 };
var markdown = new Option<FileInfo?>("--markdown") { Description = "Also write the table (markdown) here." };

var functions = new Command("functions", "Applied operations per second of a running Functions app: no-op, hot key, spread keys, batches; fresh and after prior adds.")
{
    baseUrl, functionKey, callers, noopOps, hotOps, spreadOps, spreadKeys, batchCount, batchItems, priorOps, priorKeys, priorConcurrency, applyTimeout, markdown,
};
functions.SetAction(async (parse, cancellationToken) =>
{
    if (string.IsNullOrEmpty(parse.GetValue(baseUrl)))
    {
        await Console.Error.WriteLineAsync("No app: give --base-url or FUNCMAP_BASE_URL (the API root of a running Functions app, e.g. http://127.0.0.1:7071/api) and its key (--function-key / FUNCMAP_FUNCTION_KEY).");
        return 2;
    }

    var concurrency = parse.GetValue(callers);
    using var api = new FunctionsApi(new Uri(parse.GetValue(baseUrl)!), parse.GetValue(functionKey), Math.Max(concurrency, parse.GetValue(priorConcurrency) ?? 0));
    var probe = await api.ProbeNoopAsync(cancellationToken);
    if (probe != System.Net.HttpStatusCode.Accepted)
    {
        await Console.Error.WriteLineAsync($"POST bench/noop answered {(int)probe}, not 202: start the app with the app setting FuncMap__Bench__NoopEndpoint=true (and give its function key).");
        return 2;
    }

    var bench = new FunctionsBench(api, new FunctionsBenchSettings(
        concurrency, parse.GetValue(noopOps), parse.GetValue(hotOps), parse.GetValue(spreadOps), parse.GetValue(spreadKeys),
        parse.GetValue(batchCount), parse.GetValue(batchItems), parse.GetValue(priorOps), parse.GetValue(priorKeys),
        parse.GetValue(priorConcurrency) ?? concurrency, TimeSpan.FromSeconds(parse.GetValue(applyTimeout))));
    var exact = await bench.RunAsync(cancellationToken);
    var table = bench.Table();
    Console.WriteLine(table);
    if (parse.GetValue(markdown) is { } file)
    {
        await File.WriteAllTextAsync(file.FullName, table, cancellationToken);
    }

    return exact ? 0 : 1;
});

var duration = new Option<double>("--duration") { Description = "Seconds of load (the host is stopped and started by someone else meanwhile).", DefaultValueFactory = _ => 60 };
var restartKeys = new Option<int>("--keys") { Description = "Spread keys beside the hot key.", DefaultValueFactory = _ => 200 };
var settle = new Option<double>("--settle") { Description = "With unknown adds: seconds the totals must stay unchanged before they are checked.", DefaultValueFactory = _ => 60 };
var checkTimeout = new Option<double>("--timeout") { Description = "Seconds to wait for the totals after the load.", DefaultValueFactory = _ => 900 };
var keysOut = new Option<string?>("--keys-out") { Description = "Also write every key's acked, unknown and total adds here (JSON lines)." };
var exactOption = new Option<bool>("--exact") { Description = "Require every total to equal its acked adds exactly: no unknown add may count (a graceful stop answers every request it ran)." };
var restart = new Command("functions-restart", "Adds on a hot key and spread keys across a host restart, then checks: no acked add lost or counted twice.")
{
    baseUrl, functionKey, callers, duration, restartKeys, settle, checkTimeout, exactOption, keysOut,
};
restart.SetAction(async (parse, cancellationToken) =>
{
    if (string.IsNullOrEmpty(parse.GetValue(baseUrl)))
    {
        await Console.Error.WriteLineAsync("No app: give --base-url or FUNCMAP_BASE_URL and its key (--function-key / FUNCMAP_FUNCTION_KEY).");
        return 2;
    }

    using var api = new FunctionsApi(new Uri(parse.GetValue(baseUrl)!), parse.GetValue(functionKey), parse.GetValue(callers));
    var load = new RestartLoad(api, parse.GetValue(callers), parse.GetValue(restartKeys), TimeSpan.FromSeconds(parse.GetValue(duration)),
        TimeSpan.FromSeconds(parse.GetValue(settle)), TimeSpan.FromSeconds(parse.GetValue(checkTimeout)), parse.GetValue(keysOut));
    return await load.RunAsync(parse.GetValue(exactOption), cancellationToken);
});

var root = new RootCommand("FuncMap load generator.") { fill, verify, functions, restart };
// Ctrl+C cancels the action's token (System.CommandLine 2.0 leaves it unhandled without a timeout): fill then writes
// the totals of what it sent; the process is ended only if the action has not returned 30 s later.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
