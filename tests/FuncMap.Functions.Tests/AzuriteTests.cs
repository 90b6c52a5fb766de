using FuncMap.Testing;

namespace FuncMap.Functions.Tests;

/// <summary>One real Azurite for the tests of the app's storage paths (snapshot and queue trigger).</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteTests : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
