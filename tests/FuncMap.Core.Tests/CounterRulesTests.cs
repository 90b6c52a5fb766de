using System.Text.Json;
using FuncMap.Counters;

namespace FuncMap.Core.Tests;

public sealed class CounterRulesTests
{
    private const long T1 = 638_000_000_000_000_000;
    private const long T2 = T1 + 10_000_000;

    private static CounterData Existing(long value, long version) =>
        new() { Value = value, Version = version, UpdatedAtTicks = T1, Exists = true };

    [Fact]
    public void Apply_AddToMissing_CreatesWithDeltaAndVersionOne()
    {
        var data = default(CounterData);

        var status = CounterRules.Apply(ref data, null, CounterOperation.Add(5), T1);

        Assert.Equal(OperationStatus.Applied, status);
        Assert.Equal((5L, 1L, T1, true), (data.Value, data.Version, data.UpdatedAtTicks, data.Exists));
    }

    [Fact]
    public void Apply_ClockSteppedBackAnHour_UpdatedAtKeepsThePreviousTime_VersionStillGrows()
    {
        var data = Existing(3, 7);
        var anHourEarlier = T1 - TimeSpan.FromHours(1).Ticks;

        Assert.Equal(OperationStatus.Applied, CounterRules.Apply(ref data, null, CounterOperation.Add(1), anHourEarlier));
        Assert.Equal((4L, 8L, T1), (data.Value, data.Version, data.UpdatedAtTicks));
        Assert.Equal(OperationStatus.Applied, CounterRules.Apply(ref data, null, CounterOperation.Reset(), T2));
        Assert.Equal((0L, 9L, T2), (data.Value, data.Version, data.UpdatedAtTicks));
    }

    [Fact]
    public void Apply_AddNegative_Subtracts()
    {
        var data = Existing(3, 7);

        Assert.Equal(OperationStatus.Applied, CounterRules.Apply(ref data, null, CounterOperation.Add(-10), T2));
        Assert.Equal((-7L, 8L, T2), (data.Value, data.Version, data.UpdatedAtTicks));
    }

    [Fact]
    public void Apply_Reset_SetsZeroAndKeepsCountingVersion()
    {
        var data = Existing(42, 9);

        Assert.Equal(OperationStatus.Applied, CounterRules.Apply(ref data, null, CounterOperation.Reset(), T2));
        Assert.Equal((0L, 10L, true, T2), (data.Value, data.Version, data.Exists, data.UpdatedAtTicks));
    }

    [Fact]
    public void Apply_Delete_RemovesButKeepsVersion()
    {
        var data = Existing(42, 9);

        Assert.Equal(OperationStatus.Applied, CounterRules.Apply(ref data, null, CounterOperation.Delete(), T2));
        Assert.Equal((0L, 10L, false), (data.Value, data.Version, data.Exists));
    }

    [Fact]
    public void Apply_AddAfterDelete_StartsFromZeroWithVersionStillGrowing()
    {
        var data = Existing(42, 9);
        CounterRules.Apply(ref data, null, CounterOperation.Delete(), T2);

        Assert.Equal(OperationStatus.Applied, CounterRules.Apply(ref data, null, CounterOperation.Add(3), T2));
        Assert.Equal((3L, 11L, true), (data.Value, data.Version, data.Exists));
    }

    [Fact]
    public void Apply_EachAppliedOperation_IncrementsVersionByOne()
    {
        var data = default(CounterData);
        CounterOperation[] operations = [CounterOperation.Add(1), CounterOperation.Add(2), CounterOperation.Reset(), CounterOperation.Add(-4), CounterOperation.Delete(), CounterOperation.Add(9)];

        for (var i = 0; i < operations.Length; i++)
        {
            Assert.Equal(OperationStatus.Applied, CounterRules.Apply(ref data, null, operations[i], T1 + i));
            Assert.Equal(i + 1, data.Version);
        }

        Assert.Equal(9, data.Value);
    }

