using Azure;
using Azure.Data.Tables;

namespace FuncMap.Local.Storage;

/// <summary>
/// What the snapshot table needs of the journal, kept beside the lease in the lease table (PartitionKey <c>lease</c>,
/// RowKey <c>journal</c>; columns <c>JournalId</c> (GUID), <c>ReplayFrom</c> (segment sequence, Int64) and
/// <c>Epoch</c> (the lease epoch of the writer, Int64)): "the table holds everything journal <c>JournalId</c> wrote
/// before segment <c>ReplayFrom</c>; every segment from it on is still needed". The snapshot writes it after its rows
/// persisted and before it truncates the journal; the restore reads it and hands it to the journal
/// (<c>RequireReplayFrom</c>), so a start whose oldest needed segment is missing refuses instead of starting
/// without the writes that segment held. Written only by the lease holder; a lost row only means the check is skipped
/// at the next start (the chain of segments is still checked), never that data is dropped.
/// </summary>
public sealed class ReplayRequirement
{
    internal const string PartitionKey = LeaseService.PartitionKey;
    internal const string RowKey = "journal";

    private readonly CounterStorage _storage;
    private readonly Lock _gate = new();
    private (Guid JournalId, long Sequence) _written;

    /// <summary>The requirement row of the lease table of <paramref name="storage"/>.</summary>
    public ReplayRequirement(CounterStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        _storage = storage;
    }

    /// <summary>
    /// Records that segments of journal <paramref name="journalId"/> from <paramref name="sequence"/> on are needed
    /// (an upsert, one round trip; none when this process already wrote this or a later sequence of the same journal).
    /// </summary>
    /// <exception cref="RequestFailedException">The lease table could not be written: do not truncate the journal.</exception>
    public async Task WriteAsync(Guid journalId, long sequence, long epoch, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sequence);
        lock (_gate)
        {
            if (_written.JournalId == journalId && _written.Sequence >= sequence)
            {
                return;
            }
        }

        var row = new TableEntity(PartitionKey, RowKey)
        {
            ["JournalId"] = journalId,
            ["ReplayFrom"] = sequence,
            ["Epoch"] = epoch,
        };
        await _storage.Leases.UpsertEntityAsync(row, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _written = (journalId, sequence);
        }
    }

    /// <summary>The recorded requirement, or null when there is none (never written, or the row or table is gone).</summary>
    /// <exception cref="RequestFailedException">The lease table could not be read.</exception>
    /// <exception cref="InvalidDataException">The row exists but its columns are not a GUID and a positive Int64.</exception>
    public async Task<(Guid JournalId, long Sequence)?> ReadAsync(CancellationToken cancellationToken)
    {
        NullableResponse<TableEntity> response;
        try
        {
            response = await _storage.Leases.GetEntityIfExistsAsync<TableEntity>(PartitionKey, RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null; // The table itself is missing.
        }

        if (!response.HasValue || response.Value is not { } row)
        {
            return null;
        }

        if (row.GetGuid("JournalId") is not { } id || row.GetInt64("ReplayFrom") is not ({ } sequence and > 0))
        {
            throw new InvalidDataException($"The journal requirement row (table {_storage.Leases.Name}, PartitionKey '{PartitionKey}', RowKey '{RowKey}') does not hold a GUID 'JournalId' and a positive Int64 'ReplayFrom'.");
        }

        return (id, sequence);
    }
}
