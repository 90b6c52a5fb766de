using FuncMap.Validation;

namespace FuncMap.Batches;

/// <summary>
/// How a queued batch whose adds overflowed some stored counters is reported in its poison envelope, in the
/// same words by both hosts: the rest of the batch stands, and the envelope names each refused key.
/// </summary>
public static class BatchOverflow
{
    /// <summary>The rule of a refused key.</summary>
    public const string Rule = "counter.overflow";

    /// <summary>The envelope's reason for <paramref name="keyCount"/> refused keys.</summary>
    public static string Reason(int keyCount) =>
        $"overflow at apply: {keyCount} counter(s) not applied; the rest of the batch was applied";

    /// <summary>One error per refused key, the key as its field.</summary>
    public static IReadOnlyList<ValidationError> Errors(IEnumerable<string> keys) =>
        keys.Select(static k => new ValidationError(k, Rule, $"Adding this batch's delta to counter '{k}' would overflow Int64; it was not applied.")).ToList();
}
