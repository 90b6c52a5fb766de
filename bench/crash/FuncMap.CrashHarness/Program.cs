using FuncMap.Crash;

// bash bench/crash/run.sh [--switches N (two hosts) | --disk-faults N (root: a tmpfs filled under load)] [--kills N] [--seconds S] [--seed N] [--writers N] [--keys N] [--host path/FuncMap.Local.dll] [--data dir] [--markdown file]
var options = CrashOptions.Parse(args);
var (result, markdown) = options switch
{
    { Switches: > 0 } => (await TwoHostHarness.RunAsync(options, Console.Out), (Func<CrashResult, string>)(r => r.ToTwoHostMarkdown(options))),
    { DiskFaults: > 0 } => (await DiskFaultHarness.RunAsync(options, Console.Out), r => r.ToDiskFaultMarkdown(options)),
    _ => (await CrashHarness.RunAsync(options, Console.Out), r => r.ToMarkdown(options)),
};
if (options.MarkdownPath is not null)
{
    await File.WriteAllTextAsync(options.MarkdownPath, markdown(result));
}

return result.Passed ? 0 : 1;
