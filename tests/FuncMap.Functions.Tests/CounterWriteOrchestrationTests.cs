using FuncMap.Functions.Counters;

namespace FuncMap.Functions.Tests;

public class CounterWriteOrchestrationTests
{
    [Fact]
    public void InstanceIdFor_SameWrite_SameId()
    {
        var first = CounterWriteOrchestration.InstanceIdFor(new CounterWriteRequest("k", CounterOperations.Add, "op/1?#", 5));
        var retry = CounterWriteOrchestration.InstanceIdFor(new CounterWriteRequest("k", CounterOperations.Add, "op/1?#", 5));

        Assert.Equal(first, retry);
    }

    [Theory]
    [InlineData("k2", CounterOperations.Add, "op")]
    [InlineData("k", CounterOperations.Reset, "op")]
    [InlineData("k", CounterOperations.Add, "op2")]
    public void InstanceIdFor_DifferentKeyOperationOrId_DifferentId(string key, string operation, string operationId)
    {
        var baseline = CounterWriteOrchestration.InstanceIdFor(new CounterWriteRequest("k", CounterOperations.Add, "op", 1));

        Assert.NotEqual(baseline, CounterWriteOrchestration.InstanceIdFor(new CounterWriteRequest(key, operation, operationId, 1)));
    }

    [Fact]
    public void InstanceIdFor_SameIdOtherDelta_DifferentId()
    {
        // A reused Idempotency-Key with another delta must reach the owner (422), not join the first request's answer.
        var first = CounterWriteOrchestration.InstanceIdFor(new CounterWriteRequest("k", CounterOperations.Add, "op-A", 5));

        Assert.NotEqual(first, CounterWriteOrchestration.InstanceIdFor(new CounterWriteRequest("k", CounterOperations.Add, "op-A", 100)));
    }

    [Fact]
    public void InstanceIdFor_AnyOperationId_SafeInstanceIdCharacters()
    {
        var id = CounterWriteOrchestration.InstanceIdFor(new CounterWriteRequest("k", CounterOperations.Delete, new string('~', 128), 0));

        Assert.DoesNotContain('@', id);
        Assert.Matches("^counter-write-[0-9a-f]{64}$", id);
    }
}
