using FuncMap.Testing;

namespace FuncMap.Local.Storage.Tests;

/// <summary>One Azurite for every storage test; they run one after another (one of them stops Azurite for a while).</summary>
[CollectionDefinition(Name)]
public sealed class StorageTestGroup : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Local storage on Azurite";
}
