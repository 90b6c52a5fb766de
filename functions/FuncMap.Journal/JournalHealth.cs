namespace FuncMap.Journal;

/// <summary>Whether the journal accepts writes.</summary>
public enum JournalHealthStatus
{
    /// <summary>Appends are accepted and made durable.</summary>
    Healthy = 0,

    /// <summary>Appends are refused with <see cref="JournalUnavailableException"/>; the journal retries recovery by itself.</summary>
    Unavailable = 1,
}

/// <summary>
/// The journal's health for readiness (<see cref="OperationJournal.Health"/>): an immutable snapshot, replaced at
/// each transition (healthy → unavailable → recovered).
/// </summary>
/// <param name="Status">Healthy or unavailable.</param>
/// <param name="Cause">While unavailable: the errno name (<c>ENOSPC</c>, <c>EIO</c>, …) or the exception type; null when healthy.</param>
/// <param name="Since">While unavailable: when it became unavailable (UTC); null when healthy.</param>
/// <param name="Message">While unavailable: what failed, in words; null when healthy.</param>
/// <param name="OutcomeUnknown">
/// While unavailable: true when appends refused by the failure may still be replayed after a restart (the journal
/// could not yet make its cut durable); they were answered with <c>MayBeApplied = true</c>.
/// </param>
public sealed record JournalHealth(JournalHealthStatus Status, string? Cause, DateTimeOffset? Since, string? Message, bool OutcomeUnknown)
{
    /// <summary>The journal accepts writes.</summary>
    public static JournalHealth Healthy { get; } = new(JournalHealthStatus.Healthy, null, null, null, false);

    /// <summary>True when the journal accepts writes.</summary>
    public bool IsHealthy => Status == JournalHealthStatus.Healthy;
}
