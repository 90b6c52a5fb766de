using System.CommandLine;
using System.Text.Json;
using Azure.Storage.Queues;
using FuncMap.LoadGen;
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

    var (messages, totals) = workload.Build(parse.GetValue(base64));
    var client = new QueueClient(parse.GetValue(connection)!, parse.GetValue(queue)!, StorageClientDefaults.Queues());
    await client.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
    var started = System.Diagnostics.Stopwatch.StartNew();
    await AnsiConsole.Progress()
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
        .StartAsync(async progress =>
        {
            var task = progress.AddTask($"Sending {messages.Count} batches to {client.Name}", maxValue: messages.Count);
            await Parallel.ForEachAsync(messages, new ParallelOptions { MaxDegreeOfParallelism = parse.GetValue(concurrency), CancellationToken = cancellationToken }, async (text, ct) =>
            {
                await client.SendMessageAsync(text, cancellationToken: ct);
                task.Increment(1);
            });
        });

    var itemCount = (long)messages.Count * parse.GetValue(items);
    AnsiConsole.MarkupLineInterpolated($"Sent [green]{messages.Count}[/] batches ({itemCount} items) in {started.Elapsed.TotalSeconds:0.0} s.");
    var file = parse.GetValue(expectedFile)!;
    await File.WriteAllTextAsync(file.FullName, JsonSerializer.Serialize(totals, new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
    AnsiConsole.WriteLine(QueueFill.Summarize(totals, file.FullName));
    return 0;
});

var root = new RootCommand("FuncMap load generator.") { fill };
return await root.Parse(args).InvokeAsync();
