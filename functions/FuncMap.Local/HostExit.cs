using FuncMap.Journal;
using FuncMap.Local.Storage;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace FuncMap.Local;

/// <summary>
/// How the process ends when the host cannot start or stop: one line on stderr that names the cause (the messages
/// of the exception and those it wraps), and exit code 1. A start refused for an expected reason (<see cref="IsExpected"/>:
/// the port is taken, the lease is held, the data directory is locked or unwritable, the configuration is invalid, the
/// journal or the storage refuses) prints that line and nothing else: no stack trace, and no log line repeats it (the
/// host's own "Hosting failed to start" is filtered in <c>appsettings.json</c>). Any other exception is a bug: its stack
/// trace follows the line. Only when this host is the process (<see cref="OwnsProcess"/>): when something else runs
/// <c>Program</c> (WebApplicationFactory in tests), the exception goes to that caller unchanged.
/// </summary>
public static class HostExit
{
    private static Exception? s_startFailure;

    /// <summary>True when this assembly is the process's entry point, i.e. the host owns the process and its exit code.</summary>
    public static bool OwnsProcess { get; } = System.Reflection.Assembly.GetEntryAssembly() == typeof(HostExit).Assembly;

    /// <summary>The exit code of a host that failed to start or stop.</summary>
    public const int FailureExitCode = 1;

    /// <summary>
    /// Records why the start failed after the host began running (a counter loader: the lease refused in the background, a
    /// journal that cannot be replayed), for <see cref="FuncMapLocalExtensions.RunToExitCode"/> to report once the host stopped.
    /// The first one recorded wins.
    /// </summary>
    public static void RecordStartFailure(Exception exception)
    {
        if (OwnsProcess)
        {
            Interlocked.CompareExchange(ref s_startFailure, exception, null);
        }
    }

    /// <summary>The start failure recorded by <see cref="RecordStartFailure"/>, or null.</summary>
    internal static Exception? RecordedStartFailure => Volatile.Read(ref s_startFailure);

    /// <summary>Reports a start that failed; returns the exit code.</summary>
    public static int FailedToStart(Exception exception) => Report("failed to start", exception);

    /// <summary>Reports a stop that threw; returns the exit code.</summary>
    public static int FailedToStop(Exception exception) => Report("did not stop cleanly", exception);

    /// <summary>
    /// True when <paramref name="exception"/>, or one it wraps, is a refusal the host expects and explains in its message:
    /// invalid settings (<see cref="OptionsValidationException"/>), the lease (<see cref="LeaseRefusedException"/>), the
    /// journal (<see cref="JournalCorruptException"/>) or an I/O error (<see cref="IOException"/>, which covers a taken port,
    /// a locked or unwritable data directory and the journal's start; <see cref="UnauthorizedAccessException"/>).
    /// </summary>
    public static bool IsExpected(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return Chain(exception).Any(static e => e is OptionsValidationException or LeaseRefusedException or JournalCorruptException
            or IOException or UnauthorizedAccessException or AddressInUseException);
    }

    /// <summary>The messages of <paramref name="exception"/> and the exceptions it aggregates, on one line.</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var messages = new List<string>();
        var pending = new Stack<Exception>();
        pending.Push(exception);
        while (pending.TryPop(out var current) && messages.Count < 5)
        {
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.Reverse())
                {
                    pending.Push(inner);
                }

                continue;
            }

            messages.Add(WithHint(current));
        }

        return string.Join(" | ", messages.Distinct(StringComparer.Ordinal));
    }

    /// <summary>The exception and every exception it wraps (inner exceptions, aggregated ones).</summary>
    private static IEnumerable<Exception> Chain(Exception exception)
    {
        var pending = new Stack<Exception>();
        pending.Push(exception);
        while (pending.TryPop(out var current))
        {
            yield return current;
            if (current is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    pending.Push(inner);
                }
            }
            else if (current.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }
    }

    /// <summary>
    /// The message, with what to do when the message alone does not say it: a taken port names <c>--urls</c>; an I/O
    /// error names the operating-system error (.NET says "Read-only file system"; an operator searches for EROFS).
    /// </summary>
    private static string WithHint(Exception exception)
    {
        var message = exception.Message.ReplaceLineEndings(" ");
        if (Chain(exception).Any(static e => e is AddressInUseException))
        {
            return message + " Another process listens there: stop it, or choose another address with --urls (e.g. --urls http://127.0.0.1:5081).";
        }

        if (exception is not (IOException or UnauthorizedAccessException))
        {
            return message;
        }

        var cause = JournalErrors.Cause(exception);
        return cause.StartsWith('E') && cause.All(char.IsAsciiLetterUpper) && !message.Contains(cause, StringComparison.Ordinal)
            ? $"{message} ({cause}: {JournalErrors.Describe(cause)})"
            : message;
    }

    private static int Report(string what, Exception exception)
    {
        Console.Error.WriteLine($"FuncMap.Local {what}: {Describe(exception)}");
        if (!IsExpected(exception))
        {
            // Not a refusal the host explains: a bug. Its stack trace, which no log line showed, goes with it.
            Console.Error.WriteLine(exception.ToString());
        }

        return FailureExitCode;
    }
}
