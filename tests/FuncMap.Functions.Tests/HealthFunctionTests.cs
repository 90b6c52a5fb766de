using FuncMap.Counters;
using FuncMap.Functions.Counters;
using FuncMap.Functions.Http;
using Microsoft.AspNetCore.Http;

namespace FuncMap.Functions.Tests;

/// <summary><c>GET /api/health</c> shows the parked folded adds of the counters that ran here, and their age.</summary>
public sealed class HealthFunctionTests
{
    [Fact]
    public async Task Run_FoldParkedBehindAGap_ShowsItWithItsAgeUntilTheGapIsReleased()
    {
        var entities = new FakeEntityClient { RunCounters = true };
        var health = new HealthFunction(entities.CounterMetrics);
        var source = SourceSequences.NewSourceId(entities.Time.GetUtcNow());

        Assert.Equal(new ParkedReport(0, 0, 0, 60), health.Run(new DefaultHttpContext().Request).Value!.Parked);
        await entities.SignalEntityAsync(Counter.IdOf("h"), CounterOperations.Fold, new FoldCommand(source, 2, [5, 6]));
        entities.Time.Now += TimeSpan.FromSeconds(30);

        Assert.Equal(new ParkedReport(1, 2, 30, 60), health.Run(new DefaultHttpContext().Request).Value!.Parked);

        entities.Time.Now += TimeSpan.FromSeconds(30);
        await entities.DeliverDueRemindersAsync();

        Assert.Equal(new ParkedReport(0, 0, 0, 60), health.Run(new DefaultHttpContext().Request).Value!.Parked);
    }
}
