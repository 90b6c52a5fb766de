using FuncMap.Testing;

namespace FuncMap.Client.Tests;

public sealed class LogEventIdTests
{
    [Fact]
    public void EveryLogMessageTheClientCanWrite_HasItsOwnEventId()
    {
        Assert.Empty(LogEventIds.Duplicates("FuncMap.Core", "FuncMap.Client"));
    }
}
