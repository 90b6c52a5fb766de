using FuncMap.Testing;

namespace FuncMap.Functions.Tests;

public sealed class LogEventIdTests
{
    [Fact]
    public void EveryLogMessageTheFunctionsAppCanWrite_HasItsOwnEventId()
    {
        Assert.Empty(LogEventIds.Duplicates("FuncMap.Core", "FuncMap.Http", "FuncMap.Storage", "FuncMap.Functions"));
    }
}
