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

/// <summary>Records every group size (<see cref="JournalInstruments.GroupSize"/>) the journals of <paramref name="meters"/> report, from <see cref="Start"/> on.</summary>
internal sealed class GroupSizeRecorder(TestMeterFactory meters) : IDisposable
{
    private readonly List<int> _sizes = [];
    private readonly MeterListener _listener = new();

    /// <summary>The sizes so far, in order.</summary>
    public List<int> Sizes
    {
        get
        {
            lock (_sizes)
            {
                return [.. _sizes];
            }
        }
    }

    public void Start()
    {
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (meters.Meters.Contains(instrument.Meter) && instrument.Name == JournalInstruments.GroupSize)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<int>((_, size, _, _) =>
        {
            lock (_sizes)
            {
                _sizes.Add(size);
            }
        });
        _listener.Start();
    }

    public void Dispose() => _listener.Dispose();
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

/// <summary>
/// Wraps real segment files and injects I/O errors: while a fault is set, every create, write, sync or cut
/// (the segment header's too) throws it, as the OS would report it (an <see cref="IOException"/> whose HResult is
/// the errno). With <see cref="PartialWrites"/> a failing write first writes half of its bytes (a partial write).
/// </summary>
internal sealed class FaultyFiles
{
    private int _creates;
    private int _writeFailures;

    public volatile Func<Exception>? CreateFault;
    public volatile Func<Exception>? WriteFault;
    public volatile Func<Exception>? SyncFault;
    public volatile Func<Exception>? CutFault;

    public bool PartialWrites { get; init; }

    /// <summary>Segment creations attempted (the failed ones too).</summary>
    public int Creates => Volatile.Read(ref _creates);

    /// <summary>Writes that failed (injected).</summary>
    public int WriteFailures => Volatile.Read(ref _writeFailures);

    /// <summary>Clears every fault.</summary>
    public void Heal() => (CreateFault, WriteFault, SyncFault, CutFault) = (null, null, null, null);

    public ISegmentFile Create(string path, long preallocate)
    {
        Interlocked.Increment(ref _creates);
        if (CreateFault is { } fault)
        {
            throw fault();
        }

        return new Faulty(FileSegment.Create(path, preallocate), this);
    }

    private sealed class Faulty(ISegmentFile inner, FaultyFiles owner) : ISegmentFile
    {
        public long Preallocated => inner.Preallocated;

        public void Write(ReadOnlySpan<byte> data)
        {
            if (owner.WriteFault is { } fault)
            {
                Interlocked.Increment(ref owner._writeFailures);
                if (owner.PartialWrites)
                {
                    inner.Write(data[..(data.Length / 2)]);
                }

                throw fault();
            }

            inner.Write(data);
        }

        public void FlushToDisk()
        {
            if (owner.SyncFault is { } fault)
            {
                throw fault();
            }

            inner.FlushToDisk();
        }

        public void Seal()
        {
            if (owner.CutFault is { } fault)
            {
                throw fault();
            }

            inner.Seal();
        }

        public void Cut(long length)
        {
            if (owner.CutFault is { } fault)
            {
                throw fault();
            }

            inner.Cut(length);
        }

        public void Dispose() => inner.Dispose();
    }
}

/// <summary>I/O errors as .NET reports them on Linux (dotnet/runtime Interop.IOErrors.cs: the raw errno in HResult).</summary>
internal static class Errno
{
    public static IOException Enospc() => new("injected: No space left on device", 28);

    public static IOException Eio() => new("injected: Input/output error", 5);

    public static IOException Erofs() => new("injected: Read-only file system", 30);

    public static UnauthorizedAccessException Eacces() => new("injected: Access to the path is denied.", new IOException("Permission denied", 13));
}

internal static class Poll
{
    /// <summary>Waits until <paramref name="condition"/> holds (observable state, polled), failing after <paramref name="seconds"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, double seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Timed out after {seconds} s waiting until {what}.");
            }

            await Task.Delay(5);
        }
    }
}

/// <summary>A logger that keeps the EventIds (and levels) it was given, for "one line per transition" asserts.</summary>
internal sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
{
    private readonly List<(int Id, Microsoft.Extensions.Logging.LogLevel Level)> _events = [];

    public int Count(int eventId)
    {
        lock (_events)
        {
            return _events.Count(e => e.Id == eventId);
        }
    }

    /// <summary>The level of every line logged with <paramref name="eventId"/>, in order.</summary>
    public List<Microsoft.Extensions.Logging.LogLevel> Levels(int eventId)
    {
        lock (_events)
        {
            return [.. _events.Where(e => e.Id == eventId).Select(e => e.Level)];
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_events)
        {
            _events.Add((eventId.Id, logLevel));
        }
    }
}
