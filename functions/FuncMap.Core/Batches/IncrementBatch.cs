namespace FuncMap.Batches;

/// <summary>One item of an increment batch as it was sent.</summary>
public readonly record struct IncrementItem(string Key, long Delta);

/// <summary>The net delta of one key in a batch: items with the same key summed (checked).</summary>
public readonly record struct KeyDelta(string Key, long Delta);

/// <summary>
/// A validated increment batch, aggregated: one <see cref="KeyDelta"/> per distinct key, in the
/// order each key first appeared. The <see cref="BatchId"/> is the operation id of every key's
/// operation, which is what makes a redelivered batch count once.
/// </summary>
public sealed record IncrementBatch(string BatchId, int ItemCount, IReadOnlyList<KeyDelta> Deltas);
