using Azure.Data.Tables;
using FuncMap.Counters;
using FuncMap.Testing;

namespace FuncMap.Storage.Tests;

/// <summary>The Counters row schema, written and read back through a real Azurite.</summary>
[Collection(AzuriteTests.Name)]
public sealed class CounterRowsTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset At = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task WriteThenRead_Int64AtBothExtremesAnd90CharacterKeys_RoundTripsExactly()
    {
        var table = await azurite.NewTableAsync("rows");
        var longKey = new string('k', 80) + ":abcdefghi";
        Assert.Equal(90, longKey.Length);
        CounterRow[] rows =
        [
            new("max", long.MaxValue, long.MaxValue, At, ["op-1", "op-2"]),
            new("min", -long.MaxValue, 1, At.AddTicks(1), null),
            new("floor", long.MinValue, 2, At, []),
            new(longKey, 42, 7, At, ["x:" + new string('y', 88)]),
        ];

        await new CounterSnapshotWriter(table, 4).WriteAsync(rows, CancellationToken.None);

        var read = new Dictionary<string, CounterRow>(StringComparer.Ordinal);
        await foreach (var entity in table.QueryAsync<TableEntity>())
        {
            Assert.Null(CounterRows.CheckServable(entity));
            read[entity.RowKey] = CounterRows.FromEntity(entity);
        }

        Assert.Equal(rows.Length, read.Count);
        foreach (var row in rows)
        {
            var back = read[row.Key];
            Assert.Equal((row.Value, row.Version, row.UpdatedAt), (back.Value, back.Version, back.UpdatedAt));
            Assert.Equal(row.OperationIds is { Count: > 0 } ids ? ids : null, back.OperationIds);
        }
    }

    [Fact]
    public async Task FromEntity_RowsOtherToolsWrote_RefusesMalformedNamingRowAndColumn_WidensInt32()
    {
        var table = await azurite.NewTableAsync("rows");
        var partition = CounterPartition.KeyOf("a");
        await table.AddEntityAsync(new TableEntity(partition, "int32") { ["Value"] = 5, ["Version"] = 1, ["UpdatedAt"] = At });
        await table.AddEntityAsync(new TableEntity(partition, "text") { ["Value"] = "5", ["Version"] = 1L, ["UpdatedAt"] = At });
        await table.AddEntityAsync(new TableEntity(partition, "noversion") { ["Value"] = 5L, ["UpdatedAt"] = At });
        await table.AddEntityAsync(new TableEntity(partition, "nodate") { ["Value"] = 5L, ["Version"] = 1L });
        await table.AddEntityAsync(new TableEntity(partition, "ids") { ["Value"] = 5L, ["Version"] = 1L, ["UpdatedAt"] = At, ["OperationIds"] = 3L });
        await table.AddEntityAsync(new TableEntity(partition, "double") { ["Value"] = 5.0, ["Version"] = 1L, ["UpdatedAt"] = At });

        TableEntity Read(string key) => table.GetEntity<TableEntity>(partition, key).Value;

        Assert.Equal(5L, CounterRows.FromEntity(Read("int32")).Value);
        Assert.Contains($"({partition}, text): column Value is String (Edm.String), not Int64", Assert.Throws<InvalidDataException>(() => CounterRows.FromEntity(Read("text"))).Message, StringComparison.Ordinal);
        Assert.Contains($"({partition}, double): column Value is Double (Edm.Double), not Int64 (Edm.Int64), so it cannot be read exactly", Assert.Throws<InvalidDataException>(() => CounterRows.FromEntity(Read("double"))).Message, StringComparison.Ordinal);
        Assert.Contains("column Version is missing", Assert.Throws<InvalidDataException>(() => CounterRows.FromEntity(Read("noversion"))).Message, StringComparison.Ordinal);
        Assert.Contains("column UpdatedAt is missing", Assert.Throws<InvalidDataException>(() => CounterRows.FromEntity(Read("nodate"))).Message, StringComparison.Ordinal);
        Assert.Contains("column OperationIds is not a string", Assert.Throws<InvalidDataException>(() => CounterRows.FromEntity(Read("ids"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QueryAsPages_MoreRowsThanAPage_FollowsContinuationReadingEachRowOnce()
    {
        var table = await azurite.NewTableAsync("rows");
        var keys = Enumerable.Range(0, 2500).Select(static i => "c:" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        await new CounterSnapshotWriter(table, 8).WriteAsync(keys.Select(static k => new CounterRow(k, k.Length, 1, At, null)), CancellationToken.None);

        var pages = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var page in table.QueryAsync<TableEntity>(maxPerPage: 1000).AsPages())
        {
            pages++;
            Assert.True(page.Values.Count <= 1000);
            foreach (var entity in page.Values)
            {
                Assert.True(seen.Add(CounterRows.FromEntity(entity).Key));
            }
        }

        Assert.Equal(keys.Count, seen.Count);
        Assert.True(pages >= 3, $"{pages} pages");
    }

    [Theory]
    [InlineData("x", "k", "row.partition")]
    [InlineData(null, "ext bad", "key.charset")]
    [InlineData(null, ".", "key.dotSegment")]
    [InlineData(null, "..", "key.dotSegment")]
    [InlineData(null, "", "key.required")]
    public void CheckServable_RowTheServiceCannotServe_NamesTheRule(string? partitionKey, string rowKey, string rule)
    {
        var entity = new TableEntity(partitionKey ?? CounterPartition.KeyOf(rowKey), rowKey);

        Assert.Equal(rule, CounterRows.CheckServable(entity)?.Rule);
    }

    [Fact]
    public void CheckServable_ValidKeyInItsPartition_Null() =>
        Assert.Null(CounterRows.CheckServable(new TableEntity(CounterPartition.KeyOf("page:home"), "page:home")));
}
