using System.Diagnostics;
using System.Globalization;
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

// Storage benchmarks, each next to its raw baseline on the same Azurite in the same run:
//   ingestion increments/s vs raw receive+delete of the same messages;
//   snapshot of 10k changed counters among N vs a raw batched upsert of 10k rows;
//   restore of R rows vs a raw scan of the same table (sequential, and by partition range in parallel).
// Usage: dotnet run -c Release --project bench/FuncMap.Storage.Benchmarks [-- --batches 2000 --counters 1000000 --rows 100000 --rounds 3 --only ingestion,snapshot,restore]
var options = Args.Parse(args);
await using var azurite = new AzuriteFixture();
await azurite.StartAsync();
var connection = StorageConnection.FromConnectionString(azurite.ConnectionString);
Console.WriteLine($"Azurite on {azurite.TableEndpoint}; {Environment.ProcessorCount} cores; {options}");

var results = new List<string>();
for (var round = 1; round <= options.Rounds && options.Runs("ingestion"); round++)
{
    Console.WriteLine($"--- round {round}");
    results.AddRange(await Ingestion.RunAsync(azurite, connection, options, round));
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
    public static async Task<List<string>> RunAsync(AzuriteFixture azurite, StorageConnection connection, Args o, int round)
    {
        var workload = new QueueFill(o.Batches, o.ItemsPerBatch, o.Keys, seed: round);
        var lines = new List<string>();

        // Baseline: receive up to 32 + delete each, with the same number of receive loops, same messages.
        var queue = connection.GetQueueClient(AzuriteFixture.UniqueQueueName("raw"));
        await FillAsync(queue, workload.Build(base64: false).Messages);
        var raw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, o.Concurrency).Select(async _ =>
        {
            while (true)
            {
                var messages = await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(60));
                if (messages.Count == 0)
                {
                    return;
                }

                await Task.WhenAll(messages.Select(m => queue.DeleteMessageAsync(m.MessageId, m.PopReceipt)));
            }
        }));
        raw.Stop();
        var items = (double)o.Batches * o.ItemsPerBatch;
        var rawRate = items / raw.Elapsed.TotalSeconds;
        lines.Add($"ingest round {round}: raw receive+delete {o.Batches} msgs in {raw.Elapsed.TotalSeconds:0.00} s = {rawRate:N0} items/s ({o.Batches / raw.Elapsed.TotalSeconds:N0} msgs/s)");

        foreach (var mode in new[] { DurabilityMode.Journal, DurabilityMode.Snapshot })
        {
            var name = AzuriteFixture.UniqueQueueName("ing");
            var q = connection.GetQueueClient(name);
            var (messages, totals) = workload.Build(base64: false);
            await FillAsync(q, messages);
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
            while (await q.GetApproximateCountAsync() > 0)
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
            lines.Add($"ingest round {round}: FuncMap ({mode}) {o.Batches} msgs applied in {appliedIn.TotalSeconds:0.00} s = {appliedRate:N0} items/s (ratio {appliedRate / rawRate:0.00}x), all deleted in {timer.Elapsed.TotalSeconds:0.00} s = {rate:N0} items/s, ratio {rate / rawRate:0.00}x (totals exact)");
        }

        foreach (var line in lines)
        {
            Console.WriteLine(line);
        }

        return lines;
    }

    private static async Task FillAsync(IQueueClient queue, List<string> messages)
    {
        await queue.CreateIfNotExistsAsync();
        await Parallel.ForEachAsync(messages, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (m, ct) => await queue.SendMessageAsync(m, cancellationToken: ct));
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
    public static async Task<List<string>> RunAsync(StorageConnection connection, Args o)
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
        var writer = new SnapshotWriter(table, new StorageOptions().SnapshotParallelism);
        var stride = o.Counters / o.Changed;
        var ours = new List<double>();
        var raws = new List<double>();
        for (var round = 0; round < o.Rounds; round++)
        {
            // 10k counters change (with an operation id each, as in production), then one snapshot run.
            await Parallel.ForEachAsync(Enumerable.Range(0, o.Changed), async (i, ct) =>
                await engine.ExecuteAsync("c:" + (i * stride).ToString(CultureInfo.InvariantCulture), CounterOperation.Add(1, $"op-{round}-{i}"), ct));
            var timer = Stopwatch.StartNew();
            var changes = await engine.CollectChangesAsync();
            await writer.WriteAsync(changes, CancellationToken.None);
            await engine.MarkPersistedAsync(changes);
            timer.Stop();
            if (changes.Count != o.Changed)
            {
                throw new InvalidOperationException($"collected {changes.Count}, expected {o.Changed}");
            }

            ours.Add(timer.Elapsed.TotalMilliseconds);

            // Baseline: the same 10k rows (same partitions, same transaction size and parallelism), prebuilt, upserted.
            var rows = changes.Select(c => new TableEntity(CounterPartition.KeyOf(c.Key), c.Key) { ["Value"] = c.Data.Value, ["Version"] = c.Data.Version, ["UpdatedAt"] = c.Data.UpdatedAt, ["OperationIds"] = string.Join('\n', c.RecentOperationIds ?? []) })
                .GroupBy(static r => r.PartitionKey).Select(static g => g.ToList()).ToList();
            var raw = Stopwatch.StartNew();
            await Parallel.ForEachAsync(rows, new ParallelOptions { MaxDegreeOfParallelism = new StorageOptions().SnapshotParallelism }, async (partition, ct) =>
            {
                for (var s = 0; s < partition.Count; s += 100)
                {
                    await table.SubmitTransactionAsync(partition.Skip(s).Take(100).Select(TableTransactionAction.Upsert).ToList(), ct);
                }
            });
            raw.Stop();
            raws.Add(raw.Elapsed.TotalMilliseconds);
            Console.WriteLine($"snapshot round {round + 1}: FuncMap {timer.Elapsed.TotalMilliseconds:N0} ms, raw upsert {raw.Elapsed.TotalMilliseconds:N0} ms");
        }

        var (m, r) = (Median(ours), Median(raws));
        lines.Add($"snapshot: {o.Changed:N0} changed among {o.Counters:N0} counters: FuncMap (collect+write+mark) median {m:N0} ms vs raw batched upsert of {o.Changed:N0} rows {r:N0} ms, ratio {m / r:0.00}x");
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
    public static async Task<List<string>> RunAsync(StorageConnection connection, Args o)
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
                await table.SubmitTransactionAsync(chunk.Select(k => TableTransactionAction.Upsert(new TableEntity(g.Key, k)
                {
                    ["Value"] = 7L, ["Version"] = 3L, ["UpdatedAt"] = now, ["OperationIds"] = "op-a\nop-b",
                })).ToList(), ct);
            }
        });
        Console.WriteLine($"restore: wrote {o.Rows:N0} rows in {fill.Elapsed.TotalSeconds:0.0} s");

        var parallelism = new StorageOptions().RestoreParallelism;
        // Four measurements per round, in a rotating order so none always runs first (Azurite warms up, Node's GC).
        var names = new[] { "raw sequential scan", "raw parallel scan", "previous loader (sequential scan + Load)", "FuncMap restore (parallel ranges + Load)" };
        Func<Task<long>>[] runs =
        [
            async () =>
            {
                long seen = 0;
                await foreach (var page in table.QueryAsync(pageSize: TableRestoreLoader.PageSize))
                {
                    seen += page.Entities.Count;
                }

                return seen;
            },
            () => RawParallelScanAsync(table, parallelism),
            async () =>
            {
                await using var engine = new CounterEngine(new CounterEngineOptions());
                var loaded = await PreviousLoader.LoadRowsAsync(table, engine);
                return Check(loaded, engine.CounterCount);
            },
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
            $"restore: {o.Rows:N0} rows, {o.Rounds} rounds, medians: raw sequential scan {m[0]:N0} ms, raw parallel scan ({parallelism} ranges at once) {m[1]:N0} ms, previous loader {m[2]:N0} ms, FuncMap restore {m[3]:N0} ms",
            $"restore ratios: FuncMap / raw sequential scan {m[3] / m[0]:0.00}x (previous loader {m[2] / m[0]:0.00}x); FuncMap / raw parallel scan {m[3] / m[1]:0.00}x",
        ];

        long Check(long loaded, long inEngine) => loaded == inEngine ? loaded : throw new InvalidOperationException($"loaded {loaded}, in engine {inEngine}");
    }

    /// <summary>The parallel baseline: the same 64 PartitionKey ranges, as many at once, rows only counted.</summary>
    private static async Task<long> RawParallelScanAsync(ITableClient table, int parallelism)
    {
        long seen = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, CounterPartition.Count), new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (partition, ct) =>
        {
            await foreach (var page in table.QueryAsync(TableRestoreLoader.RangeFilter(partition), pageSize: TableRestoreLoader.PageSize, cancellationToken: ct))
            {
                Interlocked.Add(ref seen, page.Entities.Count);
            }
        });
        return seen;
    }

    /// <summary>The loader before the parallel restore (commit 0b9cfd8): one sequential scan, the next page fetched while this one loads.</summary>
    private static class PreviousLoader
    {
        public static async Task<long> LoadRowsAsync(ITableClient table, CounterEngine engine)
        {
            long rows = 0;
            Task<TablePage>? next = table.QueryPageAsync(pageSize: TableRestoreLoader.PageSize);
            while (next is not null)
            {
                var page = await next;
                next = page.Continuation is { } continuation ? table.QueryPageAsync(pageSize: TableRestoreLoader.PageSize, continuation: continuation) : null;
                foreach (var row in page.Entities)
                {
                    var (data, ids) = CounterRows.FromRow(row);
                    engine.Load(row.RowKey, data, ids, persisted: true);
                    rows++;
                }
            }

            return rows;
        }
    }
}
