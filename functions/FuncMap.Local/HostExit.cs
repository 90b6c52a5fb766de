namespace FuncMap.Local;

/// <summary>
/// How the process ends when the host cannot start or stop: one line on stderr that names the cause (the messages
/// of the exception and those it wraps), and exit code 1. The logs above it keep the details. Only when this host
/// is the process (<see cref="OwnsProcess"/>): when something else runs <c>Program</c> (WebApplicationFactory in
/// tests), the exception goes to that caller unchanged.
/// </summary>
public static class HostExit
{
    /// <summary>True when this assembly is the process's entry point, i.e. the host owns the process and its exit code.</summary>
    public static bool OwnsProcess { get; } = System.Reflection.Assembly.GetEntryAssembly() == typeof(HostExit).Assembly;

    /// <summary>The exit code of a host that failed to start or stop.</summary>
    public const int FailureExitCode = 1;

    /// <summary>Reports a start that failed; returns the exit code.</summary>
    public static int FailedToStart(Exception exception) => Report("failed to start", exception);

    /// <summary>Reports a stop that threw; returns the exit code.</summary>
    public static int FailedToStop(Exception exception) => Report("did not stop cleanly", exception);

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

            messages.Add(WithErrno(current));
        }

        return string.Join(" | ", messages.Distinct(StringComparer.Ordinal));
    }

    /// <summary>
    /// The message, with the operating-system error named when it is an I/O error whose message does not name it
    /// (.NET says "Read-only file system"; an operator searches for EROFS).
    /// </summary>
    private static string WithErrno(Exception exception)
    {
        var message = exception.Message.ReplaceLineEndings(" ");
        if (exception is not (IOException or UnauthorizedAccessException))
        {
            return message;
        }

        var cause = FuncMap.Journal.JournalErrors.Cause(exception);
        return cause.StartsWith('E') && cause.All(char.IsAsciiLetterUpper) && !message.Contains(cause, StringComparison.Ordinal)
            ? $"{message} ({cause}: {FuncMap.Journal.JournalErrors.Describe(cause)})"
            : message;
    }

    private static int Report(string what, Exception exception)
    {
        Console.Error.WriteLine($"FuncMap.Local {what}: {Describe(exception)}");
        return FailureExitCode;
    }
}
