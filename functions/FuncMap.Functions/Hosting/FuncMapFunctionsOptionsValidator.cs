using System.Globalization;
using FuncMap.Functions.Accepts;
using FuncMap.Functions.Counters;
using Microsoft.Extensions.Options;

namespace FuncMap.Functions.Hosting;

/// <summary>
/// Checks the Functions host's settings (<see cref="FuncMapFunctionsOptions"/>) one by one and together, at start
/// (<c>ValidateOnStart</c>): a worker whose settings could lose or park an accepted add does not start. Each refused
/// setting or combination is one line naming every setting involved with its value.
/// </summary>
/// <remarks>
/// <para>
/// The combinations come from one bound, <see cref="SourceDeliveryBound"/>: how long after a sequence source is created a
/// fold numbered under it can still reach a counter's entity. The folder numbers under one source for at most
/// <see cref="AcceptFolder.SourceLifetime"/> (1 h); a fold record left by a crash is re-sent by a sweep once it is older
/// than <see cref="FuncMapFunctionsOptions.FoldStaleAfter"/>, at the latest one <see cref="FuncMapFunctionsOptions.SweepInterval"/>
/// later; and Durable delivers a stored signal within <see cref="MaxSignalDelay"/>. An entity that forgets a source
/// before that bound takes a later fold of it for a new source: a fold numbered 1 counts again, any other is parked and,
/// after <see cref="Counter.GapReleaseAfter"/>, the numbers before it are released and falsely reported as lost. So:
/// </para>
/// <list type="number">
/// <item><description>
/// <b><c>TombstoneRetention</c> ≥ <see cref="SourceDeliveryBound"/></b>. A purge removes a deleted counter's whole state,
/// its sources with it, <c>TombstoneRetention</c> after the delete. A source the counter knew was created before the
/// delete, so its last fold reaches the entity before delete + the bound; purging earlier parks the key's next plain adds
/// of that source (the folder still numbers under it) and reports its earlier folds as lost.
/// </description></item>
/// <item><description>
/// <b><see cref="Counter.SourceRetention"/> (1 d) ≥ <see cref="SourceDeliveryBound"/></b>, i.e. <c>FoldStaleAfter</c> +
/// <c>SweepInterval</c> ≤ 1 d − <see cref="AcceptFolder.SourceLifetime"/> − <see cref="MaxSignalDelay"/>. An entity prunes a
/// source a day after the source was created; a crash's fold record re-sent later than that is taken for a new source.
/// </description></item>
/// <item><description>
/// <b><c>FoldStaleAfter</c> ≥ 2 × <c>FoldInterval</c></b>. A live folder's rows wait up to one <c>FoldInterval</c> for its
/// next turn, and the fold takes time too; rows called stale sooner are folded by other instances' sweeps while their own
/// folder runs. Then a reset, delete or <c>?wait=true</c> of that worker (which waits only for its own folder) may be
/// applied before the add it answered 202 earlier, and every transaction the two folders race for fails one of them,
/// which starts a new source each time (each one more entry in every counter's state for a day).
/// </description></item>
/// </list>
/// <para>
/// Settings that cannot lose or park an add on their own, and are only checked to be positive: <c>FoldInterval</c> and
/// <c>SweepInterval</c> beyond the rules above (a longer interval delays the fold, and a barrier folds at once),
/// the wait timeouts (a timeout answers 503 with nothing lost, or the queue runtime retries the message; the host keeps a
/// message invisible while its function runs, and host.json's <c>visibilityTimeout</c> is only the retry delay),
/// <c>MaxDeliveries</c> (a test keeps it equal to host.json's <c>maxDequeueCount</c>), <c>SnapshotOverlap</c>,
/// <c>SnapshotParallelism</c>, <c>SignalConcurrency</c>. Durable's <c>controlQueueVisibilityTimeout</c> is host.json's, not
/// the worker's: a test keeps it at most <see cref="MaxSignalDelay"/>.
/// </para>
/// </remarks>
public sealed class FuncMapFunctionsOptionsValidator : IValidateOptions<FuncMapFunctionsOptions>
{
    /// <summary>
    /// The longest a signal stored in the task hub takes to reach its entity, clock skew between instances included:
    /// Durable redelivers a message that a stopped host had dequeued after <c>controlQueueVisibilityTimeout</c> (5 min by
    /// default; host.json must not set it higher, a test checks), and twice that covers the delivery and a retry.
    /// </summary>
    public static readonly TimeSpan MaxSignalDelay = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long after a sequence source is created a fold numbered under it can still reach an entity:
    /// <see cref="AcceptFolder.SourceLifetime"/> + <paramref name="options"/>' <c>FoldStaleAfter</c> + <c>SweepInterval</c> +
    /// <see cref="MaxSignalDelay"/> (1 h 10 min 45 s with the defaults); <see cref="TimeSpan.MaxValue"/> when the sum leaves TimeSpan.
    /// </summary>
    public static TimeSpan SourceDeliveryBound(FuncMapFunctionsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Sum(AcceptFolder.SourceLifetime, options.FoldStaleAfter, options.SweepInterval, MaxSignalDelay);
    }

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, FuncMapFunctionsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        Positive(failures, nameof(options.WaitTimeout), options.WaitTimeout);
        Positive(failures, nameof(options.BatchWaitTimeout), options.BatchWaitTimeout);
        Positive(failures, nameof(options.QueueWaitTimeout), options.QueueWaitTimeout);
        Positive(failures, nameof(options.FoldInterval), options.FoldInterval);
        Positive(failures, nameof(options.FoldStaleAfter), options.FoldStaleAfter);
        Positive(failures, nameof(options.SweepInterval), options.SweepInterval);
        Positive(failures, nameof(options.SignalConcurrency), options.SignalConcurrency);
        Positive(failures, nameof(options.SnapshotParallelism), options.SnapshotParallelism);
        Positive(failures, nameof(options.MaxDeliveries), options.MaxDeliveries);
        if (options.SnapshotOverlap < TimeSpan.Zero)
        {
            failures.Add($"{Setting(nameof(options.SnapshotOverlap))} ({Show(options.SnapshotOverlap)}) must not be negative.");
        }

