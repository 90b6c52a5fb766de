namespace FuncMap.Local.Storage;

/// <summary>
/// The batch ids the ingestion completed most recently (bounded, oldest forgotten first), each with the snapshot
/// run current when it was applied. It closes the gap of the per-counter window (the last 64 operation ids):
/// a hot key that received more than 64 batches before a redelivery would otherwise count that batch again.
/// </summary>
internal sealed class CompletedBatches(int capacity)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, long> _runs = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _runs.Count;
            }
        }
    }

    public bool TryGet(string batchId, out long run)
    {
        lock (_lock)
        {
            return _runs.TryGetValue(batchId, out run);
        }
    }

    public void Add(string batchId, long run)
    {
        if (capacity == 0)
        {
            return;
        }

        lock (_lock)
        {
            if (_runs.TryAdd(batchId, run))
            {
                _order.Enqueue(batchId);
                while (_order.Count > capacity)
                {
                    _runs.Remove(_order.Dequeue());
                }
            }
        }
    }
}
