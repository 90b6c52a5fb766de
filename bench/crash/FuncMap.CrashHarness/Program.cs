using FuncMap.Crash;

// bash bench/crash/run.sh [--switches N (two hosts)] [--kills N] [--seconds S] [--seed N] [--writers N] [--keys N] [--host path/FuncMap.Local.dll] [--data dir] [--markdown file]
var options = CrashOptions.Parse(args);
var twoHosts = options.Switches > 0;
var result = twoHosts ? await TwoHostHarness.RunAsync(options, Console.Out) : await CrashHarness.RunAsync(options, Console.Out);
if (options.MarkdownPath is not null)
{
    await File.WriteAllTextAsync(options.MarkdownPath, twoHosts ? result.ToTwoHostMarkdown(options) : result.ToMarkdown(options));
}

return result.Passed ? 0 : 1;
