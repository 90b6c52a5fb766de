using Azure.Data.Tables;
using FuncMap.Testing;

namespace FuncMap.Storage.Tests;

/// <summary>The Accepted table's rows, written and read back through a real Azurite at the Table limits.</summary>
[Collection(AzuriteTests.Name)]
public sealed class AcceptedRowsTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task AcceptedRow_FullStringPropertyOfExtremeDeltas_RoundTripsExactly()
    {
        var table = await azurite.NewTableAsync("accepted");
        var key = new string('k', 89) + ":";
        var items = new List<AcceptedItem>();
        var chars = 0;
        for (var i = 0; ; i++)
        {
            var item = new AcceptedItem(i % 2 == 0 ? key : "a", i % 3 == 0 ? long.MinValue : long.MaxValue);
            if (chars + AcceptedRows.CharsOf(item) > AcceptedRows.MaxPropertyChars)
            {
                break;
            }

            chars += AcceptedRows.CharsOf(item);
            items.Add(item);
        }

        await table.AddEntityAsync(AcceptedRows.ToEntity("src", 7, items));

        var row = await table.GetEntityAsync<TableEntity>("src", AcceptedRows.RowKeyOf(7));
        Assert.Equal(items, AcceptedRows.ReadItems(row.Value));
        Assert.Equal(chars, row.Value.GetString(AcceptedRows.Items).Length);
        Assert.False(AcceptedRows.IsFoldRecord(row.Value.RowKey));
    }

    [Fact]
    public void ToEntity_ItemsBeyondOneStringProperty_Refused()
    {
        var items = Enumerable.Repeat(new AcceptedItem(new string('k', 90), long.MinValue), AcceptedRows.MaxPropertyChars / 100).ToList();

        Assert.Throws<ArgumentException>(() => AcceptedRows.ToEntity("src", 1, items));
    }

    [Fact]
    public async Task FoldRecord_LargestBoundOfEntries_FitsTheEntityLimitAndRoundTrips()
    {
        var table = await azurite.NewTableAsync("folds");
        var entries = new List<FoldEntry>();
        var chars = 0L;
        for (var i = 0; chars + 90 + AcceptedRows.FoldLineOverhead <= AcceptedRows.MaxFoldChars; i++)
        {
            entries.Add(new FoldEntry(i.ToString("D90", System.Globalization.CultureInfo.InvariantCulture), long.MaxValue - i, long.MinValue));
            chars += 90 + AcceptedRows.FoldLineOverhead;
        }

        var record = new FoldRecord("source-1", entries);
        var rowKey = AcceptedRows.FoldRowKeyOf("folder-1", 3);
        await table.AddEntityAsync(AcceptedRows.ToFoldEntity("src", rowKey, record));

        var row = await table.GetEntityAsync<TableEntity>("src", rowKey);
        var read = AcceptedRows.ReadFold(row.Value);
        Assert.True(AcceptedRows.IsFoldRecord(rowKey));
        Assert.Equal("source-1", read.Source);
        Assert.Equal(entries, read.Entries);
    }

    [Fact]
    public void FoldRecord_OneAcceptedRowOfShortestItems_FitsOneFoldRecord()
    {
        // The folder always takes at least one row: its fold record must fit whatever the row holds.
        var worstItemChars = AcceptedRows.CharsOf(new AcceptedItem("k", 0));
        var itemsPerRow = AcceptedRows.MaxPropertyChars / worstItemChars;

        Assert.True((long)itemsPerRow * (1 + AcceptedRows.FoldLineOverhead) <= AcceptedRows.MaxFoldChars);
    }

    [Theory]
    [InlineData("k\t1\nbroken\n")]
    [InlineData("k\tnot-a-number\n")]
    public void ReadItems_RowFuncMapDidNotWrite_InvalidDataNamingTheRow(string text)
    {
        var entity = new TableEntity("src", "0000000000000000001") { [AcceptedRows.Items] = text };

        var error = Assert.Throws<InvalidDataException>(() => AcceptedRows.ReadItems(entity));

        Assert.Contains("src/0000000000000000001", error.Message, StringComparison.Ordinal);
    }
}
