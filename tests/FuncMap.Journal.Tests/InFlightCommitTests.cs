using System.Buffers.Binary;
using static FuncMap.Journal.Tests.Journals;

namespace FuncMap.Journal.Tests;

/// <summary>
/// Two group commits in flight (<see cref="JournalOptions.MaxCommitsInFlight"/> = 2): a group is acknowledged only once
/// its own sync and every earlier group's sync returned, and replay accepts every image a crash can leave of two frames
/// in flight — neither persisted, the first only, the second only, both, either torn — replaying a prefix of the
/// frames in the order they were written, never a frame without the one before it.
/// </summary>
public sealed class InFlightCommitTests : IDisposable
{
    private const long SegmentBytes = 64 * 1024;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>What a crash left of frame B (written, its sync in flight) and frame C (written while B's sync ran).</summary>
    public enum Persisted
    {
        Neither,
        FirstOnly,
        SecondOnly,
        Both,
        FirstTornSecondWhole,
        FirstWholeSecondTorn,
        BothTorn,
    }

    [Theory]
    [InlineData(Persisted.Neither, 1)]
    [InlineData(Persisted.FirstOnly, 2)]
    [InlineData(Persisted.SecondOnly, 1)]
    [InlineData(Persisted.Both, 3)]
    [InlineData(Persisted.FirstTornSecondWhole, 1)]
    [InlineData(Persisted.FirstWholeSecondTorn, 2)]
    [InlineData(Persisted.BothTorn, 1)]
    public async Task LoadAsync_CrashWithTwoCommitsInFlight_ReplaysTheWrittenPrefixAndCutsTheRest(Persisted persisted, long expectedVersion)
    {
        var image = await CaptureTwoInFlightAsync();
        var crafted = image.Bytes.ToArray();
        switch (persisted)
        {
            case Persisted.Neither:
                Zero(crafted, image.B, image.End);
                break;
            case Persisted.FirstOnly:
                Zero(crafted, image.C, image.End);
                break;
            case Persisted.SecondOnly:
                Zero(crafted, image.B, image.C);
                break;
            case Persisted.FirstTornSecondWhole:
                Tear(crafted, image.B, image.C);
                break;
            case Persisted.FirstWholeSecondTorn:
                Tear(crafted, image.C, image.End);
                break;
            case Persisted.BothTorn:
                Tear(crafted, image.B, image.C);
                Tear(crafted, image.C, image.End);
                break;
        }

        await File.WriteAllBytesAsync(image.Path, crafted);

        await using (var reopened = await ReopenAsync(_directory))
        {
            var k = reopened.Engine.Get("k");
            Assert.Equal((expectedVersion, expectedVersion), (k.Version, k.Value));
            Assert.Equal(expectedVersion == 3, reopened.Engine.TryGet("c-only", out _));
        }

        // The cut is where the replayed prefix ends (the zero tail too, when nothing was cut).
        var validEnd = expectedVersion switch { 1 => image.B, 2 => image.C, _ => image.End };
        Assert.Equal(validEnd, new FileInfo(image.Path).Length);

        // And a second start reads the same (the open's recorded end continues exactly there).
        await using var again = await ReopenAsync(_directory);
        Assert.Equal(expectedVersion, again.Engine.Get("k").Version);
    }

    [Fact]
    public async Task LoadAsync_TornFrameFollowedByAWholeFrameThatDidNotOverlapIt_ThrowsCorrupt()
    {
        // C whole, B gone: accepted only because C says it was written while B was in flight. Without the flag the
        // same image is a damaged frame before a valid one (acknowledged data may be lost): the start is refused.
        var image = await CaptureTwoInFlightAsync();
        var crafted = image.Bytes.ToArray();
        Zero(crafted, image.B, image.C);
        var countAt = (int)image.C + JournalFormat.FrameHeaderSize + 8;
        var count = BinaryPrimitives.ReadUInt32LittleEndian(crafted.AsSpan(countAt));
        Assert.NotEqual(0u, count & JournalFormat.OverlappedFlag);
        BinaryPrimitives.WriteUInt32LittleEndian(crafted.AsSpan(countAt), count & ~JournalFormat.OverlappedFlag);
        var payload = crafted.AsSpan((int)image.C + JournalFormat.FrameHeaderSize, (int)(image.End - image.C) - JournalFormat.FrameHeaderSize);
        BinaryPrimitives.WriteUInt32LittleEndian(crafted.AsSpan((int)image.C + 4), Crc32C.Compute(payload));
        await File.WriteAllBytesAsync(image.Path, crafted);

        var error = await ReplayExpectingCorruptionAsync();
        Assert.Equal(image.B, error.Offset);
        Assert.Contains("valid frame follows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAsync_TornFrameFollowedByTwoWholeFrames_ThrowsCorrupt()
    {
        // At most two commits are in flight, so at most one whole frame can follow a torn one.
        var image = await CaptureTwoInFlightAsync();
        var crafted = image.Bytes.ToArray();
        Zero(crafted, image.B, image.C);

        // A copy of C placed (and checksummed) for the offset after it, as if a third frame had been written.
        var c = crafted.AsSpan((int)image.C, (int)(image.End - image.C)).ToArray();
        BinaryPrimitives.WriteInt64LittleEndian(c.AsSpan(JournalFormat.FrameHeaderSize), image.End);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(4), Crc32C.Compute(c.AsSpan(JournalFormat.FrameHeaderSize)));
        c.CopyTo(crafted.AsSpan((int)image.End));
        await File.WriteAllBytesAsync(image.Path, crafted);

        var error = await ReplayExpectingCorruptionAsync();
        Assert.Equal(image.B, error.Offset);
        Assert.Contains("another valid frame follows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Append_FirstOfTwoInFlightSyncsFails_BothRefusedThoughTheSecondSyncReturned_AndNeitherReplayed()
    {
        using var bStarted = new ManualResetEventSlim();
        using var cReturned = new ManualResetEventSlim();
        var files = new GatedFiles
        {
            // Flush 1 is the header's, 2 is A's, 3 is B's, 4 is C's.
            BeforeFlush = n =>
            {
                if (n == 3)
                {
                    bStarted.Set();
                    Wait(cReturned, "C's sync returned");
                    return Errno.Eio();
                }

                return null;
            },
            AfterFlush = n =>
            {
                if (n == 4)
                {
                    cReturned.Set();
                }
            },
        };

        long aEnd;
        await using (var journal = new OperationJournal(TwoInFlight(), null, null, files.Create))
        {
            await journal.Append(0, [Op("k", 1, 1, "op-1")]);
            aEnd = journal.SegmentLength;
            var b = journal.Append(0, [Op("k", 2, 2, "op-2")]);
            Wait(bStarted, "B's sync started");
            var c = journal.Append(0, [Op("k", 3, 3, "op-3")]);

            var refusedB = await Assert.ThrowsAsync<JournalUnavailableException>(() => b);
            var refusedC = await Assert.ThrowsAsync<JournalUnavailableException>(() => c);
            Assert.Equal(("EIO", false, false), (refusedB.Cause, refusedB.MayBeApplied, refusedC.MayBeApplied));
            Assert.True(cReturned.IsSet); // C's own sync had returned before B's failed: C is refused all the same
            await Poll.UntilAsync(() => journal.Health.Status == JournalHealthStatus.Healthy, "the journal recovered");
        }

        await using var reopened = await ReopenAsync(_directory);
        Assert.Equal(1, reopened.Engine.Get("k").Version);
        Assert.Equal(aEnd, new FileInfo(_directory.Segments()[0]).Length);
    }

    [Fact]
    public async Task Append_SecondOfTwoInFlightSyncsFails_FirstAcknowledgedSecondRefused()
    {
        using var bStarted = new ManualResetEventSlim();
        using var cFailed = new ManualResetEventSlim();
        var files = new GatedFiles
        {
            BeforeFlush = n =>
            {
                switch (n)
                {
                    case 3:
                        bStarted.Set();
                        Wait(cFailed, "C's sync failed");
                        return null;
                    case 4:
                        cFailed.Set();
                        return Errno.Eio();
                    default:
                        return null;
                }
            },
        };

        await using (var journal = new OperationJournal(TwoInFlight(), null, null, files.Create))
        {
            await journal.Append(0, [Op("k", 1, 1, "op-1")]);
            var b = journal.Append(0, [Op("k", 2, 2, "op-2")]);
            Wait(bStarted, "B's sync started");
            var c = journal.Append(0, [Op("k", 3, 3, "op-3")]);

            await b;
            var refused = await Assert.ThrowsAsync<JournalUnavailableException>(() => c);
            Assert.Equal(("EIO", false), (refused.Cause, refused.MayBeApplied));
            await Poll.UntilAsync(() => journal.Health.Status == JournalHealthStatus.Healthy, "the journal recovered");
        }

        // B replayed, C (refused) not: the recovery segment records the failed segment's end after B.
        await using var reopened = await ReopenAsync(_directory);
        Assert.Equal((2L, 2L), (reopened.Engine.Get("k").Version, reopened.Engine.Get("k").Value));
    }

    [Fact]
    public async Task Append_WhileTwoCommitsAreInFlight_NextAppendsShareOneGroup()
    {
        using var aStarted = new ManualResetEventSlim();
        using var bStarted = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var files = new GatedFiles
        {
            // Flush 1 is the header's; A's (2) and B's (3) are held together until the others queued.
            BeforeFlush = n =>
            {
                if (n is 2 or 3)
                {
                    (n == 2 ? aStarted : bStarted).Set();
                    Wait(release, "the test released the syncs");
                }

                return null;
            },
        };
        using var meters = new TestMeterFactory();
        using var groupSizes = new GroupSizeRecorder(meters);

        const int Appenders = 64;
        var journal = new OperationJournal(TwoInFlight(), null, meters, files.Create);
        groupSizes.Start();
        await using (journal)
        {
            var a = journal.Append(0, [Op("a", 1, 1)]);
            Wait(aStarted, "A's sync started");
            var b = journal.Append(0, [Op("b", 1, 1)]);
            Wait(bStarted, "B's sync started while A's was held");
            var appended = await Task.WhenAll(Enumerable.Range(0, Appenders).Select(i => Task.Factory.StartNew(() => journal.Append(i % 8, [Op($"k{i}", i, 1, $"id-{i}")]), CancellationToken.None, TaskCreationOptions.None, TaskScheduler.Default)));
            release.Set();
            await Task.WhenAll([a, b, .. appended]);
            Assert.Equal(3, journal.CommitCount);
        }

        // Two in flight at most: the third group waited for a slot, and took every append made meanwhile.
        Assert.Equal([1, 1, Appenders], groupSizes.Sizes);
        await using var reopened = await ReopenAsync(_directory);
        Assert.Equal(Appenders + 2, reopened.Engine.CounterCount);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Constructor_MaxCommitsInFlightOutsideOneToTwo_Throws(int inFlight)
    {
        // Replay's rule (one whole frame after a torn one) is proven for two commits in flight, not more.
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new OperationJournal(Options(_directory, o => o.MaxCommitsInFlight = inFlight)));
        Assert.Equal(nameof(JournalOptions.MaxCommitsInFlight), error.ParamName);
    }

    /// <summary>
    /// Writes A (acknowledged), then B and C with both syncs in flight, and copies the segment at that moment (what a
    /// power loss may leave, before either sync returned); then lets both syncs finish and closes the journal.
    /// </summary>
    private async Task<Image> CaptureTwoInFlightAsync()
    {
        using var bStarted = new ManualResetEventSlim();
        using var captured = new ManualResetEventSlim();
        byte[]? bytes = null;
        string? path = null;
        var files = new GatedFiles
        {
            BeforeFlush = n =>
            {
                switch (n)
                {
                    case 3:
                        bStarted.Set();
                        Wait(captured, "C was written and the image captured");
                        break;
                    case 4:
                        // C's sync is requested while B's is still running: both frames are in the file, neither is durable.
                        using (var stream = new FileStream(path!, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                        {
                            bytes = new byte[stream.Length];
                            stream.ReadExactly(bytes);
                        }

                        captured.Set();
                        break;
                }

                return null;
            },
        };

        long b;
        await using (var journal = new OperationJournal(TwoInFlight(), null, null, files.Create))
        {
            path = _directory.Segments().Single();
            await journal.Append(0, [Op("k", 1, 1, "op-1")]);
            b = journal.SegmentLength;
            var second = journal.Append(0, [Op("k", 2, 2, "op-2")]);
            Wait(bStarted, "B's sync started");
            var third = journal.Append(0, [Op("k", 3, 3, "op-3"), Op("c-only", 1, 1)]);
            await Task.WhenAll(second, third);
        }

        Assert.NotNull(bytes);
        var c = b + JournalFormat.FrameHeaderSize + BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)b));
        var end = c + JournalFormat.FrameHeaderSize + BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)c));
        Assert.Equal(SegmentBytes, bytes.Length);
        return new Image(path!, bytes, b, c, end);
    }

