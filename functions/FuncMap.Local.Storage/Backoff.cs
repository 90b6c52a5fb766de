namespace FuncMap.Local.Storage;

/// <summary>Capped exponential backoff with jitter, for the storage loops' retries.</summary>
internal static class Backoff
{
    private static readonly TimeSpan First = TimeSpan.FromMilliseconds(250);

    /// <summary>The wait before retry number <paramref name="failures"/> + 1: 250 ms doubling, at most <paramref name="cap"/>, ±20 % jitter.</summary>
    public static TimeSpan Delay(int failures, TimeSpan cap)
    {
        var exponent = Math.Min(failures, 16);
        var delay = Math.Min(First.TotalMilliseconds * Math.Pow(2, exponent), cap.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(delay * (0.8 + (Random.Shared.NextDouble() * 0.4)));
    }
}

/// <summary>The host's data directory (<c>FuncMap:DataDirectory</c>, resolved against the content root).</summary>
internal sealed record DataDirectory(string Path);