    [Theory]
    [InlineData(CounterOperationKind.Reset)]
    [InlineData(CounterOperationKind.Delete)]
    public void Apply_ResetOrDeleteOfMissing_NotFoundAndUnchanged(CounterOperationKind kind)
    {
        var never = default(CounterData);
        var deleted = new CounterData { Version = 4, UpdatedAtTicks = T1, Exists = false };
        var window = new OperationWindow();
        var operation = new CounterOperation(kind, 0, "op-1");

        Assert.Equal(OperationStatus.NotFound, CounterRules.Apply(ref never, window, operation, T2));
        Assert.Equal(OperationStatus.NotFound, CounterRules.Apply(ref deleted, window, operation, T2));

        Assert.Equal(default, never);
        Assert.Equal(new CounterData { Version = 4, UpdatedAtTicks = T1, Exists = false }, deleted);
        Assert.Equal(0, window.Count); // a rejected operation does not take up the id
    }

    [Theory]
    [InlineData(long.MaxValue, 1)]
    [InlineData(long.MaxValue - 5, 6)]
    [InlineData(long.MinValue, -1)]
    [InlineData(long.MinValue + 5, -6)]
    [InlineData(-1, long.MinValue)]
    public void Apply_AddBeyondInt64_OverflowAndUnchanged(long start, long delta)
    {
        var data = Existing(start, 3);
        var window = new OperationWindow();

        var status = CounterRules.Apply(ref data, window, CounterOperation.Add(delta, "op-1"), T2);

        Assert.Equal(OperationStatus.Overflow, status);
        Assert.Equal(Existing(start, 3), data);
        Assert.False(window.Contains("op-1"));
    }

    [Fact]
    public void Apply_AddReachingExactlyMaxValue_Applied()
    {
        var data = Existing(long.MaxValue - 1, 1);

        Assert.Equal(OperationStatus.Applied, CounterRules.Apply(ref data, null, CounterOperation.Add(1), T2));
        Assert.Equal(long.MaxValue, data.Value);
    }

    [Fact]
    public void Apply_SameOperationIdTwice_AppliedOnce()
    {
        var data = default(CounterData);
        var window = new OperationWindow();

        var first = CounterRules.Apply(ref data, window, CounterOperation.Add(5, "retry-me"), T1);
        var second = CounterRules.Apply(ref data, window, CounterOperation.Add(5, "retry-me"), T2);

        Assert.Equal((OperationStatus.Applied, OperationStatus.Duplicate), (first, second));
        Assert.Equal((5L, 1L, T1), (data.Value, data.Version, data.UpdatedAtTicks));
    }

    [Theory]
    [InlineData(100L, "add")]
    [InlineData(0L, "reset")]
    [InlineData(0L, "delete")]
    public void Apply_SameIdForDifferentRequest_MismatchAndNothingChanges(long delta, string kind)
    {
        var data = default(CounterData);
        var window = new OperationWindow();
        CounterRules.Apply(ref data, window, CounterOperation.Add(5, "op-A"), T1);
        var other = kind switch
        {
            "add" => CounterOperation.Add(delta, "op-A"),
            "reset" => CounterOperation.Reset("op-A"),
            _ => CounterOperation.Delete("op-A"),
        };

        var status = CounterRules.Apply(ref data, window, other, T2);

        Assert.Equal(OperationStatus.Mismatch, status);
        Assert.Equal((5L, 1L, T1, true), (data.Value, data.Version, data.UpdatedAtTicks, data.Exists));
        Assert.Equal(OperationStatus.Duplicate, CounterRules.Apply(ref data, window, CounterOperation.Add(5, "op-A"), T2));
    }

