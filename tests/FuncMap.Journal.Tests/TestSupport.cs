using System.Diagnostics.Metrics;
using FuncMap.Counters;
using FuncMap.Engine;

namespace FuncMap.Journal.Tests;

/// <summary>A temporary directory per test, deleted afterwards.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "funcmap-journal-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string[] Segments() =>
        [.. Directory.GetFiles(Path, "journal-*.log").Order(StringComparer.Ordinal)];

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>
/// Wraps real segment files and lets a test hook every commit sync (the header's too). With
/// <paramref name="skipSeal"/> a segment is never sealed: it keeps its preallocated zero tail, as when the
/// process dies before rotating or closing.
/// </summary>
internal sealed class HookedFiles(Action<int>? onFlush, bool skipSeal = false)
{
    private int _flushes;

    public int Flushes => Volatile.Read(ref _flushes);

    private bool SkipSeal => skipSeal;

    public ISegmentFile Create(string path, long preallocate) => new Hooked(FileSegment.Create(path, preallocate), this);

    private void Flushing() => onFlush?.Invoke(Interlocked.Increment(ref _flushes));

    private sealed class Hooked(ISegmentFile inner, HookedFiles owner) : ISegmentFile
    {
        public long Preallocated => inner.Preallocated;

        public void Cut(long length) => inner.Cut(length);

        public void Write(ReadOnlySpan<byte> data) => inner.Write(data);

        public void FlushToDisk()
        {
            owner.Flushing();
            inner.FlushToDisk();
        }

        public void Seal()
        {
            if (!owner.SkipSeal)
            {
                inner.Seal();
            }
        }

        public void Dispose() => inner.Dispose();
    }
}

/// <summary>An <see cref="IMeterFactory"/> whose meters a test can listen to without hearing other tests.</summary>
internal sealed class TestMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public IReadOnlyList<Meter> Meters => _meters;

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
    }
}

internal static class Journals
{
    public static JournalOptions Options(TempDirectory directory, Action<JournalOptions>? configure = null)
    {
        var options = new JournalOptions { Directory = directory.Path };
        configure?.Invoke(options);
        return options;
    }

    public static AppliedOperation Op(string key, long value, long version, string? operationId = null, bool exists = true) =>
        new(key, new CounterData { Value = value, Version = version, UpdatedAtTicks = 638_000_000_000_000_000 + version, Exists = exists }, operationId);

    public static CounterEngineOptions EngineOptions() => new() { ShardCount = 4 };

    /// <summary>Replays the journal in <paramref name="directory"/> into a fresh, started engine.</summary>
    public static async Task<Reopened> ReopenAsync(TempDirectory directory, bool journaled = false)
    {
        var journal = new OperationJournal(Options(directory));
        var engine = journaled ? CounterEngine.CreateJournaled(EngineOptions(), journal) : new CounterEngine(EngineOptions());
        await journal.LoadAsync(engine, CancellationToken.None);
        engine.Start();
        return new Reopened(engine, journal);
    }

    public static CounterSnapshot Get(this CounterEngine engine, string key) =>
        engine.TryGet(key, out var counter) ? counter : throw new Xunit.Sdk.XunitException($"Counter {key} does not exist.");
}

/// <summary>A restarted engine and its journal, disposed engine first (as the host does).</summary>
internal sealed class Reopened(CounterEngine engine, OperationJournal journal) : IAsyncDisposable
{
    public CounterEngine Engine { get; } = engine;

    public OperationJournal Journal { get; } = journal;

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        await Journal.DisposeAsync();
    }
}
