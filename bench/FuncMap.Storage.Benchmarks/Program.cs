using System.Diagnostics;
using System.Globalization;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using FuncMap.Counters;
using FuncMap.Engine;
using FuncMap.Journal;
using FuncMap.Local.Storage;
using FuncMap.LoadGen;
using FuncMap.Storage;
using FuncMap.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// Storage benchmarks, each next to its raw Azure SDK baseline on the same Azurite in the same run:
//   ingestion increments/s vs raw SDK receive+delete of the same messages with the same loop count;
//   snapshot of 10k changed counters among N vs raw SDK transactions of the same 10k rows;
//   restore of R rows vs a raw SDK scan of the same table (sequential, and by partition range in parallel).
// Usage: dotnet run -c Release --project bench/FuncMap.Storage.Benchmarks [-- --batches 2000 --counters 1000000 --rows 100000 --rounds 3 --only ingestion,snapshot,restore]
var options = Args.Parse(args);
await using var azurite = new AzuriteFixture();
await azurite.StartAsync();
var connection = new Connection(new TableServiceClient(azurite.ConnectionString, StorageClientDefaults.Tables()), new QueueServiceClient(azurite.ConnectionString, StorageClientDefaults.Queues()));
Console.WriteLine($"Azurite on {azurite.TableEndpoint}; {Environment.ProcessorCount} cores; {options}");

var results = new List<string>();
for (var round = 1; round <= options.Rounds && options.Runs("ingestion"); round++)
{
    Console.WriteLine($"--- round {round}");
    results.AddRange(await Ingestion.RunAsync(azurite, connection, options, round));
}

if (options.Runs("ingestion"))
{
    results.Add(Ingestion.Summary());
}

if (options.Runs("snapshot"))
{
    results.AddRange(await Snapshot.RunAsync(connection, options));
}

if (options.Runs("restore"))
{
    results.AddRange(await Restore.RunAsync(connection, options));
}
Console.WriteLine();
foreach (var line in results)
{
    Console.WriteLine(line);
}

/// <summary>The SDK service clients of the Azurite under test.</summary>
internal sealed record Connection(TableServiceClient Tables, QueueServiceClient Queues)
{
    public TableClient GetTableClient(string name) => Tables.GetTableClient(name);

    public QueueClient GetQueueClient(string name) => Queues.GetQueueClient(name);
}

internal sealed record Args(int Batches, int ItemsPerBatch, int Keys, int Concurrency, int Counters, int Changed, int Rows, int Rounds, string Only)
{
    public bool Runs(string part) => Only.Split(',').Contains(part, StringComparer.OrdinalIgnoreCase);

    public static Args Parse(string[] args)
    {
        int Get(string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
        }

        return new Args(Get("--batches", 2000), Get("--items-per-batch", 20), Get("--keys", 1000), Get("--concurrency", 4),
            Get("--counters", 1_000_000), Get("--changed", 10_000), Get("--rows", 100_000), Get("--rounds", 3),
            Array.IndexOf(args, "--only") is var o && o >= 0 && o + 1 < args.Length ? args[o + 1] : "ingestion,snapshot,restore");
    }
}

