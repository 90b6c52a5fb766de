using FuncMap.Counters;
using FuncMap.Functions.Counters;

namespace FuncMap.Functions.Tests;

public class CounterEntityTests
{
    [Fact]
    public async Task Add_NewCounter_CreatesItAtVersionOne()
    {
        var counter = new CounterHarness();

        var outcome = await counter.RunAsync(CounterOperations.Add, new CounterCommand("op-1", 5));

        Assert.Equal(OperationStatus.Applied, outcome!.Status);
        Assert.True(outcome.Exists);
        Assert.Equal(5, outcome.Value);
        Assert.Equal(1, outcome.Version);
        Assert.Equal(counter.Time.Now, outcome.UpdatedAt);
    }

    [Fact]
    public async Task Add_SameOperationIdTwice_AppliedOnceAcrossPersistence()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("retry-me", 3));

        var second = await counter.RunAsync(CounterOperations.Add, new CounterCommand("retry-me", 3));

        Assert.Equal(OperationStatus.Duplicate, second!.Status);
        Assert.Equal(3, second.Value);
        Assert.Equal(1, second.Version);
        Assert.Equal(3, counter.Current!.Value);
    }

    [Theory]
    [InlineData(CounterOperations.Add, 100)]
    [InlineData(CounterOperations.Reset, 0)]
    [InlineData(CounterOperations.Delete, 0)]
    public async Task Write_OperationIdReusedForOtherRequest_MismatchAndStateUnchanged(string operation, long delta)
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("op-A", 5));

        var outcome = await counter.RunAsync(operation, new CounterCommand("op-A", delta));

        Assert.Equal(OperationStatus.Mismatch, outcome!.Status);
        Assert.Equal((5L, 1L, true), (counter.Current!.Value, counter.Current.Version, counter.Current.Exists));
        Assert.Equal(["op-A\tadd:5"], counter.Current.RecentOperationIds);
    }

    [Fact]
    public async Task Add_ResultBeyondInt64_RejectedAndStateUnchanged()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("a", long.MaxValue - 1));

        var outcome = await counter.RunAsync(CounterOperations.Add, new CounterCommand("b", 2));

        Assert.Equal(OperationStatus.Overflow, outcome!.Status);
        Assert.Equal(long.MaxValue - 1, counter.Current!.Value);
        Assert.Equal(1, counter.Current.Version);
    }

    [Fact]
    public async Task Add_RejectedOperationId_CanBeRetriedOnceItFits()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("a", long.MaxValue));
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("b", 1));
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("c", -10));

        var retried = await counter.RunAsync(CounterOperations.Add, new CounterCommand("b", 1));

        Assert.Equal(OperationStatus.Applied, retried!.Status);
        Assert.Equal(long.MaxValue - 9, retried.Value);
    }

    [Fact]
    public async Task Reset_ExistingCounter_ZeroesValueAndKeepsCountingVersions()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("a", 7));

        var outcome = await counter.RunAsync(CounterOperations.Reset, new CounterCommand("r"));

        Assert.Equal(OperationStatus.Applied, outcome!.Status);
        Assert.Equal(0, outcome.Value);
        Assert.Equal(2, outcome.Version);
    }

    [Fact]
    public async Task Reset_MissingCounter_NotFound()
    {
        var counter = new CounterHarness();

        var outcome = await counter.RunAsync(CounterOperations.Reset, new CounterCommand("r"));

        Assert.Equal(OperationStatus.NotFound, outcome!.Status);
        Assert.False(outcome.Exists);
        Assert.False(counter.State.HasState);
    }

    [Fact]
    public async Task Delete_MissingCounter_NotFoundWithoutCreatingState()
    {
        var counter = new CounterHarness();

        var outcome = await counter.RunAsync(CounterOperations.Delete, new CounterCommand("d"));

        Assert.Equal(OperationStatus.NotFound, outcome!.Status);
        Assert.False(counter.State.HasState);
    }

    [Fact]
    public async Task Purge_CounterWithoutState_LeavesNoState()
    {
        var counter = new CounterHarness();

        await counter.RunAsync(CounterOperations.Purge, 2L);

        Assert.False(counter.State.HasState);
    }

    [Fact]
    public async Task Delete_ExistingCounter_LeavesTombstoneWithVersionAndWindow()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("a", 7));

        var outcome = await counter.RunAsync(CounterOperations.Delete, new CounterCommand("d"));

        Assert.Equal(OperationStatus.Applied, outcome!.Status);
        Assert.False(outcome.Exists);
        Assert.True(counter.State.HasState);
        Assert.False(counter.Current!.Exists);
        Assert.Equal(2, counter.Current.Version);
        Assert.Equal<string>(["a\tadd:7", "d\tdelete"], counter.Current.RecentOperationIds);
    }

    [Fact]
    public async Task Add_DuplicateArrivingAfterDelete_NotAppliedAgain()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("batch-7", 4));
        await counter.RunAsync(CounterOperations.Delete, new CounterCommand("d"));

        var late = await counter.RunAsync(CounterOperations.Add, new CounterCommand("batch-7", 4));

        Assert.Equal(OperationStatus.Duplicate, late!.Status);
        Assert.False(counter.Current!.Exists);
    }

    [Fact]
    public async Task Purge_TombstoneOfThatVersion_RemovesState()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("a", 1));
        await counter.RunAsync(CounterOperations.Delete, new CounterCommand("d"));

        await counter.RunAsync(CounterOperations.Purge, 2L);

        Assert.False(counter.State.HasState);
    }

    [Fact]
    public async Task Purge_CounterWrittenAgainSinceTheTombstone_KeepsIt()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("a", 1));
        await counter.RunAsync(CounterOperations.Delete, new CounterCommand("d"));
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("again", 9));

        await counter.RunAsync(CounterOperations.Purge, 2L);

        Assert.True(counter.Current!.Exists);
        Assert.Equal(9, counter.Current.Value);
        Assert.Equal(3, counter.Current.Version);
    }

    [Fact]
    public async Task Purge_LiveCounter_KeepsIt()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("a", 1));

        await counter.RunAsync(CounterOperations.Purge, 1L);

        Assert.True(counter.Current!.Exists);
    }

    [Fact]
    public async Task Get_NeverWritten_NotFoundWithoutCreatingState()
    {
        var counter = new CounterHarness();

        var outcome = await counter.RunAsync(CounterOperations.Get);

        Assert.Equal(OperationStatus.NotFound, outcome!.Status);
        Assert.False(outcome.Exists);
        Assert.False(counter.State.HasState);
    }

    [Fact]
    public async Task Get_Tombstone_NotFoundAndTombstoneKept()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("a", 1));
        await counter.RunAsync(CounterOperations.Delete, new CounterCommand("d"));

        var outcome = await counter.RunAsync(CounterOperations.Get);

        Assert.Equal(OperationStatus.NotFound, outcome!.Status);
        Assert.Equal(2, counter.Current!.Version);
    }

    [Fact]
    public async Task Add_WithoutInput_FailsTheOperation()
    {
        var counter = new CounterHarness();

        await Assert.ThrowsAsync<InvalidOperationException>(() => counter.RunAsync(CounterOperations.Add));
        Assert.False(counter.State.HasState);
    }

    [Fact]
    public void IdOf_Key_IsCounterEntityWithKeyVerbatim()
    {
        var id = Counter.IdOf("Page:Home.v2");

        Assert.Equal("@counter@Page:Home.v2", id.ToString());
        Assert.StartsWith(Counter.InstanceIdPrefix, id.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_WithReplyTo_OutcomeRecordedForThatCallerOnly()
    {
        var counter = new CounterHarness();

        await counter.RunAsync(CounterOperations.Add, new CounterCommand("a", 5, ReplyTo: "caller-1"));
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("b", 1));
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("c", long.MaxValue, ReplyTo: "caller-2"));

        var state = (CounterEntityState)counter.State.GetState(typeof(CounterEntityState))!;
        Assert.Equal((OperationStatus.Applied, 5L, 1L), Summary(state.FindReply("caller-1", CounterOperation.Add(5, "a"))));
        Assert.Equal((OperationStatus.Overflow, 6L, 2L), Summary(state.FindReply("caller-2", CounterOperation.Add(long.MaxValue, "c"))));
        Assert.Null(state.FindReply("caller-3", CounterOperation.Add(1, "d")));
    }

    [Fact]
    public async Task FindReply_ReplyPushedOutButOperationApplied_CounterAsItIsNow()
    {
        var counter = new CounterHarness();
        for (var i = 0; i <= CounterEntityState.MaxReplies; i++)
        {
            await counter.RunAsync(CounterOperations.Add, new CounterCommand($"op-{i}", 1, ReplyTo: $"caller-{i}"));
        }

        var state = (CounterEntityState)counter.State.GetState(typeof(CounterEntityState))!;
        Assert.Equal(CounterEntityState.MaxReplies, state.Replies.Count);
        Assert.Equal((OperationStatus.Duplicate, 17L, 17L), Summary(state.FindReply("caller-0", CounterOperation.Add(1, "op-0"))));
        Assert.Equal((OperationStatus.Applied, 2L, 2L), Summary(state.FindReply("caller-1", CounterOperation.Add(1, "op-1"))));
    }

    [Fact]
    public async Task Reset_MissingCounterWithReplyTo_KeepsTheReplyUntilTheSnapshotPurgesIt()
    {
        var counter = new CounterHarness();

        await counter.RunAsync(CounterOperations.Reset, new CounterCommand("r", ReplyTo: "caller"));

        var state = (CounterEntityState)counter.State.GetState(typeof(CounterEntityState))!;
        Assert.Equal(OperationStatus.NotFound, state.FindReply("caller", CounterOperation.Reset("r"))!.Status);
        await counter.RunAsync(CounterOperations.Purge, 0L);
        Assert.False(counter.State.HasState);
    }

    [Fact]
    public async Task FindReply_ReplyPushedOutAndIdAppliedForAnotherDelta_Mismatch()
    {
        var counter = new CounterHarness();
        for (var i = 0; i <= CounterEntityState.MaxReplies; i++)
        {
            await counter.RunAsync(CounterOperations.Add, new CounterCommand($"op-{i}", 1, ReplyTo: $"caller-{i}"));
        }

        var state = (CounterEntityState)counter.State.GetState(typeof(CounterEntityState))!;
        Assert.Equal(OperationStatus.Mismatch, state.FindReply("caller-0", CounterOperation.Add(2, "op-0"))!.Status);
    }

    private static readonly string FoldSource = SourceSequences.NewSourceId(new DateTimeOffset(2026, 11, 22, 9, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Fold_NumberedSums_AppliedOnceEachInOrderAcrossPersistence()
    {
        var counter = new CounterHarness();

        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 1, [5, -2]));
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 1, [5, -2]));
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 3, [10]));

        Assert.Equal((13L, 3L, true), (counter.Current!.Value, counter.Current.Version, counter.Current.Exists));
    }

    [Fact]
    public async Task Fold_ArrivesBeforeAnEarlierOne_ParkedThenAppliedWhenTheGapIsFilled()
    {
        var counter = new CounterHarness();

        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 2, [100]));
        Assert.True(counter.State.HasState);
        Assert.False(counter.Current!.Exists);

        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 1, [1]));

        Assert.Equal((101L, 2L), (counter.Current!.Value, counter.Current.Version));
    }

    [Fact]
    public async Task Fold_GapBegins_EntityRemindsItselfWhenDueAndTheReminderReleasesIt()
    {
        var counter = new CounterHarness();
        var start = counter.Time.GetUtcNow();

        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 3, [100]));
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 4, [5]));

        // One reminder, at the gap's start plus the bound (the second fold joined the waiting gap).
        var reminder = Assert.Single(counter.Scheduled);
        Assert.Equal((Counter.IdOf("page:home"), CounterOperations.ReleaseGaps, start + Counter.GapReleaseAfter), reminder);

        counter.Time.Now = reminder.At;
        await counter.RunAsync(reminder.Operation);

        Assert.Equal((105L, 2L, true), (counter.Current!.Value, counter.Current.Version, counter.Current.Exists));
        Assert.Single(counter.Scheduled);
    }

    [Fact]
    public async Task ReleaseGaps_ReminderComesEarly_NothingReleasedAndRemindedAgainWhenDue()
    {
        var counter = new CounterHarness();
        var start = counter.Time.GetUtcNow();
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 2, [100]));

        // Clock skew between instances: the reminder runs where the clock is behind.
        counter.Time.Now = start + Counter.GapReleaseAfter - TimeSpan.FromSeconds(5);
        await counter.RunAsync(CounterOperations.ReleaseGaps);

        Assert.False(counter.Current!.Exists);
        Assert.Equal(2, counter.Scheduled.Count);
        Assert.Equal(start + Counter.GapReleaseAfter, counter.Scheduled[^1].At);
    }

    [Fact]
    public async Task Fold_AfterDeleteAndPurgeAttempt_SequenceKeptSoADuplicateStillCountsOnce()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 1, [4]));
        await counter.RunAsync(CounterOperations.Delete, new CounterCommand("d"));

        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 1, [4]));

        Assert.False(counter.Current!.Exists);
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 2, [6]));
        Assert.Equal((6L, 3L), (counter.Current!.Value, counter.Current.Version));
    }

    [Fact]
    public async Task Fold_WouldOverflow_RefusedAndTheNextFoldStillApplies()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("max", long.MaxValue));

        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 1, [1, -7]));

        Assert.Equal((long.MaxValue - 7, 2L), (counter.Current!.Value, counter.Current.Version));
    }

    [Fact]
    public async Task Purge_TombstoneWithAParkedFold_KeptUntilTheGapIsFilled()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 1, [1]));
        await counter.RunAsync(CounterOperations.Delete, new CounterCommand("d"));
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 3, [30]));

        await counter.RunAsync(CounterOperations.Purge, 2L);
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(FoldSource, 2, [20]));

        Assert.Equal((50L, 4L, true), (counter.Current!.Value, counter.Current.Version, counter.Current.Exists));
    }

    private static (OperationStatus Status, long Value, long Version) Summary(CounterOutcome? outcome) =>
        outcome is null ? throw new InvalidOperationException("no reply") : (outcome.Status, outcome.Value, outcome.Version);
}
