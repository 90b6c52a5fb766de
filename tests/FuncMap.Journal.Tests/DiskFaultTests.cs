using FuncMap.Counters;
using FuncMap.Engine;
using static FuncMap.Journal.Tests.Journals;

namespace FuncMap.Journal.Tests;

/// <summary>
/// A failing disk (injected errno errors through the segment-file seam): a clear, temporary refusal that names the
/// errno, recovery on a fresh segment once the fault clears, and a failed frame that is never replayed.
/// </summary>
public sealed class DiskFaultTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Append_WriteFailsWithEnospc_RefusedNamingItUntilTheFaultClearsThenRecoversWithoutRestart()
    {
        var files = new FaultyFiles { PartialWrites = true };
        await using (var journal = Open(files))
        {
            await journal.Append(0, [Op("before", 1, 1, "op-before")]);
            files.WriteFault = Errno.Enospc;

            var refused = await Assert.ThrowsAsync<JournalUnavailableException>(() => journal.Append(0, [Op("failed", 1, 1, "op-failed")]));
            Assert.Equal("ENOSPC", refused.Cause);
            Assert.False(refused.MayBeApplied); // the partial frame was cut off and the cut synced
            Assert.Contains("ENOSPC (no space left on the device)", refused.Message, StringComparison.Ordinal);
            Assert.IsAssignableFrom<OperationLogUnavailableException>(refused);
            var health = journal.Health;
            Assert.Equal((JournalHealthStatus.Unavailable, "ENOSPC"), (health.Status, health.Cause));
            Assert.NotNull(health.Since);

            // Recovery keeps failing while the disk is full (its header write finds no space): every append is refused.
            var attempts = files.Creates;
            await Poll.UntilAsync(() => files.Creates >= attempts + 2, "two recovery attempts failed");
            var stillRefused = await Assert.ThrowsAsync<JournalUnavailableException>(() => journal.Append(0, [Op("refused", 1, 1)]));
            Assert.Equal(("ENOSPC", false), (stillRefused.Cause, stillRefused.MayBeApplied));
            Assert.Equal(JournalHealthStatus.Unavailable, journal.Health.Status);

            files.Heal();
            await Poll.UntilAsync(() => journal.Health.IsHealthy, "the journal recovered");
            Assert.Null(journal.Failure);
            await journal.Append(0, [Op("after", 1, 1, "op-after")]);
        }

        await using var reopened = await ReopenAsync(_directory);
        Assert.Equal(1, reopened.Engine.Get("before").Value);
        Assert.Equal(1, reopened.Engine.Get("after").Value);
        Assert.False(reopened.Engine.TryGet("failed", out _));
        Assert.False(reopened.Engine.TryGet("refused", out _));
    }

    /// <summary>
    /// The worst case: the frame reached the file whole (its write succeeded), its fsync failed, and the failed
    /// segment cannot be cut. The recovery segment's header records the valid end, so the complete, checksummed
    /// frame that is still in the file is never replayed; its callers hear "not applied" only once that is durable.
    /// </summary>
    [Fact]
    public async Task Append_SyncFailsWithEioAndTheCutFails_TheFrameLeftInTheFileIsNeverReplayed()
    {
        var files = new FaultyFiles();
        string failedSegment;
        long validEnd;
        await using (var journal = Open(files, o => o.SettleTimeout = TimeSpan.FromMinutes(5)))
        {
            await journal.Append(0, [Op("k", 1, 1, "op-1")]);
            validEnd = journal.SegmentLength;
            failedSegment = _directory.Segments().Single();
            (files.SyncFault, files.CutFault, files.CreateFault) = (Errno.Eio, Errno.Eio, Errno.Eio);

            var failed = journal.Append(0, [Op("k", 2, 2, "op-2"), Op("lost", 7, 1)]);
            await Poll.UntilAsync(() => !journal.Health.IsHealthy, "the journal is unavailable");
            var attempts = files.Creates;
            await Poll.UntilAsync(() => files.Creates >= attempts + 2, "two recovery attempts failed");
            Assert.False(failed.IsCompleted); // not settled: the frame may still be replayed
            Assert.Equal("EIO", journal.Health.Cause);
            Assert.True(new FileInfo(failedSegment).Length > validEnd); // the frame is still in the file

            files.Heal();
            var refused = await Assert.ThrowsAsync<JournalUnavailableException>(() => failed);
            Assert.Equal(("EIO", false), (refused.Cause, refused.MayBeApplied));
            await Poll.UntilAsync(() => journal.Health.IsHealthy, "the journal recovered");
            await journal.Append(0, [Op("k", 3, 3, "op-3")]);
        }

        await using var reopened = await ReopenAsync(_directory);
        var engine = reopened.Engine;
        Assert.Equal((3L, 3L), (engine.Get("k").Value, engine.Get("k").Version));
        Assert.False(engine.TryGet("lost", out _));
        Assert.Equal(OperationStatus.Duplicate, (await engine.ExecuteAsync("k", CounterOperation.Add(1, "op-1"))).Status);
        Assert.Equal(OperationStatus.Applied, (await engine.ExecuteAsync("k", CounterOperation.Add(1, "op-2"))).Status);
        Assert.Equal(validEnd, new FileInfo(failedSegment).Length); // replay cut the failed frame off
    }

    [Fact]
    public async Task Append_CutNotDurableWithinTheBound_RefusedAsOutcomeUnknownThenRecovers()
    {
        var files = new FaultyFiles();
        await using var journal = Open(files, o => o.SettleTimeout = TimeSpan.FromMilliseconds(50));
        await journal.Append(0, [Op("k", 1, 1)]);
        (files.SyncFault, files.CutFault, files.CreateFault) = (Errno.Eio, Errno.Eio, Errno.Eio);

        var refused = await Assert.ThrowsAsync<JournalUnavailableException>(() => journal.Append(0, [Op("k", 2, 2)]));
        Assert.Equal(("EIO", true), (refused.Cause, refused.MayBeApplied));
        Assert.Contains("unknown", refused.Message, StringComparison.Ordinal);
        Assert.True(journal.Health.OutcomeUnknown);

        files.Heal();
        await Poll.UntilAsync(() => journal.Health.IsHealthy, "the journal recovered");
        await journal.Append(0, [Op("k", 3, 3)]);
    }

    [Fact]
    public async Task Append_RefusedGenerationAfterRecovery_StaysRefused()
    {
        var files = new FaultyFiles();
        await using var journal = Open(files);
        var generation = journal.Generation;
        files.WriteFault = Errno.Enospc;
        await Assert.ThrowsAsync<JournalUnavailableException>(() => journal.Append(0, [Op("k", 1, 1)], generation));
        files.Heal();
        await Poll.UntilAsync(() => journal.Health.IsHealthy, "the journal recovered");

        var stale = await Assert.ThrowsAsync<JournalUnavailableException>(() => journal.Append(0, [Op("k", 2, 2)], generation));
        Assert.Equal(("ENOSPC", false), (stale.Cause, stale.MayBeApplied));
        await journal.Append(0, [Op("k", 2, 2)], journal.Generation);
    }

    [Fact]
    public async Task Checkpoint_NewSegmentCannotBeCreated_UnavailableThenRecoveredOnAFreshSegment()
    {
        var files = new FaultyFiles();
        await using (var journal = Open(files))
        {
            await journal.Append(0, [Op("k", 1, 1)]);
            files.CreateFault = Errno.Erofs;
            journal.Checkpoint();
            await Poll.UntilAsync(() => !journal.Health.IsHealthy, "the journal is unavailable");
            Assert.Equal("EROFS", journal.Health.Cause);
            Assert.Contains("read-only", journal.Health.Message, StringComparison.Ordinal);
            Assert.Throws<JournalUnavailableException>(() => journal.Checkpoint());

            files.Heal();
            await Poll.UntilAsync(() => journal.Health.IsHealthy, "the journal recovered");
            await journal.Append(0, [Op("k", 2, 2)]);
        }

        await using var reopened = await ReopenAsync(_directory);
        Assert.Equal(2, reopened.Engine.Get("k").Version);
    }

    [Fact]
    public async Task Health_OneLogLinePerTransition_NotOnePerRefusedAppend()
    {
        var files = new FaultyFiles();
        var logger = new ListLogger();
        await using var journal = new OperationJournal(Options(_directory, Fast), logger, null, files.Create);
        files.WriteFault = Errno.Enospc;
        await Assert.ThrowsAsync<JournalUnavailableException>(() => journal.Append(0, [Op("k", 1, 1)]));
        for (var i = 0; i < 20; i++)
        {
            await Assert.ThrowsAsync<JournalUnavailableException>(() => journal.Append(0, [Op("k", 1, 1)]));
        }

        files.Heal();
        await Poll.UntilAsync(() => journal.Health.IsHealthy, "the journal recovered");

        Assert.Equal(1, logger.Count(1213));
        Assert.Equal(1, logger.Count(1214));
    }

    [Fact]
    public void Constructor_FirstSegmentCannotBeCreatedOnAReadOnlyFileSystem_ThrowsStartErrorNamingErofs()
    {
        var files = new FaultyFiles { CreateFault = Errno.Erofs };

        var error = Assert.Throws<JournalStartException>(() => new OperationJournal(Options(_directory), null, null, files.Create));
        Assert.Equal("EROFS", error.Cause);
        Assert.Contains("EROFS (the file system is read-only)", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("in use", error.Message, StringComparison.Ordinal);
        Assert.Equal(Path.Combine(_directory.Path, JournalFormat.FileName(1)), error.Path);

        // The lock is released: the next start succeeds.
        using var journal = new OperationJournal(Options(_directory));
    }

    [Fact]
    public void Constructor_PermissionDenied_ThrowsStartErrorNamingEacces()
    {
        var files = new FaultyFiles { CreateFault = Errno.Eacces };

        var error = Assert.Throws<JournalStartException>(() => new OperationJournal(Options(_directory), null, null, files.Create));
        Assert.Equal("EACCES", error.Cause);
        Assert.Contains("permission denied", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_DirectoryPathIsAFile_ThrowsStartErrorNamingTheErrno()
    {
        var file = Path.Combine(_directory.Path, "not-a-directory");
        File.WriteAllText(file, "x");

        var error = Assert.Throws<JournalStartException>(() => new OperationJournal(new JournalOptions { Directory = Path.Combine(file, "journal") }));
        Assert.DoesNotContain("in use", error.Message, StringComparison.Ordinal);
        Assert.Equal("ENOTDIR", error.Cause);
        Assert.Contains($"'{file}' is a file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checkpoint_NothingWrittenSinceTheLastRotation_DoesNotRotate()
    {
        await using var journal = new OperationJournal(Options(_directory));
        var first = journal.Checkpoint();
        Assert.Equal(first, journal.Checkpoint());
        Assert.Single(_directory.Segments());

        await journal.Append(0, [Op("k", 1, 1)]);
        var second = journal.Checkpoint();
        Assert.True(second > first);
        await Poll.UntilAsync(() => journal.CurrentSequence == second, "the writer rotated");
        Assert.Equal(second, journal.Checkpoint());
        Assert.Equal(2, _directory.Segments().Length);
    }

    [Fact]
    public async Task Checkpoint_BackToBackWithNothingAppendedBetween_ReturnsTheSameSegment()
    {
        await using var journal = new OperationJournal(Options(_directory));
        await journal.Append(0, [Op("k", 1, 1)]);

        var first = journal.Checkpoint();
        Assert.Equal(first, journal.Checkpoint());
        await journal.Append(0, [Op("k", 2, 2)]);
        Assert.True(journal.Checkpoint() > first);
    }

    [Fact]
    public async Task Checkpoint_AfterRecovery_ReturnsTheEmptyRecoverySegmentAndRecordsBeforeLieBelowIt()
    {
        var files = new FaultyFiles();
        await using var journal = Open(files);
        await journal.Append(0, [Op("k", 1, 1)]);
        files.SyncFault = Errno.Eio;
        await Assert.ThrowsAsync<JournalUnavailableException>(() => journal.Append(0, [Op("k", 2, 2)]));
        files.Heal();
        await Poll.UntilAsync(() => journal.Health.IsHealthy, "the journal recovered");

        var sequence = journal.Checkpoint();
        Assert.Equal(journal.CurrentSequence, sequence);
        Assert.True(sequence > 1);
    }

    private OperationJournal Open(FaultyFiles files, Action<JournalOptions>? configure = null) =>
        new(Options(_directory, o =>
        {
            Fast(o);
            configure?.Invoke(o);
        }), null, null, files.Create);

    private static void Fast(JournalOptions options) => options.RecoveryInterval = TimeSpan.FromMilliseconds(10);
}
