using static FuncMap.Journal.Tests.Journals;

namespace FuncMap.Journal.Tests;

/// <summary>
/// The journal proves its own continuity (format version 3): crafted segment images with a missing, shortened,
/// zero-filled or foreign segment, or without the oldest segment the snapshot needs, refuse the start naming the
/// file and the gap — or, with <see cref="JournalOptions.AcceptDataLoss"/>, start and replay what is there.
/// </summary>
public sealed class ChainTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task LoadAsync_MiddleSegmentMissing_ThrowsNamingTheGap()
    {
        var ends = await WriteThreeSegmentsAsync();
        File.Delete(SegmentPath(2));

        var error = await ReplayExpectingCorruptionAsync();
        Assert.Equal(SegmentPath(2), error.FilePath);
        Assert.Equal(ends[1], error.Offset);
        Assert.Contains($"segment 2 is missing: segment 3 continues segment 2 at offset {ends[1]}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAsync_MiddleSegmentMissingWithAcceptDataLoss_StartsAndReplaysTheRest()
    {
        await WriteThreeSegmentsAsync();
        File.Delete(SegmentPath(2));

        await using var reopened = await ReopenAsync(o => o.AcceptDataLoss = true);
        Assert.Equal(1, reopened.Engine.Get("one").Value);
        Assert.False(reopened.Engine.TryGet("two", out _));
        Assert.Equal(3, reopened.Engine.Get("three").Value);
    }

    /// <summary>The case 5: a sealed middle segment truncated to its header (no frame left).</summary>
    [Fact]
    public async Task LoadAsync_MiddleSegmentTruncatedToItsHeader_ThrowsShortened()
    {
        var ends = await WriteThreeSegmentsAsync();
        Truncate(SegmentPath(2), JournalFormat.HeaderSize);

        var error = await ReplayExpectingCorruptionAsync();
        Assert.Equal(SegmentPath(2), error.FilePath);
        Assert.Equal(JournalFormat.HeaderSize, error.Offset);
        Assert.Contains($"segment 3 continues it at offset {ends[1]}: it was shortened", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAsync_MiddleSegmentTruncatedWithAcceptDataLoss_StartsAndReplaysTheRest()
    {
        await WriteThreeSegmentsAsync();
        Truncate(SegmentPath(2), JournalFormat.HeaderSize);

        await using var reopened = await ReopenAsync(o => o.AcceptDataLoss = true);
        Assert.Equal(1, reopened.Engine.Get("one").Value);
        Assert.False(reopened.Engine.TryGet("two", out _));
        Assert.Equal(3, reopened.Engine.Get("three").Value);
    }

    [Fact]
    public async Task LoadAsync_MiddleSegmentZeroFilled_ThrowsNamingItsSuccessor()
    {
        var ends = await WriteThreeSegmentsAsync();
        File.WriteAllBytes(SegmentPath(2), new byte[ends[1]]);

        var error = await ReplayExpectingCorruptionAsync();
        Assert.Equal(SegmentPath(2), error.FilePath);
        Assert.Equal(0, error.Offset);
        Assert.Contains($"segment 3 continues segment 2 at offset {ends[1]}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAsync_MiddleSegmentZeroFilledWithAcceptDataLoss_StartsAndReplaysTheRest()
    {
        var ends = await WriteThreeSegmentsAsync();
        File.WriteAllBytes(SegmentPath(2), new byte[ends[1]]);

        await using var reopened = await ReopenAsync(o => o.AcceptDataLoss = true);
        Assert.Equal(1, reopened.Engine.Get("one").Value);
        Assert.False(reopened.Engine.TryGet("two", out _));
        Assert.Equal(3, reopened.Engine.Get("three").Value);
    }

    [Fact]
    public async Task LoadAsync_ForeignSegment_ThrowsNamingBothJournals()
    {
        await WriteThreeSegmentsAsync();
        using var other = new TempDirectory();
        Guid otherId;
        await using (var journal = new OperationJournal(Options(other)))
        {
            otherId = journal.JournalId;
            await journal.Append(0, [Op("foreign", 9, 1)]);
            journal.Checkpoint();
            await journal.Append(0, [Op("foreign", 10, 2)]);
        }

        File.Copy(Path.Combine(other.Path, JournalFormat.FileName(2)), SegmentPath(2), overwrite: true);

        var error = await ReplayExpectingCorruptionAsync();
        Assert.Equal(SegmentPath(2), error.FilePath);
        Assert.Contains($"belongs to another journal (id {otherId:D}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAsync_ForeignSegmentWithAcceptDataLoss_IsNotReplayed()
    {
        await WriteThreeSegmentsAsync();
        using var other = new TempDirectory();
        await using (var journal = new OperationJournal(Options(other)))
        {
            await journal.Append(0, [Op("foreign", 9, 1)]);
            journal.Checkpoint();
            await journal.Append(0, [Op("foreign", 10, 2)]);
        }

        File.Copy(Path.Combine(other.Path, JournalFormat.FileName(2)), SegmentPath(2), overwrite: true);

        await using var reopened = await ReopenAsync(o => o.AcceptDataLoss = true);
        Assert.False(reopened.Engine.TryGet("foreign", out _));
        Assert.Equal(1, reopened.Engine.Get("one").Value);
        Assert.Equal(3, reopened.Engine.Get("three").Value);
    }

    [Fact]
    public async Task LoadAsync_OldestSegmentsTruncatedBelowTheRequirement_Starts()
    {
        await WriteThreeSegmentsAsync();
        File.Delete(SegmentPath(1));

        await using var journal = new OperationJournal(Options(_directory));
        journal.RequireReplayFrom(2, journal.JournalId);
        await using var engine = new FuncMap.Engine.CounterEngine(EngineOptions());
        await journal.LoadAsync(engine, CancellationToken.None);
        Assert.Equal(3, engine.Get("three").Value);
    }

    [Fact]
    public async Task LoadAsync_OldestNeededSegmentMissing_ThrowsNamingTheRequirement()
    {
        var ends = await WriteThreeSegmentsAsync();
        File.Delete(SegmentPath(1));
        File.Delete(SegmentPath(2));

        await using var journal = new OperationJournal(Options(_directory));
        journal.RequireReplayFrom(2, journal.JournalId);
        await using var engine = new FuncMap.Engine.CounterEngine(EngineOptions());
        var error = await Assert.ThrowsAsync<JournalCorruptException>(() => journal.LoadAsync(engine, CancellationToken.None));
        Assert.Equal(SegmentPath(2), error.FilePath);
        Assert.Contains($"segment 2 is missing: segment 3 continues segment 2 at offset {ends[1]}, and the snapshot needs the journal from segment 2 on", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAsync_OldestNeededSegmentMissingWithAcceptDataLoss_Starts()
    {
        await WriteThreeSegmentsAsync();
        File.Delete(SegmentPath(1));
        File.Delete(SegmentPath(2));

        await using var journal = new OperationJournal(Options(_directory, o => o.AcceptDataLoss = true));
        journal.RequireReplayFrom(2, journal.JournalId);
        await using var engine = new FuncMap.Engine.CounterEngine(EngineOptions());
        await journal.LoadAsync(engine, CancellationToken.None);
        Assert.Equal(3, engine.Get("three").Value);
    }

    [Fact]
    public async Task LoadAsync_EverySegmentGoneButTheIdKept_ThrowsWhenTheSnapshotNeedsThem()
    {
        await WriteThreeSegmentsAsync();
        foreach (var segment in _directory.Segments())
        {
            File.Delete(segment);
        }

        await using var journal = new OperationJournal(Options(_directory));
        journal.RequireReplayFrom(3, journal.JournalId);
        await using var engine = new FuncMap.Engine.CounterEngine(EngineOptions());
        var error = await Assert.ThrowsAsync<JournalCorruptException>(() => journal.LoadAsync(engine, CancellationToken.None));
        Assert.Contains("no segment of it is present", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadAsync_RequirementOfAnotherJournal_IsNotChecked()
    {
        await WriteThreeSegmentsAsync();
        File.Delete(SegmentPath(1));
        File.Delete(SegmentPath(2));

        await using var journal = new OperationJournal(Options(_directory));
        journal.RequireReplayFrom(2, Guid.NewGuid());
        await using var engine = new FuncMap.Engine.CounterEngine(EngineOptions());
        await journal.LoadAsync(engine, CancellationToken.None);
        Assert.Equal(3, engine.Get("three").Value);
    }

    [Fact]
    public async Task Constructor_IdFileLost_TakesTheIdFromTheNewestSegment()
    {
        Guid id;
        await using (var journal = new OperationJournal(Options(_directory)))
        {
            id = journal.JournalId;
            await journal.Append(0, [Op("k", 1, 1)]);
        }

        File.Delete(Path.Combine(_directory.Path, JournalFormat.IdFileName));
        await using var reopened = await ReopenAsync();
        Assert.Equal(id, reopened.Journal.JournalId);
        Assert.Equal(1, reopened.Engine.Get("k").Value);
    }

    [Fact]
    public async Task LoadAsync_VersionTwoSegmentsBeforeVersionThree_AreReplayedInOrder()
    {
        // A version 2 segment (24-byte header: epoch, no link) as the previous build wrote it.
        var legacy = SegmentPath(1);
        var header = new byte[JournalFormat.LegacyHeaderSize];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header, JournalFormat.Magic);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), 2);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), 1);
        var covered = new byte[20];
        header.AsSpan(0, 16).CopyTo(covered);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(16), Crc32C.Compute(covered));
        File.WriteAllBytes(legacy, header);

        await using (var reopened = await ReopenAsync())
        {
            await reopened.Journal.Append(0, [Op("k", 1, 1)]);
        }

        await using var again = await ReopenAsync();
        Assert.Equal(1, again.Engine.Get("k").Value);
    }

    private string SegmentPath(long sequence) => Path.Combine(_directory.Path, JournalFormat.FileName(sequence));

    /// <summary>Segments 1, 2, 3 holding "one", "two", "three"; returns each one's sealed length.</summary>
    private async Task<long[]> WriteThreeSegmentsAsync()
    {
        await using (var journal = new OperationJournal(Options(_directory)))
        {
            await journal.Append(0, [Op("one", 1, 1)]);
            journal.Checkpoint();
            await journal.Append(0, [Op("two", 2, 1)]);
            journal.Checkpoint();
            await journal.Append(0, [Op("three", 3, 1)]);
        }

        Assert.Equal([SegmentPath(1), SegmentPath(2), SegmentPath(3)], _directory.Segments());
        return [.. _directory.Segments().Select(static s => new FileInfo(s).Length)];
    }

    private async Task<Reopened> ReopenAsync(Action<JournalOptions>? configure = null)
    {
        var journal = new OperationJournal(Options(_directory, configure));
        var engine = new FuncMap.Engine.CounterEngine(EngineOptions());
        await journal.LoadAsync(engine, CancellationToken.None);
        engine.Start();
        return new Reopened(engine, journal);
    }

    private async Task<JournalCorruptException> ReplayExpectingCorruptionAsync()
    {
        await using var journal = new OperationJournal(Options(_directory));
        await using var engine = new FuncMap.Engine.CounterEngine(EngineOptions());
        return await Assert.ThrowsAsync<JournalCorruptException>(() => journal.LoadAsync(engine, CancellationToken.None));
    }

    private static void Truncate(string path, long length)
    {
        using var stream = new FileStream(path, FileMode.Open);
        stream.SetLength(length);
    }
}