    [Fact]
    public void OperationWindow_Entry_IsIdTabFingerprint()
    {
        Assert.Equal("op-A\tadd:-7", OperationWindow.Entry(CounterOperation.Add(-7, "op-A")));
        Assert.Equal("b 1\treset", OperationWindow.Entry(CounterOperation.Reset("b 1")));
        Assert.Equal("x\tdelete", OperationWindow.Entry(CounterOperation.Delete("x")));
        Assert.Equal("op-A", OperationWindow.IdOf("op-A\tadd:-7").ToString());
        Assert.Equal("op-A", OperationWindow.IdOf("op-A").ToString());
    }

    [Theory]
    [InlineData("op", "op\tadd:1", WindowMatch.Same)]
    [InlineData("op", "op", WindowMatch.Same)] // a bare id from before fingerprints
    [InlineData("op", "op-2\tadd:1", WindowMatch.None)] // the entry's id only starts with the id
    [InlineData("op-2", "op\tadd:1", WindowMatch.None)] // the id only starts with the entry's id
    [InlineData("op", "opx", WindowMatch.None)]
    [InlineData("op-1", "op-2\tadd:1", WindowMatch.None)] // the same but for the last character
    [InlineData("op", "op\tadd:2", WindowMatch.Different)]
    public void OperationWindow_Match_ComparesWholeIdsOnly(string id, string entry, WindowMatch expected)
    {
        var window = new OperationWindow([entry]);

        Assert.Equal(expected, window.Match(CounterOperation.Add(1, id)));
        Assert.Equal(expected != WindowMatch.None, window.Contains(id));
    }

    [Fact]
    public void Apply_OperationIdsAreCaseSensitive_BothApplied()
    {
        var data = default(CounterData);
        var window = new OperationWindow();

        CounterRules.Apply(ref data, window, CounterOperation.Add(1, "id"), T1);

        Assert.Equal(OperationStatus.Applied, CounterRules.Apply(ref data, window, CounterOperation.Add(1, "ID"), T1));
    }

    [Fact]
    public void Apply_IdOlderThan64NewerIds_IsAppliedAgain()
    {
        // Documents the bound: the window remembers the last 64 ids; the 65th-oldest is forgotten.
        var data = default(CounterData);
        var window = new OperationWindow();
        CounterRules.Apply(ref data, window, CounterOperation.Add(1, "old"), T1);
        for (var i = 0; i < OperationWindow.Capacity - 1; i++)
        {
            CounterRules.Apply(ref data, window, CounterOperation.Add(1, $"n{i}"), T1);
        }

        Assert.Equal(OperationStatus.Duplicate, CounterRules.Apply(ref data, window, CounterOperation.Add(1, "old"), T1)); // 63 newer: still known

        CounterRules.Apply(ref data, window, CounterOperation.Add(1, "n63"), T1); // 64 newer: "old" falls out

        Assert.Equal(OperationWindow.Capacity, window.Count);
        Assert.Equal(OperationStatus.Applied, CounterRules.Apply(ref data, window, CounterOperation.Add(1, "old"), T1));
        Assert.Equal(66, data.Value);
    }

    [Fact]
    public void Apply_WithIdButNoWindow_Throws()
    {
        var data = default(CounterData);

        Assert.Throws<ArgumentNullException>(() => CounterRules.Apply(ref data, null, CounterOperation.Add(1, "id"), T1));
    }

    [Fact]
    public void OperationWindow_Restored_KeepsNewest64OldestFirst()
    {
        var ids = Enumerable.Range(0, 100).Select(i => $"id{i}").ToArray();

        var window = new OperationWindow(ids);

        Assert.Equal(ids[36..], window.ToArray());
        Assert.False(window.Contains("id35"));
        Assert.True(window.Contains("id36"));
    }
}

