namespace FuncMap.Journal;

/// <summary>
/// What the snapshot service needs from the journal to truncate it once a snapshot has persisted what
/// older segments cover. The protocol, in this order:
/// <list type="number">
/// <item><c>var seq = journal.<see cref="Checkpoint"/>()</c>;</item>
/// <item><c>var changes = await engine.CollectChangesAsync()</c>;</item>
/// <item>write <c>changes</c> to the table, each row with its <c>CounterChange.RecentOperationIds</c>;</item>
/// <item><c>await engine.MarkPersistedAsync(changes)</c>;</item>
/// <item>record, where the snapshot's readers find it, that journal <see cref="JournalId"/> is needed from segment
/// <c>seq</c> on (a restore hands it back with <see cref="RequireReplayFrom"/>, so a missing needed segment stops
/// the start instead of losing its writes);</item>
/// <item><c>journal.<see cref="TruncateBefore"/>(seq)</c>.</item>
/// </list>
/// <para>
/// Why it is safe: a record is appended by its shard's owner loop after the owner applied the operation,
/// at the end of the drain. A record in a segment older than <c>seq</c> was appended before
/// <see cref="Checkpoint"/> returned, so its operation was applied before the collect command was even
/// posted; the owner handles its mailbox in order, so the collected state of that counter has a version
/// at least the record's. Either the counter was dirty and is in <c>changes</c> (hence in the table once
/// step 3 succeeds), or it was clean, which means an earlier snapshot already persisted a version at
/// least the record's. Either way the table holds everything the older segments hold, and they can go.
/// If step 3, 4 or 5 fails, skip step 6: the segments stay and the next snapshot tries again.
/// </para>
/// <para>
/// The deduplication window: replay restores each record's operation id into the counter's window, so a
/// retry with the same <c>Idempotency-Key</c> after a restart is still a duplicate. Once segments are
/// truncated, those ids survive only if the table row carries them: that is why
/// <c>CounterChange.RecentOperationIds</c> exists and the snapshot must store it in the row and load it
/// back with <c>CounterEngine.Load</c>. A counter persisted by an EARLIER snapshot and not collected
/// again has its ids in that earlier row, which is equally fine.
/// </para>
/// </summary>
public interface IJournalCheckpoint
{
    /// <summary>
    /// Closes the current segment and starts a new one; returns the new segment's sequence number.
    /// Every record appended before this call lies in a segment with a lower sequence number.
    /// </summary>
    long Checkpoint();

    /// <summary>The end of the last durable frame the writer holds (see <see cref="JournalPosition"/>): the lease records it as a high-water mark.</summary>
    JournalPosition DurablePosition { get; }

    /// <summary>How far the journal reached when it was opened (null when it was found corrupt): a takeover of this owner's own lease compares it with the mark.</summary>
    JournalPosition? OpenedAt { get; }

    /// <summary>The journal's id (a GUID kept in every segment header): a requirement recorded for another id is not this journal's.</summary>
    Guid JournalId { get; }

    /// <summary>
    /// Before the journal is replayed: the snapshot holds everything of journal <paramref name="journalId"/> before
    /// segment <paramref name="sequence"/>, so replay must find every segment from it on, or refuse the start.
    /// </summary>
    /// <exception cref="InvalidOperationException">The journal was already replayed.</exception>
    void RequireReplayFrom(long sequence, Guid journalId);

    /// <summary>
    /// Records appended from now on are written under the single-writer lease <paramref name="epoch"/> (kept in
    /// each segment's header): starts a new segment that carries it. Call once the lease is claimed, before the
    /// engine starts; replay then never lets a record override a row that a newer owner wrote.
    /// </summary>
    void BeginEpoch(long epoch);

    /// <summary>
    /// Deletes the segment files whose sequence number is lower than <paramref name="sequence"/>.
    /// The segment the writer still has open is kept (it goes at a later call): normally the writer has
    /// moved on long before the snapshot has written its table.
    /// </summary>
    void TruncateBefore(long sequence);
}
