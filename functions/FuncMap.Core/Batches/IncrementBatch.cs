namespace FuncMap.Batches;

/// <summary>One item of an increment batch as it was sent.</summary>
public readonly record struct IncrementItem(string Key, long Delta);

/// <summary>The net delta of one key in a batch: items with the same key summed (checked).</summary>
public readonly record struct KeyDelta(string Key, long Delta);

/// <summary>
/// A validated increment batch, aggregated: one <see cref="KeyDelta"/> per distinct key, in the
/// order each key first appeared. The <see cref="BatchId"/> is the operation id of every key's
/// operation (with that key's total as its fingerprint), which is what makes a redelivered batch count once.
/// </summary>
public sealed record IncrementBatch(string BatchId, int ItemCount, IReadOnlyList<KeyDelta> Deltas)
{
    /// <summary>
    /// A fingerprint of what the batch does: its keys and their totals, whatever the order of its items (SHA-256,
    /// first 128 bits). Two batches with the same id and fingerprint ask every counter for the same operation.
    /// </summary>
    public UInt128 ContentFingerprint()
    {
        var sorted = Deltas.OrderBy(static d => d.Key, StringComparer.Ordinal);
        var text = new System.Text.StringBuilder();
        foreach (var (key, delta) in sorted)
        {
            text.Append(key).Append('\t').Append(delta.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('\n');
        }

        Span<byte> hash = stackalloc byte[System.Security.Cryptography.SHA256.HashSizeInBytes];
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text.ToString()), hash);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }
}
