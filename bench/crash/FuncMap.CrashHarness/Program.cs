using FuncMap.Crash;

// bash bench/crash/run.sh [--kills N] [--seconds S] [--seed N] [--writers N] [--keys N] [--host path/FuncMap.Local.dll] [--data dir] [--markdown file]
var options = CrashOptions.Parse(args);
var result = await CrashHarness.RunAsync(options, Console.Out);
if (options.MarkdownPath is not null)
{
    await File.WriteAllTextAsync(options.MarkdownPath, result.ToMarkdown(options));
}

return result.Passed ? 0 : 1;
