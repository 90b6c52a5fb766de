using FuncMap.Counters;
using FuncMap.Functions.Counters;

namespace FuncMap.Functions.Tests;

/// <summary>The entity's <c>restore</c> rule (issue 20): a snapshot row's state is taken only by an older or never-written counter.</summary>
public sealed class CounterRestoreTests
{
    private static readonly DateTimeOffset RowAt = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    private static RestoreCommand Row(long value, long version, params string[] ids) => new(value, version, RowAt, ids.Length == 0 ? null : ids);

    [Fact]
    public async Task Restore_NeverWritten_TakesTheRowsStateAndWindow()
    {
        var counter = new CounterHarness();

        var outcome = await counter.RunAsync(CounterOperations.Restore, Row(-8_925, 2, "op-1\tadd:-8925", "legacy-id"));

        Assert.Equal(OperationStatus.Applied, outcome!.Status);
        Assert.Equal((-8_925L, 2L, RowAt, true), (counter.Current!.Value, counter.Current.Version, counter.Current.UpdatedAt, counter.Current.Exists));
        Assert.Equal(["op-1\tadd:-8925", "legacy-id"], counter.Current.RecentOperationIds);
    }

    [Fact]
    public async Task Restore_OlderVersion_Overrides()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("app-1", 1));

        var outcome = await counter.RunAsync(CounterOperations.Restore, Row(40, 7));

        Assert.Equal(OperationStatus.Applied, outcome!.Status);
        Assert.Equal((40L, 7L), (counter.Current!.Value, counter.Current.Version));
        Assert.Empty(counter.Current.RecentOperationIds);
    }

    [Theory]
    [InlineData(2)] // equal
    [InlineData(1)] // older row
    public async Task Restore_EqualOrNewerState_ChangesNothing(long rowVersion)
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("app-1", 1));
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("app-2", 1));
        var before = counter.State.Json;

        var outcome = await counter.RunAsync(CounterOperations.Restore, Row(999, rowVersion));

        Assert.Equal(OperationStatus.Duplicate, outcome!.Status);
        Assert.Equal((2L, 2L), (outcome.Value, outcome.Version));
        Assert.Equal(before, counter.State.Json);
    }

    [Fact]
    public async Task Restore_Twice_SecondChangesNothing()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Restore, Row(5, 3, "a\tadd:5"));
        var first = counter.State.Json;

        var again = await counter.RunAsync(CounterOperations.Restore, Row(5, 3, "a\tadd:5"));

        Assert.Equal(OperationStatus.Duplicate, again!.Status);
        Assert.Equal(first, counter.State.Json);
    }

    [Fact]
    public async Task Restore_OlderTombstone_CounterExistsAgainWithTheRowsState()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Add, new CounterCommand("app-1", 1));
        await counter.RunAsync(CounterOperations.Delete, new CounterCommand("app-2"));

        var outcome = await counter.RunAsync(CounterOperations.Restore, Row(12, 3));

        Assert.Equal(OperationStatus.Applied, outcome!.Status);
        Assert.Equal((12L, 3L, true), (counter.Current!.Value, counter.Current.Version, counter.Current.Exists));
    }

    [Fact]
    public async Task Restore_NewerTombstone_StaysDeleted()
    {
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Restore, Row(12, 3));
        await counter.RunAsync(CounterOperations.Delete, new CounterCommand("after-move"));

        var outcome = await counter.RunAsync(CounterOperations.Restore, Row(12, 3));

        Assert.Equal(OperationStatus.Duplicate, outcome!.Status);
        Assert.Equal((false, 4L), (counter.Current!.Exists, counter.Current.Version));
        var get = await counter.RunAsync(CounterOperations.Get);
        Assert.Equal(OperationStatus.NotFound, get!.Status);
    }

    [Fact]
    public async Task Restore_ThenRetriedIdempotencyKey_IsAReplayAndAnotherRequestUnderItIsRefused()
    {
        // The local host applied "client-7" as add 5 before the move; its row carries the window entry.
        var counter = new CounterHarness();
        await counter.RunAsync(CounterOperations.Restore, Row(105, 9, "client-7\tadd:5"));

        var retry = await counter.RunAsync(CounterOperations.Add, new CounterCommand("client-7", 5));
        var reused = await counter.RunAsync(CounterOperations.Add, new CounterCommand("client-7", 6));

        Assert.Equal(OperationStatus.Duplicate, retry!.Status);
        Assert.Equal(OperationStatus.Mismatch, reused!.Status);
        Assert.Equal((105L, 9L), (counter.Current!.Value, counter.Current.Version));
    }

    [Fact]
    public async Task Restore_KeepsFoldSourcesSoAFoldIsStillCountedOnce()
    {
        var counter = new CounterHarness();
        var source = SourceSequences.NewSourceId(counter.Time.Now);
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(source, 1, [4]));

        await counter.RunAsync(CounterOperations.Restore, Row(100, 50));
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(source, 1, [4]));
        await counter.RunAsync(CounterOperations.Fold, new FoldCommand(source, 2, [1]));

        Assert.Equal((101L, 51L), (counter.Current!.Value, counter.Current.Version));
    }

    [Fact]
    public async Task Restore_WithoutAVersion_Throws()
    {
        var counter = new CounterHarness();

        await Assert.ThrowsAsync<ArgumentException>(() => counter.RunAsync(CounterOperations.Restore, Row(1, 0)));
    }
}