internal static class Ingestion
{
    public static async Task<List<string>> RunAsync(AzuriteFixture azurite, Connection connection, Args o, int round)
    {
        var workload = new QueueFill(o.Batches, o.ItemsPerBatch, o.Keys, seed: round);
        var lines = new List<string>();
        var items = (double)o.Batches * o.ItemsPerBatch;

        // The baseline runs first in odd rounds and last in even ones, so that neither side always meets a warmer Azurite.
        var rawRate = round % 2 == 1 ? await RawAsync() : 0;
        foreach (var mode in new[] { DurabilityMode.Journal, DurabilityMode.Snapshot })
        {
            var (applied, deleted) = await FuncMapAsync(mode);
            (mode == DurabilityMode.Journal ? JournalDeleted : SnapshotApplied).Add(mode == DurabilityMode.Journal ? deleted : applied);
        }

        if (round % 2 == 0)
        {
            rawRate = await RawAsync();
        }

        Raw.Add(rawRate);
        lines.Add($"ingest round {round}: ratios to this round's raw rate: Journal until deleted {JournalDeleted[^1] / rawRate:0.00}x, Snapshot until applied {SnapshotApplied[^1] / rawRate:0.00}x");
        foreach (var line in lines)
        {
            Console.WriteLine(line);
        }

        return lines;

        async Task<double> RawAsync()
        {
            // Baseline: receive up to 32 + delete each, with the same number of receive loops, same messages.
            var queue = connection.GetQueueClient(AzuriteFixture.UniqueQueueName("raw"));
            await FillAsync(queue, [.. workload.Build(base64: false).Select(static batch => batch.Message)]);
            var raw = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, o.Concurrency).Select(async _ =>
            {
                while (true)
                {
                    var messages = (await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(60))).Value;
                    if (messages.Length == 0)
                    {
                        return;
                    }

                    await Task.WhenAll(messages.Select(m => queue.DeleteMessageAsync(m.MessageId, m.PopReceipt)));
                }
            }));
            raw.Stop();
            var rate = items / raw.Elapsed.TotalSeconds;
            lines.Add($"ingest round {round}: raw SDK receive+delete {o.Batches} msgs in {raw.Elapsed.TotalSeconds:0.00} s = {rate:N0} items/s ({o.Batches / raw.Elapsed.TotalSeconds:N0} msgs/s)");
            return rate;
        }

        async Task<(double Applied, double Deleted)> FuncMapAsync(DurabilityMode mode)
        {
            var name = AzuriteFixture.UniqueQueueName("ing");
            var q = connection.GetQueueClient(name);
            var batches = workload.Build(base64: false);
            var totals = batches.SelectMany(static batch => batch.Items)
                .GroupBy(static item => item.Key, StringComparer.Ordinal)
                .Select(static key => (Key: key.Key, Value: key.Sum(static item => item.Delta)));
            await FillAsync(q, [.. batches.Select(static batch => batch.Message)]);
            var dataDir = Path.Combine(Path.GetTempPath(), "funcmap-bench-" + Guid.NewGuid().ToString("N"));
            using var host = BenchHost.Build(azurite.ConnectionString, name, dataDir, mode, o.Concurrency);
            var engine = host.Services.GetRequiredService<CounterEngine>();
            var ingestion = host.Services.GetRequiredService<QueueIngestionService>();
            await host.StartAsync();
            await host.Services.GetRequiredService<StartGate>().WhenLoaded;
            var timer = Stopwatch.StartNew();
            while (ingestion.AppliedBatches < o.Batches)
            {
                await Task.Delay(5);
            }

            var appliedIn = timer.Elapsed;
            // Done when every message was deleted too (Snapshot mode: only after a snapshot persisted it).
            while ((await q.GetPropertiesAsync()).Value.ApproximateMessagesCount > 0)
            {
                await Task.Delay(5);
            }

            timer.Stop();
            foreach (var (key, value) in totals)
            {
                if (!engine.TryGet(key, out var c) || c.Value != value)
                {
                    throw new InvalidOperationException($"{key}: expected {value}, got {c.Value}");
                }
            }

            await host.StopAsync();
            Directory.Delete(dataDir, recursive: true);
            var rate = items / timer.Elapsed.TotalSeconds;
            var appliedRate = items / appliedIn.TotalSeconds;
            lines.Add($"ingest round {round}: FuncMap ({mode}) {o.Batches} msgs applied in {appliedIn.TotalSeconds:0.00} s = {appliedRate:N0} items/s, all deleted in {timer.Elapsed.TotalSeconds:0.00} s = {rate:N0} items/s (totals exact)");
            return (appliedRate, rate);
        }
    }

    /// <summary>Per-round rates (items/s): the raw baseline, Journal mode until deleted, Snapshot mode until applied.</summary>
    public static List<double> Raw { get; } = [];

    public static List<double> JournalDeleted { get; } = [];

    public static List<double> SnapshotApplied { get; } = [];

    /// <summary>The summary of all rounds: medians, and the median of the per-round ratios.</summary>
    public static string Summary()
    {
        var ratios = JournalDeleted.Zip(Raw, static (j, r) => j / r).ToList();
        return $"ingest: {Raw.Count} rounds, medians: raw SDK receive+delete {Snapshot.Median(Raw):N0} items/s, FuncMap Journal until applied and deleted {Snapshot.Median(JournalDeleted):N0} items/s " +
            $"(ratio of medians {Snapshot.Median(JournalDeleted) / Snapshot.Median(Raw):0.00}x, median of per-round ratios {Snapshot.Median(ratios):0.00}x), Snapshot mode until applied {Snapshot.Median(SnapshotApplied):N0} items/s";
    }

    private static async Task FillAsync(QueueClient queue, List<string> messages)
    {
        await queue.CreateIfNotExistsAsync();
        await Parallel.ForEachAsync(messages, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (m, ct) => await queue.SendMessageAsync(m, ct));
    }
}

