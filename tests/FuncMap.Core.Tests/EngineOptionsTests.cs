using FuncMap.Engine;

namespace FuncMap.Core.Tests;

public sealed class EngineOptionsTests
{
    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(8, 8)]
    [InlineData(64, 64)]
    [InlineData(96, 64)]   // more processors than partitions: capped, not rejected
    [InlineData(256, 64)]
    public void ResolveShardCount_Default_IsProcessorsRoundedUpBetween2And64(int processors, int expected) =>
        Assert.Equal(expected, CounterEngineOptions.ResolveShardCount(0, processors));

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(64)]
    public void ResolveShardCount_ExplicitPowerOfTwo_IsKept(int shards) =>
        Assert.Equal(shards, CounterEngineOptions.ResolveShardCount(shards, 2));

    [Theory]
    [InlineData(-1)]
    [InlineData(3)]
    [InlineData(128)]
    public void ResolveShardCount_ExplicitOutOfRule_Throws(int shards) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => CounterEngineOptions.ResolveShardCount(shards, 2));
}
