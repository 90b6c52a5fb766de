using FuncMap.Testing;

namespace FuncMap.Storage.Tests;

[Collection(AzuriteTests.Name)]
public sealed class TableClientTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset BaseTime = new(2026, 11, 22, 10, 0, 0, TimeSpan.Zero);

    private async Task<ITableClient> NewTableAsync()
    {
        var table = StorageConnection.FromConnectionString(azurite.ConnectionString).GetTableClient(AzuriteFixture.UniqueTableName());
        await table.CreateIfNotExistsAsync();
        return table;
    }

    private static async Task<List<TableEntity>> QueryAllAsync(ITableClient table, TableFilter? filter = null)
    {
        var all = new List<TableEntity>();
        await foreach (var page in table.QueryAsync(filter))
        {
            all.AddRange(page.Entities);
        }

        return all;
    }

    private static TableEntity Counter(string pk, int i)
    {
        var entity = new TableEntity(pk, "k" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture));
        entity["Value"] = i % 2 == 0 ? (1L << 53) + 1 + i : -(1L << 60) - i;
        entity["Version"] = (long)i;
        entity["UpdatedAt"] = BaseTime.AddTicks(1234567 + i);
        return entity;
    }

    [Fact]
    public async Task CreateIfNotExists_CalledTwice_SucceedsAndTableIsUsable()
    {
        var table = await NewTableAsync();
        await table.CreateIfNotExistsAsync();

        await table.AddEntityAsync(new TableEntity("a", "b"));
        Assert.NotNull(await table.GetEntityAsync("a", "b"));
    }

    [Fact]
    public async Task SubmitTransaction_100Upserts_QueryReturnsExactValuesAndTypes()
    {
        var table = await NewTableAsync();
        var entities = Enumerable.Range(0, 100).Select(i => Counter("07", i)).ToList();
        entities[0]["Name"] = "zero";
        entities[0]["Small"] = 42;
        entities[0]["Flag"] = true;
        entities[0]["Ratio"] = 2.0;
        entities[0]["Blob"] = new byte[] { 0, 1, 255 };
        entities[0]["Local"] = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(2));

        var result = await table.SubmitTransactionAsync(entities.Select(TableTransactionAction.Upsert).ToList());

        Assert.Equal(100, result.ETags.Count);
        Assert.All(result.ETags, e => Assert.NotEqual(default, e));
        var read = await QueryAllAsync(table, TableFilter.PartitionKey.Eq("07"));
        Assert.Equal(100, read.Count);
        foreach (var (expected, actual) in entities.OrderBy(e => e.RowKey, StringComparer.Ordinal).Zip(read))
        {
            Assert.Equal(expected.RowKey, actual.RowKey);
            Assert.IsType<long>(actual["Value"]);
            Assert.Equal(expected.GetInt64("Value"), actual.GetInt64("Value"));
            Assert.IsType<long>(actual["Version"]);
            Assert.Equal(expected.GetInt64("Version"), actual.GetInt64("Version"));
            Assert.Equal(expected.GetDateTimeOffset("UpdatedAt")!.Value.UtcTicks, actual.GetDateTimeOffset("UpdatedAt")!.Value.UtcTicks);
            Assert.NotEqual(default, actual.ETag);
            Assert.NotNull(actual.Timestamp);
        }

        var first = read[0];
        Assert.Equal((1L << 53) + 1, first.GetInt64("Value"));
        Assert.Equal("zero", first.GetString("Name"));
        Assert.Equal(42, first.GetInt32("Small"));
        Assert.True(first.GetBoolean("Flag"));
        Assert.Equal(2.0, first.GetDouble("Ratio"));
        Assert.Equal(new byte[] { 0, 1, 255 }, first.GetBinary("Blob"));
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 1, 4, 5, TimeSpan.Zero), first.GetDateTimeOffset("Local"));
        Assert.Equal(-(1L << 60) - 1, read[1].GetInt64("Value"));
    }

    [Fact]
    public async Task SubmitTransaction_101Actions_RejectedClientSide()
    {
        var table = await NewTableAsync();
        var actions = Enumerable.Range(0, 101).Select(i => TableTransactionAction.Upsert(Counter("07", i))).ToList();

        await Assert.ThrowsAsync<ArgumentException>(() => table.SubmitTransactionAsync(actions));

        Assert.Empty(await QueryAllAsync(table));
    }

    [Fact]
    public async Task SubmitTransaction_TwoPartitions_RejectedClientSide()
    {
        var table = await NewTableAsync();
        var actions = new[] { TableTransactionAction.Upsert(Counter("01", 1)), TableTransactionAction.Upsert(Counter("02", 2)) };

        await Assert.ThrowsAsync<ArgumentException>(() => table.SubmitTransactionAsync(actions));
    }

    [Fact]
    public async Task SubmitTransaction_FailingOperation_SurfacesIndexAndCodeAndAppliesNothing()
    {
        var table = await NewTableAsync();
        await table.AddEntityAsync(Counter("07", 5));
        var actions = Enumerable.Range(0, 10).Select(i => TableTransactionAction.Add(Counter("07", i))).ToList();

        var ex = await Assert.ThrowsAsync<StorageException>(() => table.SubmitTransactionAsync(actions));

        Assert.Equal(409, ex.Status);
        Assert.Equal("EntityAlreadyExists", ex.ErrorCode);
        Assert.Equal(5, ex.FailedOperationIndex);
        Assert.False(ex.IsTransient);
        var rows = await QueryAllAsync(table);
        Assert.Equal("k0005", Assert.Single(rows).RowKey);
    }

    [Fact]
    public async Task SubmitTransaction_Deletes_RemoveRowsAndToleratesMissingRows()
    {
        var table = await NewTableAsync();
        await table.SubmitTransactionAsync(Enumerable.Range(0, 4).Select(i => TableTransactionAction.Upsert(Counter("09", i))).ToList());

        var result = await table.SubmitTransactionAsync(
        [
            TableTransactionAction.Delete("09", "k0000"),
            TableTransactionAction.Delete("09", "missing-1"),
            TableTransactionAction.Upsert(Counter("09", 7)),
            TableTransactionAction.Delete("09", "k0002"),
            TableTransactionAction.Delete("09", "missing-2"),
        ]);

        Assert.Equal([1, 4], result.MissingDeletes);
        Assert.NotEqual(default, result.ETags[2]);
        var rows = (await QueryAllAsync(table)).Select(e => e.RowKey).ToList();
        Assert.Equal(["k0001", "k0003", "k0007"], rows);
    }

    [Fact]
    public async Task SubmitTransaction_DeleteWithStaleETag_FailsWithIndex()
    {
        var table = await NewTableAsync();
        var etag = await table.AddEntityAsync(Counter("09", 1));
        await table.UpsertEntityAsync(Counter("09", 1));

        var ex = await Assert.ThrowsAsync<StorageException>(() => table.SubmitTransactionAsync(
        [
            TableTransactionAction.Upsert(Counter("09", 2)),
            TableTransactionAction.Delete("09", "k0001", etag),
        ]));

        Assert.Equal(412, ex.Status);
        Assert.Equal(1, ex.FailedOperationIndex);
        Assert.Null(await table.GetEntityAsync("09", "k0002"));
    }

    [Fact]
    public async Task QueryAsync_MoreThan1000Rows_FollowsContinuationAndReturnsEachRowOnce()
    {
        var table = await NewTableAsync();
        const int Rows = 1234;
        for (var start = 0; start < Rows; start += 100)
        {
            var pk = start < 600 ? "10" : "11";
            var actions = Enumerable.Range(start, Math.Min(100, Rows - start)).Select(i => TableTransactionAction.Upsert(Counter(pk, i))).ToList();
            await table.SubmitTransactionAsync(actions);
        }

        var pages = new List<TablePage>();
        await foreach (var page in table.QueryAsync())
        {
            pages.Add(page);
        }

        Assert.True(pages.Count >= 2, "Azurite pages at 1000 rows, so 1234 rows need a continuation.");
        Assert.NotNull(pages[0].Continuation);
        var keys = pages.SelectMany(p => p.Entities).Select(e => e.RowKey).ToList();
        Assert.Equal(Rows, keys.Count);
        Assert.Equal(Rows, keys.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task QueryPageAsync_PageSizeAndSelect_ReturnsPagesWithOnlySelectedColumns()
    {
        var table = await NewTableAsync();
        await table.SubmitTransactionAsync(Enumerable.Range(0, 25).Select(i => TableTransactionAction.Upsert(Counter("12", i))).ToList());

        var seen = new List<string>();
        TableContinuation? continuation = null;
        var pages = 0;
        do
        {
            var page = await table.QueryPageAsync(TableFilter.PartitionKey.Eq("12"), ["RowKey", "Value"], 10, continuation);
            pages++;
            Assert.True(page.Entities.Count <= 10);
            Assert.All(page.Entities, e => Assert.Null(e["Version"]));
            seen.AddRange(page.Entities.Select(e => e.RowKey));
            continuation = page.Continuation;
        }
        while (continuation is not null);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 25).Select(i => "k" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture)), seen);
    }

    [Fact]
    public async Task QueryAsync_FilterValueWithQuotes_IsEscapedNotInjected()
    {
        var table = await NewTableAsync();
        const string Tricky = "o'brien";
        const string Injection = "x' or RowKey ne '";
        await table.SubmitTransactionAsync(
        [
            TableTransactionAction.Upsert(new TableEntity("q", Tricky)),
            TableTransactionAction.Upsert(new TableEntity("q", "o")),
            TableTransactionAction.Upsert(new TableEntity("q", "plain")),
        ]);

        var match = await QueryAllAsync(table, TableFilter.PartitionKey.Eq("q").And(TableFilter.RowKey.Eq(Tricky)));
        var injected = await QueryAllAsync(table, TableFilter.RowKey.Eq(Injection));

        Assert.Equal(Tricky, Assert.Single(match).RowKey);
        Assert.Empty(injected);
        Assert.Equal(Tricky, (await table.GetEntityAsync("q", Tricky))?.RowKey);
        Assert.True(await table.DeleteEntityAsync("q", Tricky));
        Assert.Null(await table.GetEntityAsync("q", Tricky));
    }

    [Fact]
    public async Task QueryAsync_StartsWith_ReturnsOnlyPrefixedRows()
    {
        var table = await NewTableAsync();
        string[] keys = ["page:a", "page:b", "pagf", "pag", "other"];
        await table.SubmitTransactionAsync(keys
            .Select(k => TableTransactionAction.Upsert(new TableEntity("s", k))).ToList());

        var rows = await QueryAllAsync(table, TableFilter.StartsWith(TableFilter.RowKey, "page:"));

        Assert.Equal(["page:a", "page:b"], rows.Select(r => r.RowKey));
    }

    [Fact]
    public async Task AddEntity_RowExists_Throws409EntityAlreadyExists()
    {
        var table = await NewTableAsync();
        await table.AddEntityAsync(new TableEntity("lease", "owner"));

        var ex = await Assert.ThrowsAsync<StorageException>(() => table.AddEntityAsync(new TableEntity("lease", "owner")));

        Assert.Equal(409, ex.Status);
        Assert.Equal("EntityAlreadyExists", ex.ErrorCode);
    }

    [Fact]
    public async Task UpdateEntity_StaleETag_Throws412AndFreshETagSucceeds()
    {
        var table = await NewTableAsync();
        var lease = new TableEntity("lease", "owner") { ["Holder"] = "host-a", ["Epoch"] = 1L };
        var first = await table.AddEntityAsync(lease);
        lease["Epoch"] = 2L;
        var second = await table.UpdateEntityAsync(lease, first);

        lease["Holder"] = "host-b";
        var ex = await Assert.ThrowsAsync<StorageException>(() => table.UpdateEntityAsync(lease, first));

        Assert.Equal(412, ex.Status);
        Assert.Equal("UpdateConditionNotSatisfied", ex.ErrorCode);
        var current = await table.GetEntityAsync("lease", "owner");
        Assert.NotNull(current);
        Assert.Equal("host-a", current.GetString("Holder"));
        Assert.Equal(2L, current.GetInt64("Epoch"));
        Assert.Equal(second, current.ETag);
    }

    [Fact]
    public async Task PointOperations_KeyWithColonAndDot_AddressTheRow()
    {
        var table = await NewTableAsync();
        const string Key = "page:home.v2_x-1";
        var etag = await table.AddEntityAsync(new TableEntity("42", Key) { ["Value"] = 1L });

        var updated = await table.UpdateEntityAsync(new TableEntity("42", Key) { ["Value"] = 2L }, etag);

        Assert.Equal(2L, (await table.GetEntityAsync("42", Key))?.GetInt64("Value"));
        Assert.True(await table.DeleteEntityAsync("42", Key, updated));
        Assert.Null(await table.GetEntityAsync("42", Key));
    }

    [Fact]
    public async Task GetEntity_Missing_ReturnsNull()
    {
        var table = await NewTableAsync();

        Assert.Null(await table.GetEntityAsync("nope", "nope"));
        Assert.False(await table.DeleteEntityAsync("nope", "nope"));
    }

    [Fact]
    public async Task AnyRequest_WrongAccountKey_Throws403AuthenticationFailed()
    {
        var wrongKey = Convert.ToBase64String(new byte[64]);
        var connection = StorageConnection.FromSharedKey(azurite.TableEndpoint, azurite.QueueEndpoint, AzuriteFixture.AccountName, wrongKey);

        var tableEx = await Assert.ThrowsAsync<StorageException>(() => connection.GetTableClient(AzuriteFixture.UniqueTableName()).CreateIfNotExistsAsync());
        var queueEx = await Assert.ThrowsAsync<StorageException>(() => connection.GetQueueClient(AzuriteFixture.UniqueQueueName()).CreateIfNotExistsAsync());

        Assert.Equal(403, tableEx.Status);
        // Azure says AuthenticationFailed; Azurite's table service says AuthorizationFailure for a bad signature.
        Assert.True(tableEx.ErrorCode is "AuthenticationFailed" or "AuthorizationFailure", tableEx.ErrorCode);
        Assert.Equal(403, queueEx.Status);
        Assert.Equal("AuthenticationFailed", queueEx.ErrorCode);
    }
}
