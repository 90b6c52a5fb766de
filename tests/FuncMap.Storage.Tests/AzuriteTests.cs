using FuncMap.Testing;

namespace FuncMap.Storage.Tests;

/// <summary>One Azurite for every storage test in this assembly.</summary>
[CollectionDefinition(Name)]
public sealed class AzuriteTests : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