    private JournalOptions TwoInFlight() => Options(_directory, o => (o.SegmentMaxBytes, o.MaxCommitsInFlight) = (SegmentBytes, 2));

    private async Task<JournalCorruptException> ReplayExpectingCorruptionAsync()
    {
        await using var journal = new OperationJournal(Options(_directory));
        await using var engine = new FuncMap.Engine.CounterEngine(EngineOptions());
        return await Assert.ThrowsAsync<JournalCorruptException>(() => journal.LoadAsync(engine, CancellationToken.None));
    }

    private static void Wait(ManualResetEventSlim signal, string what)
    {
        if (!signal.Wait(Patience))
        {
            throw new TimeoutException($"Timed out waiting until {what}.");
        }
    }

    private static void Zero(byte[] bytes, long from, long to) => bytes.AsSpan((int)from, (int)(to - from)).Clear();

    /// <summary>A torn frame: its first half reached the disk, the rest did not.</summary>
    private static void Tear(byte[] bytes, long from, long to) => Zero(bytes, from + (to - from) / 2, to);

    /// <summary>The segment as captured, and where frames B and C start and C ends.</summary>
    private sealed record Image(string Path, byte[] Bytes, long B, long C, long End);
}

/// <summary>Real segment files whose syncs (the header's too, numbered from 1) a test can hold, fail or observe.</summary>
internal sealed class GatedFiles
{
    private int _flushes;

    /// <summary>Called before a sync with its number; may block; an exception returned is thrown instead of syncing.</summary>
    public Func<int, Exception?>? BeforeFlush { get; init; }

    /// <summary>Called after a sync returned.</summary>
    public Action<int>? AfterFlush { get; init; }

    public int Flushes => Volatile.Read(ref _flushes);

    public ISegmentFile Create(string path, long preallocate) => new Gated(FileSegment.Create(path, preallocate), this);

    private sealed class Gated(ISegmentFile inner, GatedFiles owner) : ISegmentFile
    {
        public long Preallocated => inner.Preallocated;

        public void Write(ReadOnlySpan<byte> data) => inner.Write(data);

        public void FlushToDisk()
        {
            var n = Interlocked.Increment(ref owner._flushes);
            if (owner.BeforeFlush?.Invoke(n) is { } fault)
            {
                throw fault;
            }

            inner.FlushToDisk();
            owner.AfterFlush?.Invoke(n);
        }

        public void Seal() => inner.Seal();

        public void Cut(long length) => inner.Cut(length);

        public void Dispose() => inner.Dispose();
    }
}
