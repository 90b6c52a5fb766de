namespace FuncMap.Local.Storage;

/// <summary>
/// The batches the ingestion completed most recently (bounded, oldest forgotten first): per batch id, the fingerprint
/// of its content (<see cref="Batches.IncrementBatch.ContentFingerprint"/>) and the snapshot run current when it was
/// applied. A redelivery of the same content is known to be a replay of every key at once, also for a hot key whose
/// per-counter window (the last 64 operations) no longer holds the id. Only the same content is: a batch that reuses
/// the id with other content goes to the owners, which decide per counter (a key the first batch did not touch is
/// applied, the same total is a replay, another total is refused), exactly as for an HTTP batch.
/// </summary>
internal sealed class CompletedBatches(int capacity)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (UInt128 Content, long Run)> _batches = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _batches.Count;
            }
        }
    }

    /// <summary>True when a batch with <paramref name="batchId"/> and the same <paramref name="content"/> was completed; <paramref name="run"/> is its run.</summary>
    public bool TryGetSame(string batchId, UInt128 content, out long run)
    {
        lock (_lock)
        {
            if (_batches.TryGetValue(batchId, out var done) && done.Content == content)
            {
                run = done.Run;
                return true;
            }

            run = 0;
            return false;
        }
    }

    /// <summary>Remembers a completed batch; a later batch with the same id replaces what is remembered of it.</summary>
    public void Add(string batchId, UInt128 content, long run)
    {
        if (capacity == 0)
        {
            return;
        }

        lock (_lock)
        {
            if (_batches.TryAdd(batchId, (content, run)))
            {
                _order.Enqueue(batchId);
                while (_order.Count > capacity)
                {
                    _batches.Remove(_order.Dequeue());
                }
            }
            else
            {
                _batches[batchId] = (content, run);
            }
        }
    }
}
