namespace FuncMap.Local.Tests;

public class RemoteHostTargetTests
{
    [Theory]
    [InlineData("http://localhost:7071/api", "http://localhost:7071/")]
    [InlineData("http://localhost:7071/api/", "http://localhost:7071/")]
    [InlineData("https://funcmap-x.azurewebsites.net/api", "https://funcmap-x.azurewebsites.net/")]
    [InlineData("http://localhost:7071", "http://localhost:7071/")]
    [InlineData("http://127.0.0.1:5080/", "http://127.0.0.1:5080/")]
    [InlineData("http://gateway.example/funcmap/api", "http://gateway.example/funcmap/")]
    public void BaseAddressOf_DocumentedApiUrlOrRoot_TestPathsReachTheApi(string url, string root)
    {
        var target = RemoteHostTarget.BaseAddressOf(url);

        Assert.Equal(root, target.ToString());
        Assert.Equal(root + "api/counters/k", new Uri(target, "api/counters/k").ToString());
    }

    [Fact]
    public void RemoteHostTarget_AsClassFixture_HasExactlyOnePublicConstructor()
    {
        // xunit cannot build a class fixture with two; CI skips the remote class, so only this test sees it.
        Assert.Single(typeof(RemoteHostTarget).GetConstructors());
    }
}