internal static class BenchHost
{
    public static IHost Build(string connectionString, string queue, string dataDir, DurabilityMode mode, int concurrency)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FuncMap:Storage:ConnectionString"] = connectionString,
            ["FuncMap:Storage:TableName"] = AzuriteFixture.UniqueTableName("bench"),
            ["FuncMap:Storage:LeaseTableName"] = AzuriteFixture.UniqueTableName("lease"),
            ["FuncMap:Storage:QueueName"] = queue,
            ["FuncMap:Storage:PoisonQueueName"] = queue + "-poison",
            ["FuncMap:Storage:IngestionConcurrency"] = concurrency.ToString(CultureInfo.InvariantCulture),
            ["FuncMap:Storage:MaxPollDelay"] = "00:00:00.050",
            ["FuncMap:DataDirectory"] = dataDir,
            ["FuncMap:Durability:Mode"] = mode.ToString(),
            ["FuncMap:Journal:Directory"] = Path.Combine(dataDir, "journal"),
        });
        builder.Services.AddOptions<CounterEngineOptions>();
        builder.Services.AddFuncMapJournal(builder.Configuration);
        builder.Services.AddSingleton(p =>
        {
            var log = p.GetService<IOperationLog>();
            var opts = p.GetRequiredService<IOptions<CounterEngineOptions>>().Value;
            return log is null ? new CounterEngine(opts) : CounterEngine.CreateJournaled(opts, log);
        });
        // What FuncMap.Local's EngineHostedService does: loaders in order, then start.
        builder.Services.AddHostedService<EngineStarter>();
        builder.Services.AddFuncMapStorage(builder.Configuration);
        return builder.Build();
    }

    private sealed class EngineStarter(CounterEngine engine, IEnumerable<ICounterLoader> loaders) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            foreach (var loader in loaders.OrderBy(static l => l.Order))
            {
                await loader.LoadAsync(engine, stoppingToken);
            }

            engine.Start();
        }
    }
}

internal static class Snapshot
{
    public static async Task<List<string>> RunAsync(Connection connection, Args o)
    {
        var lines = new List<string>();
        await using var engine = new CounterEngine(new CounterEngineOptions());
        var now = DateTimeOffset.UtcNow.UtcTicks;
        for (var i = 0; i < o.Counters; i++)
        {
            engine.Load("c:" + i.ToString(CultureInfo.InvariantCulture), new CounterData { Value = i, Version = 1, UpdatedAtTicks = now, Exists = true }, null, persisted: true);
        }

        engine.Start();
        var table = connection.GetTableClient(AzuriteFixture.UniqueTableName("snap"));
        await table.CreateIfNotExistsAsync();
        var writer = new CounterSnapshotWriter(table, new StorageOptions().SnapshotParallelism);
        var stride = o.Counters / o.Changed;
        var ours = new List<double>();
        var raws = new List<double>();
        // Baseline rows: the same 10k keys (same partitions, same transaction size and parallelism), same columns, prebuilt.
        var at = DateTimeOffset.UtcNow;
        var rawRows = Enumerable.Range(0, o.Changed).Select(i => "c:" + (i * stride).ToString(CultureInfo.InvariantCulture))
            .Select(k => new TableEntity(CounterPartition.KeyOf(k), k) { ["Value"] = 1L, ["Version"] = 2L, ["UpdatedAt"] = at, ["OperationIds"] = "op-0-" + k })
            .GroupBy(static r => r.PartitionKey).Select(static g => g.ToList()).ToList();
        for (var round = 0; round < o.Rounds; round++)
        {
            // The baseline goes first in odd rounds, last in even ones.
            if (round % 2 == 1)
            {
                raws.Add(await RawAsync());
            }

            // 10k counters change (with an operation id each, as in production), then one snapshot run.
            await Parallel.ForEachAsync(Enumerable.Range(0, o.Changed), async (i, ct) =>
                await engine.ExecuteAsync("c:" + (i * stride).ToString(CultureInfo.InvariantCulture), CounterOperation.Add(1, $"op-{round}-{i}"), ct));
            var timer = Stopwatch.StartNew();
            var changes = await engine.CollectChangesAsync();
            await writer.WriteAsync(changes.Select(CounterRow.From), CancellationToken.None);
            await engine.MarkPersistedAsync(changes);
            timer.Stop();
            if (changes.Count != o.Changed)
            {
                throw new InvalidOperationException($"collected {changes.Count}, expected {o.Changed}");
            }

            ours.Add(timer.Elapsed.TotalMilliseconds);
            if (round % 2 == 0)
            {
                raws.Add(await RawAsync());
            }

            Console.WriteLine($"snapshot round {round + 1}: FuncMap {ours[^1]:N0} ms, raw SDK transactions {raws[^1]:N0} ms");
        }

        async Task<double> RawAsync()
        {
            var raw = Stopwatch.StartNew();
            await Parallel.ForEachAsync(rawRows, new ParallelOptions { MaxDegreeOfParallelism = new StorageOptions().SnapshotParallelism }, async (partition, ct) =>
            {
                for (var s = 0; s < partition.Count; s += 100)
                {
                    await table.SubmitTransactionAsync(partition.Skip(s).Take(100).Select(static r => new TableTransactionAction(TableTransactionActionType.UpsertReplace, r)), ct);
                }
            });
            return raw.Elapsed.TotalMilliseconds;
        }

        var (m, r) = (Median(ours), Median(raws));
        lines.Add($"snapshot: {o.Changed:N0} changed among {o.Counters:N0} counters: FuncMap (collect+write+mark) median {m:N0} ms vs raw SDK transactions of the same {o.Changed:N0} rows {r:N0} ms, ratio {m / r:0.00}x");
        return lines;
    }

