using BenchmarkDotNet.Running;
using FuncMap.Benchmarks;

// dotnet run -c Release --project bench/FuncMap.Benchmarks -- --filter '*'   the full suite (BenchmarkDotNet)
// ... -- --memory                                                            bytes per counter at 1M keys
// ... -- --smoke                                                             every workload once, small, totals checked (CI)
if (args.Contains("--memory"))
{
    return await MemoryMode.RunAsync(1_000_000, Console.Out);
}

if (args.Contains("--smoke"))
{
    return await Smoke.RunAsync(Console.Out);
}

BenchmarkSwitcher.FromAssembly(typeof(Workload).Assembly).Run(args);
return 0;