public sealed class CounterStateTests
{
    private static readonly DateTimeOffset T1 = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Apply_Operations_FollowTheSharedRules()
    {
        var state = new CounterState();

        Assert.Equal(OperationStatus.NotFound, state.Apply(CounterOperation.Reset("r0"), T1));
        Assert.Equal(OperationStatus.Applied, state.Apply(CounterOperation.Add(5, "a1"), T1));
        Assert.Equal(OperationStatus.Duplicate, state.Apply(CounterOperation.Add(5, "a1"), T1.AddSeconds(1)));
        Assert.Equal(OperationStatus.Overflow, state.Apply(CounterOperation.Add(long.MaxValue, "a2"), T1.AddSeconds(2)));
        Assert.Equal(OperationStatus.Applied, state.Apply(CounterOperation.Add(-2), T1.AddSeconds(3)));

        Assert.Equal((3L, 2L, true, T1.AddSeconds(3)), (state.Value, state.Version, state.Exists, state.UpdatedAt));
        Assert.Equal(["a1\tadd:5"], state.RecentOperationIds);
    }

    [Fact]
    public void Apply_AfterJsonRoundTrip_StillDeduplicates()
    {
        // The Durable entity stores its state as JSON between operations.
        var state = new CounterState();
        state.Apply(CounterOperation.Add(5, "a1"), T1);
        state.Apply(CounterOperation.Add(7, "a2"), T1.AddMinutes(1));

        var json = JsonSerializer.Serialize(state);
        var restored = JsonSerializer.Deserialize<CounterState>(json)!;

        Assert.Equal((12L, 2L, true, T1.AddMinutes(1)), (restored.Value, restored.Version, restored.Exists, restored.UpdatedAt));
        Assert.Equal(["a1\tadd:5", "a2\tadd:7"], restored.RecentOperationIds);
        Assert.Equal(OperationStatus.Duplicate, restored.Apply(CounterOperation.Add(5, "a1"), T1.AddMinutes(2)));
        Assert.Equal(OperationStatus.Applied, restored.Apply(CounterOperation.Add(1, "a3"), T1.AddMinutes(2)));
        Assert.Equal(13, restored.Value);

        var again = JsonSerializer.Deserialize<CounterState>(JsonSerializer.Serialize(restored))!;
        Assert.Equal(["a1\tadd:5", "a2\tadd:7", "a3\tadd:1"], again.RecentOperationIds);
        Assert.Equal((13L, 3L), (again.Value, again.Version));
    }

    [Fact]
    public void Apply_DeletedStateRoundTrip_KeepsTombstoneVersion()
    {
        var state = new CounterState();
        state.Apply(CounterOperation.Add(5, "a1"), T1);
        state.Apply(CounterOperation.Delete("d1"), T1);

        var restored = JsonSerializer.Deserialize<CounterState>(JsonSerializer.Serialize(state))!;

        Assert.False(restored.Exists);
        Assert.Equal(2, restored.Version);
        Assert.Equal(OperationStatus.NotFound, restored.Apply(CounterOperation.Reset("r1"), T1));
        Assert.Equal(OperationStatus.Applied, restored.Apply(CounterOperation.Add(1, "a2"), T1));
        Assert.Equal((1L, 3L), (restored.Value, restored.Version));
    }

    [Fact]
    public void Apply_StateWrittenBeforeFingerprints_LoadsAndTreatsBareIdAsSameRequest()
    {
        // Entity state and table rows written before fingerprints hold bare ids.
        var state = JsonSerializer.Deserialize<CounterState>("""{"Value":5,"Version":1,"UpdatedAt":"2026-11-22T10:00:00+00:00","Exists":true,"RecentOperationIds":["op-A"]}""")!;

        Assert.Equal(OperationStatus.Duplicate, state.Apply(CounterOperation.Add(5, "op-A"), T1));
        Assert.Equal(OperationStatus.Duplicate, state.Apply(CounterOperation.Reset("op-A"), T1));
        Assert.Equal(OperationStatus.Applied, state.Apply(CounterOperation.Add(1, "op-B"), T1));
        Assert.Equal(OperationStatus.Mismatch, state.Apply(CounterOperation.Add(2, "op-B"), T1));
        Assert.Equal(["op-A", "op-B\tadd:1"], state.RecentOperationIds);
        Assert.Equal((6L, 2L), (state.Value, state.Version));
    }

