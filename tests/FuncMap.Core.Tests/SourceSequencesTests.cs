using System.Text.Json;
using FuncMap.Counters;

namespace FuncMap.Core.Tests;

public sealed class SourceSequencesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private readonly CounterState _counter = new();
    private readonly Dictionary<string, SourceProgress> _sources = [];
    private readonly string _source = SourceSequences.NewSourceId(Now);

    private SequenceReceipt Receive(long sequence, long delta, string? source = null) =>
        SourceSequences.Receive(_counter, _sources, source ?? _source, sequence, delta, Now);

    [Fact]
    public void Receive_InOrder_AppliesEachOnceWithVersionPerAdd()
    {
        Assert.Equal(SequenceVerdict.Applied, Receive(1, 5).Verdict);
        Assert.Equal(SequenceVerdict.Applied, Receive(2, -2).Verdict);

        Assert.Equal((3L, 2L, true), (_counter.Value, _counter.Version, _counter.Exists));
        Assert.Equal(2, _sources[_source].Last);
    }

    [Fact]
    public void Receive_SameSequenceAgain_DuplicateAndNothingChanges()
    {
        Receive(1, 5);
        Receive(2, 7);

        var again = Receive(1, 5);
        var latest = Receive(2, 7);

        Assert.Equal((SequenceVerdict.Duplicate, SequenceVerdict.Duplicate), (again.Verdict, latest.Verdict));
        Assert.Equal((12L, 2L), (_counter.Value, _counter.Version));
    }

    [Fact]
    public void Receive_DuplicateAfterManyMoreAdds_StillRecognised()
    {
        // The 64-entry OperationWindow would have forgotten seq 1 by now; the sequence does not.
        for (var seq = 1; seq <= 500; seq++)
        {
            Receive(seq, 1);
        }

        Assert.Equal(SequenceVerdict.Duplicate, Receive(1, 1).Verdict);
        Assert.Equal(500, _counter.Value);
    }

    [Fact]
    public void Receive_Reordered_ParksThenAppliesInOrderWhenGapFilled()
    {
        Assert.Equal(SequenceVerdict.Parked, Receive(3, 100).Verdict);
        Assert.Equal(SequenceVerdict.Parked, Receive(2, 10).Verdict);
        Assert.Equal(0, _counter.Version);

        var filled = Receive(1, 1);

        Assert.Equal((SequenceVerdict.Applied, 3), (filled.Verdict, filled.Applied));
        Assert.Equal((111L, 3L), (_counter.Value, _counter.Version));
        Assert.Equal(3, _sources[_source].Last);
        Assert.Null(_sources[_source].Parked);
    }

    [Fact]
    public void Receive_ParkedSequenceDeliveredTwice_DuplicateAndCountedOnce()
    {
        Receive(2, 10);

        Assert.Equal(SequenceVerdict.Duplicate, Receive(2, 10).Verdict);
        Receive(1, 1);
        Assert.Equal(11, _counter.Value);
    }

    [Fact]
    public void Receive_GapFilledOnlyPartly_KeepsTheRestParked()
    {
        Receive(4, 1000);
        Receive(2, 10);

        Receive(1, 1);

        Assert.Equal((11L, 2L), (_counter.Value, _sources[_source].Last));
        Assert.Equal(new Dictionary<long, long> { [4] = 1000 }, _sources[_source].Parked);
        Receive(3, 100);
        Assert.Equal((1111L, 4L), (_counter.Value, _sources[_source].Last));
    }

    [Fact]
    public void Receive_SourcesAreIndependent()
    {
        var other = SourceSequences.NewSourceId(Now.AddSeconds(1));

        Receive(1, 1);
        Receive(1, 2, other);
        Receive(2, 4, other);

        Assert.Equal((7L, 3L), (_counter.Value, _counter.Version));
        Assert.Equal((1L, 2L), (_sources[_source].Last, _sources[other].Last));
    }

    [Fact]
    public void Receive_Overflow_RefusedButConsumedSoLaterAddsStillApply()
    {
        Receive(1, long.MaxValue);

        var refused = Receive(2, 1);
        var after = Receive(3, -5);

        Assert.Equal((SequenceVerdict.Applied, 0), (refused.Verdict, refused.Applied));
        Assert.Equal([1L], refused.Overflowed);
        Assert.Equal(1, after.Applied);
        Assert.Equal((long.MaxValue - 5, 2L, 3L), (_counter.Value, _counter.Version, _sources[_source].Last));
    }

    [Fact]
    public void Receive_OverflowAmongParked_ReportsItAndAppliesTheRest()
    {
        Receive(1, long.MaxValue - 1);
        Receive(3, 5);
        Receive(4, -10);

        var filled = Receive(2, 1);

        Assert.Equal(2, filled.Applied);
        Assert.Equal([5L], filled.Overflowed);
        Assert.Equal((long.MaxValue - 10, 3L), (_counter.Value, _counter.Version));
    }

    [Fact]
    public void Receive_DeletedCounter_AddRecreatesIt()
    {
        Receive(1, 5);
        _counter.Apply(CounterOperation.Delete(), Now);

        Receive(2, 3);

        Assert.Equal((3L, 3L, true), (_counter.Value, _counter.Version, _counter.Exists));
    }

    [Fact]
    public void Receive_StateRoundTripsThroughJson_StaysExact()
    {
        Receive(1, 1);
        Receive(3, 3);
        var restored = JsonSerializer.Deserialize<Dictionary<string, SourceProgress>>(JsonSerializer.Serialize(_sources))!;

        Assert.Equal(SequenceVerdict.Duplicate, SourceSequences.Receive(_counter, restored, _source, 3, 3, Now).Verdict);
        Assert.Equal(2, SourceSequences.Receive(_counter, restored, _source, 2, 2, Now).Applied);
        Assert.Equal(6, _counter.Value);
    }

    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(1);

    private SequenceReceipt ReceiveAt(DateTimeOffset at, long sequence, long delta) =>
        SourceSequences.Receive(_counter, _sources, _source, sequence, delta, at);

    [Fact]
    public void ReleaseGaps_GapOlderThanTheBound_ReleasedAsLostAndTheParkedAddsApplied()
    {
        ReceiveAt(Now, 3, 100);
        ReceiveAt(Now.AddSeconds(20), 4, 10);

        Assert.Empty(SourceSequences.ReleaseGaps(_counter, _sources, Now.AddSeconds(59), Bound));
        var gap = Assert.Single(SourceSequences.ReleaseGaps(_counter, _sources, Now.Add(Bound), Bound));

        Assert.Equal((_source, 1L, 2L, 2L, 2, Bound), (gap.Source, gap.First, gap.Last, gap.Count, gap.Applied, gap.Waited));
        Assert.Equal((110L, 2L), (_counter.Value, _counter.Version));
        Assert.Equal(SequenceVerdict.Applied, ReceiveAt(Now.Add(Bound), 5, 1).Verdict);
        Assert.Equal(111, _counter.Value);
        Assert.Null(SourceSequences.OldestParked(_sources.Values));
    }

    [Fact]
    public void Receive_ReleasedNumberArrivesAfterAll_AppliedOnceAsLate()
    {
        ReceiveAt(Now, 4, 100);
        SourceSequences.ReleaseGaps(_counter, _sources, Now.Add(Bound), Bound);

        var late = Receive(2, 7);
        var again = Receive(2, 7);
        var applied = Receive(4, 100);

        Assert.Equal((SequenceVerdict.Late, SequenceVerdict.Duplicate, SequenceVerdict.Duplicate), (late.Verdict, again.Verdict, applied.Verdict));
        Assert.Equal(107, _counter.Value);
        Assert.Equal(new Dictionary<long, long> { [1] = 1, [3] = 3 }, _sources[_source].Released);
        Assert.Equal(SequenceVerdict.Late, Receive(1, 1).Verdict);
        Assert.Equal(SequenceVerdict.Late, Receive(3, 1).Verdict);
        Assert.Equal(109, _counter.Value);
        Assert.Null(_sources[_source].Released);
    }

    [Fact]
    public void ReleaseGaps_TwoGaps_TheSecondWaitsTheBoundFromTheFirstRelease()
    {
        ReceiveAt(Now, 3, 1);
        ReceiveAt(Now, 6, 1);

        Assert.Equal(1L, Assert.Single(SourceSequences.ReleaseGaps(_counter, _sources, Now.Add(Bound), Bound)).First);
        Assert.Equal(Now.Add(Bound), SourceSequences.OldestParked(_sources.Values));
        Assert.Empty(SourceSequences.ReleaseGaps(_counter, _sources, Now.Add(Bound).AddSeconds(30), Bound));
        var second = Assert.Single(SourceSequences.ReleaseGaps(_counter, _sources, Now.Add(2 * Bound), Bound));

        Assert.Equal((4L, 5L), (second.First, second.Last));
        Assert.Equal((2L, 6L), (_counter.Value, _sources[_source].Last));
    }

    [Fact]
    public void ReleaseGaps_StateRoundTripsThroughJson_KeepsTheWaitAndTheReleasedRanges()
    {
        ReceiveAt(Now, 3, 1);
        ReceiveAt(Now, 9, 1);
        SourceSequences.ReleaseGaps(_counter, _sources, Now.Add(Bound), Bound);

        var copy = JsonSerializer.Deserialize<Dictionary<string, SourceProgress>>(JsonSerializer.Serialize(_sources))!;

        Assert.Equal(Now.Add(Bound), copy[_source].ParkedSince);
        Assert.Equal(new Dictionary<long, long> { [1] = 2 }, copy[_source].Released);
    }

    [Fact]
    public void Prune_SourcesOlderThanRetention_ForgottenUnlessSomethingIsParked()
    {
        var old = SourceSequences.NewSourceId(Now.AddDays(-8));
        var oldParked = SourceSequences.NewSourceId(Now.AddDays(-9));
        var recent = SourceSequences.NewSourceId(Now.AddDays(-6));
        SourceSequences.Receive(_counter, _sources, old, 1, 1, Now);
        SourceSequences.Receive(_counter, _sources, oldParked, 2, 1, Now);
        SourceSequences.Receive(_counter, _sources, recent, 1, 1, Now);
        _sources["not-a-source-id"] = new SourceProgress { Last = 3 };

        var pruned = SourceSequences.Prune(_sources, Now, TimeSpan.FromDays(7));

        Assert.Equal(2, pruned);
        Assert.Equal([oldParked, recent], _sources.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void NewSourceId_CarriesItsCreationTimeAndSortsByIt()
    {
        var first = SourceSequences.NewSourceId(Now);
        var second = SourceSequences.NewSourceId(Now.AddTicks(1));

        Assert.True(SourceSequences.TryGetCreated(first, out var created));
        Assert.Equal(Now, created);
        Assert.True(string.CompareOrdinal(first, second) < 0);
        Assert.False(SourceSequences.TryGetCreated("zz", out _));
    }
}