        if (options.TombstoneRetention < TimeSpan.Zero)
        {
            failures.Add($"{Setting(nameof(options.TombstoneRetention))} ({Show(options.TombstoneRetention)}) must not be negative.");
        }

        TableName(failures, nameof(options.SnapshotTable), options.SnapshotTable);
        TableName(failures, nameof(options.AcceptedTable), options.AcceptedTable);
        if (string.Equals(options.SnapshotTable, options.AcceptedTable, StringComparison.OrdinalIgnoreCase))
        {
            failures.Add($"{Setting(nameof(options.AcceptedTable))} ({options.AcceptedTable}) and {Setting(nameof(options.SnapshotTable))} ({options.SnapshotTable}) "
                + "must name different tables: the snapshot would publish fold rows as counters, and the sweep would fold snapshot rows.");
        }

        if (failures.Count > 0)
        {
            // The rules below assume positive intervals; their lines would only repeat these.
            return ValidateOptionsResult.Fail(failures);
        }

        var bound = SourceDeliveryBound(options);
        var terms = $"SourceLifetime ({Show(AcceptFolder.SourceLifetime)}) + {Setting(nameof(options.FoldStaleAfter))} ({Show(options.FoldStaleAfter)}) + "
            + $"{Setting(nameof(options.SweepInterval))} ({Show(options.SweepInterval)}) + the signal delay allowance ({Show(MaxSignalDelay)}) = {Show(bound)}";
        if (options.TombstoneRetention < bound)
        {
            failures.Add($"{Setting(nameof(options.TombstoneRetention))} ({Show(options.TombstoneRetention)}) must be at least {terms}: "
                + "a purge that comes sooner removes sources the folder still numbers under, and the key's next plain adds are parked, then its earlier folds reported as lost.");
        }

        if (Counter.SourceRetention < bound)
        {
            failures.Add($"{Setting(nameof(options.FoldStaleAfter))} ({Show(options.FoldStaleAfter)}) and {Setting(nameof(options.SweepInterval))} "
                + $"({Show(options.SweepInterval)}) are too long: {terms} exceeds the counters' SourceRetention ({Show(Counter.SourceRetention)}), "
                + "so a fold record re-sent after a crash could reach a counter that forgot its source (counted again, or reported as lost).");
        }

        var twiceFoldInterval = Sum(options.FoldInterval, options.FoldInterval);
        if (options.FoldStaleAfter < twiceFoldInterval)
        {
            failures.Add($"{Setting(nameof(options.FoldStaleAfter))} ({Show(options.FoldStaleAfter)}) must be at least twice "
                + $"{Setting(nameof(options.FoldInterval))} ({Show(options.FoldInterval)}) = {Show(twiceFoldInterval)}: other instances would sweep "
                + "a live worker's rows, so its reset, delete or ?wait=true could overtake an add it answered 202.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>An Azure Table name: 3–63 letters and digits, starting with a letter (table names are case-insensitive).</summary>
    private static void TableName(List<string> failures, string name, string? value)
    {
        if (value is not { Length: >= 3 and <= 63 } || !char.IsAsciiLetter(value[0]) || !value.All(char.IsAsciiLetterOrDigit))
        {
            failures.Add($"{Setting(name)} ({value}) must be a table name: 3-63 letters and digits, starting with a letter "
                + "(a task hub name longer than 55 characters leaves no room for the suffix; set the table's name).");
        }
    }

    private static void Positive(List<string> failures, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{Setting(name)} ({Show(value)}) must be positive.");
        }
    }

    private static void Positive(List<string> failures, string name, int value)
    {
        if (value <= 0)
        {
            failures.Add($"{Setting(name)} ({value.ToString(CultureInfo.InvariantCulture)}) must be positive.");
        }
    }

    /// <summary>The app setting's name, as it is set on the Functions app.</summary>
    private static string Setting(string property) => FuncMapFunctionsOptions.SectionName + "__" + property;

    private static string Show(TimeSpan value) => value.ToString("c", CultureInfo.InvariantCulture);

    /// <summary>The sum, or <see cref="TimeSpan.MaxValue"/> when it leaves TimeSpan (settings are bound from text: any value can come).</summary>
    private static TimeSpan Sum(params ReadOnlySpan<TimeSpan> terms)
    {
        Int128 ticks = 0;
        foreach (var term in terms)
        {
            ticks += term.Ticks;
        }

        return ticks > TimeSpan.MaxValue.Ticks ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)ticks);
    }
}
