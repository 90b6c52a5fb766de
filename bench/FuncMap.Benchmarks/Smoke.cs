namespace FuncMap.Benchmarks;

/// <summary>Runs every benchmark body once on a small key set and checks the totals: for CI, in seconds.</summary>
public static class Smoke
{
    public static async Task<int> RunAsync(TextWriter output)
    {
        Workload.KeyCount = 20_000;
        await MemoryMode.RunAsync(100_000, output); // first, before the other workloads leave garbage behind

        var uniform = new UniformFireAndForget();
        uniform.Setup();
        await uniform.ConcurrentDictionary();
        await uniform.LockDictionary();
        await uniform.SingleChannel();
        await uniform.Engine();
        await uniform.Engine();
        Check("uniform engine", 2, uniform.EngineValue(0));
        Check("uniform engine", 2, uniform.EngineValue(Workload.KeyCount - 1));
        Check("uniform dictionary", 1, uniform.ConcurrentValue(0));
        await uniform.CleanupAsync();

        var hot = new HotKeyFireAndForget();
        hot.Setup();
        await hot.ConcurrentDictionary();
        await hot.LockDictionary();
        await hot.SingleChannel();
        await hot.Engine();
        Check("hot engine", HotKeyFireAndForget.Count, hot.EngineValue());
        await hot.CleanupAsync();

        var reply = new RequestReply();
        reply.Setup();
        await reply.SingleChannel();
        await reply.Engine();
        Check("request/reply engine", 1, reply.EngineValue(0));
        await reply.CleanupAsync();

        var batch = new BatchSubmission();
        batch.Setup();
        await batch.ConcurrentDictionary();
        await batch.Engine();
        await batch.Engine();
        var total = batch.EngineForChecks.List(null, int.MaxValue, null).Items.Sum(c => c.Value);
        Check("batch engine total", 2L * BatchSubmission.BatchCount * BatchSubmission.BatchSize, total);
        await batch.CleanupAsync();

        foreach (var shards in new[] { 1, 8 })
        {
            var sharded = new ShardCount { Shards = shards };
            sharded.Setup();
            await sharded.Uniform();
            await sharded.Reply();
            await sharded.CleanupAsync();
        }

        output.WriteLine("smoke: ok");
        return 0;
    }

    private static void Check(string what, long expected, long actual)
    {
        if (expected != actual)
        {
            throw new InvalidOperationException($"{what}: expected {expected}, got {actual}.");
        }
    }
}
