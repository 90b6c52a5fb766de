using FuncMap.Testing;

namespace FuncMap.Local.Storage.Tests;

public sealed class LogEventIdTests
{
    [Fact]
    public void EveryLogMessageTheLocalHostCanWrite_HasItsOwnEventId()
    {
        Assert.Empty(LogEventIds.Duplicates("FuncMap.Core", "FuncMap.Http", "FuncMap.Storage", "FuncMap.Journal", "FuncMap.Local.Storage", "FuncMap.Local"));
    }
}