    internal static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}

internal static class Restore
{
    public static async Task<List<string>> RunAsync(Connection connection, Args o)
    {
        var table = connection.GetTableClient(AzuriteFixture.UniqueTableName("restore"));
        await table.CreateIfNotExistsAsync();
        var fill = Stopwatch.StartNew();
        var now = DateTimeOffset.UtcNow;
        var partitions = Enumerable.Range(0, o.Rows).Select(i => "r:" + i.ToString(CultureInfo.InvariantCulture)).GroupBy(CounterPartition.KeyOf).ToList();
        await Parallel.ForEachAsync(partitions, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (g, ct) =>
        {
            foreach (var chunk in g.Chunk(100))
            {
                await table.SubmitTransactionAsync(chunk.Select(k => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(g.Key, k)
                {
                    ["Value"] = 7L, ["Version"] = 3L, ["UpdatedAt"] = now, ["OperationIds"] = "op-a\nop-b",
                })), ct);
            }
        });
        Console.WriteLine($"restore: wrote {o.Rows:N0} rows in {fill.Elapsed.TotalSeconds:0.0} s");

        var parallelism = new StorageOptions().RestoreParallelism;
        // Three measurements per round, in a rotating order so none always runs first (Azurite warms up, Node's GC).
        var names = new[] { "raw SDK sequential scan", "raw SDK parallel scan", "FuncMap restore (parallel ranges + Load)" };
        Func<Task<long>>[] runs =
        [
            async () =>
            {
                long seen = 0;
                await foreach (var page in table.QueryAsync<TableEntity>(maxPerPage: TableRestoreLoader.PageSize).AsPages())
                {
                    seen += page.Values.Count;
                }

                return seen;
            },
            () => RawParallelScanAsync(table, parallelism),
            async () =>
            {
                await using var engine = new CounterEngine(new CounterEngineOptions());
                var result = await TableRestoreLoader.LoadRowsAsync(table, engine, parallelism, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
                return Check(result.Rows, engine.CounterCount);
            },
        ];
        var times = names.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < o.Rounds; round++)
        {
            var line = new List<string>();
            for (var k = 0; k < runs.Length; k++)
            {
                var which = (k + round) % runs.Length;
                var timer = Stopwatch.StartNew();
                var rows = await runs[which]();
                timer.Stop();
                if (rows != o.Rows)
                {
                    throw new InvalidOperationException($"{names[which]}: {rows} rows, expected {o.Rows}");
                }

                times[which].Add(timer.Elapsed.TotalMilliseconds);
                line.Add($"{names[which]} {timer.Elapsed.TotalMilliseconds:N0} ms");
            }

            Console.WriteLine($"restore round {round + 1}: {string.Join(", ", line)}");
        }

        var m = times.Select(Snapshot.Median).ToArray();
        return
        [
            $"restore: {o.Rows:N0} rows, {o.Rounds} rounds, medians: raw SDK sequential scan {m[0]:N0} ms, raw SDK parallel scan ({parallelism} ranges at once) {m[1]:N0} ms, FuncMap restore {m[2]:N0} ms",
            $"restore ratios: FuncMap / raw SDK parallel scan {m[2] / m[1]:0.00}x; FuncMap / raw SDK sequential scan {m[2] / m[0]:0.00}x",
        ];

        long Check(long loaded, long inEngine) => loaded == inEngine ? loaded : throw new InvalidOperationException($"loaded {loaded}, in engine {inEngine}");
    }

    /// <summary>The parallel baseline: the same 64 PartitionKey ranges, as many at once, rows only counted.</summary>
    private static async Task<long> RawParallelScanAsync(TableClient table, int parallelism)
    {
        long seen = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, CounterPartition.Count), new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (partition, ct) =>
        {
            await foreach (var page in table.QueryAsync<TableEntity>(TableRestoreLoader.RangeFilter(partition), maxPerPage: TableRestoreLoader.PageSize, cancellationToken: ct).AsPages())
            {
                Interlocked.Add(ref seen, page.Values.Count);
            }
        });
        return seen;
    }
}