    [Fact]
    public void Apply_MoreThan64Ids_StateKeepsOnlyTheWindow()
    {
        var state = new CounterState();
        for (var i = 0; i < 70; i++)
        {
            state.Apply(CounterOperation.Add(1, $"id{i}"), T1);
        }

        Assert.Equal(OperationWindow.Capacity, state.RecentOperationIds.Length);
        Assert.Equal("id6\tadd:1", state.RecentOperationIds[0]);
        Assert.Equal(OperationStatus.Applied, state.Apply(CounterOperation.Add(1, "id0"), T1));
    }
}

public sealed class CounterPartitionTests
{
    // FNV-1a 32 by the spec: h = 2166136261; for each byte: h ^= byte; h *= 16777619 (mod 2^32).
    private static uint ReferenceFnv1a(byte[] bytes)
    {
        var h = 2166136261u;
        foreach (var b in bytes)
        {
            h ^= b;
            h = unchecked(h * 16777619u);
        }

        return h;
    }

    [Theory]
    [InlineData("", 0x811C9DC5u)]   // the offset basis
    [InlineData("a", 0xE40C292Cu)]  // published FNV-1a test vectors
    [InlineData("foobar", 0xBF9CF968u)]
    public void Hash_KnownVectors_Match(string key, uint expected) =>
        Assert.Equal(expected, CounterPartition.Hash(key));

    [Fact]
    public void Hash_SingleByte_ComputedByHandFromTheSpec()
    {
        // "a" = 0x61: (2166136261 ^ 0x61) * 16777619 mod 2^32.
        var expected = (uint)((2166136261u ^ 0x61u) * 16777619UL % 4294967296UL);

        Assert.Equal(expected, CounterPartition.Hash("a"));
        Assert.Equal(0xE40C292Cu, expected);
    }

    [Theory]
    [InlineData("page:home")]
    [InlineData("A-Z_a.z:0-9")]
    [InlineData("caf\u00E9")]           // not a valid key, but hashed by its UTF-8 bytes
    [InlineData("x\uD83D\uDE00y")]
    public void Hash_AnyText_IsFnv1aOfUtf8Bytes(string key) =>
        Assert.Equal(ReferenceFnv1a(System.Text.Encoding.UTF8.GetBytes(key)), CounterPartition.Hash(key));

    [Fact]
    public void Of_IsHashModulo64()
    {
        foreach (var key in new[] { "a", "foobar", "page:home", "page:cart", "k0", "k1" })
        {
            Assert.Equal((int)(ReferenceFnv1a(System.Text.Encoding.UTF8.GetBytes(key)) % 64), CounterPartition.Of(key));
        }

        Assert.Equal((int)(0xE40C292Cu % 64), CounterPartition.Of("a")); // 0x2C = 44
        Assert.Equal("44", CounterPartition.KeyOf("a"));
        Assert.Equal("40", CounterPartition.KeyOf("foobar")); // 0xBF9CF968 % 64 = 0x28
    }

    [Fact]
    public void Name_AllPartitions_AreTwoDigits00To63()
    {
        var names = Enumerable.Range(0, CounterPartition.Count).Select(CounterPartition.Name).ToArray();

        Assert.Equal(64, CounterPartition.Count);
        Assert.Equal("00", names[0]);
        Assert.Equal("07", names[7]);
        Assert.Equal("63", names[63]);
        Assert.All(names, n => Assert.Matches("^[0-6][0-9]$", n));
        Assert.Equal(64, names.Distinct().Count());
    }

    [Fact]
    public void KeyOf_ManyKeys_CoversEveryPartition()
    {
        var used = Enumerable.Range(0, 10_000).Select(i => CounterPartition.KeyOf($"key:{i}")).ToHashSet();

        Assert.Equal(64, used.Count);
    }
}
