namespace FuncMap.Storage.Tests;

/// <summary>Parsing, filter rendering and error classification: no storage needed.</summary>
public sealed class UnitTests
{
    private const string Key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    [Fact]
    public void FromConnectionString_UseDevelopmentStorage_UsesAzuriteDefaults()
    {
        var connection = StorageConnection.FromConnectionString("UseDevelopmentStorage=true");

        Assert.Equal("http://127.0.0.1:10002/devstoreaccount1", connection.TableEndpoint.AbsoluteUri);
        Assert.Equal("http://127.0.0.1:10001/devstoreaccount1", connection.QueueEndpoint.AbsoluteUri);
        Assert.Equal("devstoreaccount1", connection.AccountName);
    }

    [Fact]
    public void FromConnectionString_AccountAndSuffix_BuildsServiceEndpoints()
    {
        var connection = StorageConnection.FromConnectionString($"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={Key};EndpointSuffix=core.chinacloudapi.cn");

        Assert.Equal("https://acct.table.core.chinacloudapi.cn/", connection.TableEndpoint.AbsoluteUri);
        Assert.Equal("https://acct.queue.core.chinacloudapi.cn/", connection.QueueEndpoint.AbsoluteUri);
    }

    [Fact]
    public void FromConnectionString_ExplicitEndpoints_AreUsedAsGiven()
    {
        var connection = StorageConnection.FromConnectionString(
            $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={Key};TableEndpoint=http://127.0.0.1:5/devstoreaccount1/;QueueEndpoint=http://127.0.0.1:6/devstoreaccount1;");

        Assert.Equal("http://127.0.0.1:5/devstoreaccount1", connection.TableEndpoint.AbsoluteUri);
        Assert.Equal("http://127.0.0.1:6/devstoreaccount1", connection.QueueEndpoint.AbsoluteUri);
    }

    [Theory]
    [InlineData("AccountName=acct")]
    [InlineData("garbage")]
    public void FromConnectionString_Incomplete_ThrowsFormatException(string connectionString) =>
        Assert.Throws<FormatException>(() => StorageConnection.FromConnectionString(connectionString));

    [Fact]
    public void TableFilter_Values_AreRenderedAsEscapedLiterals()
    {
        Assert.Equal("RowKey eq 'o''brien'' or ''a'' eq ''a'", TableFilter.RowKey.Eq("o'brien' or 'a' eq 'a").Expression);
        Assert.Equal("(PartitionKey eq '07') and (Version gt 9007199254740993L)",
            TableFilter.PartitionKey.Eq("07").And(TableFilter.Property("Version").Gt(9007199254740993L)).Expression);
        Assert.Equal("UpdatedAt ge datetime'2026-11-22T10:00:00.0000000Z'",
            TableFilter.Property("UpdatedAt").Ge(new DateTimeOffset(2026, 11, 22, 11, 0, 0, TimeSpan.FromHours(1))).Expression);
        Assert.Equal("not (Flag eq true)", TableFilter.Property("Flag").Eq(true).Not().Expression);
        Assert.Equal("(RowKey ge 'ab') and (RowKey lt 'ac')", TableFilter.StartsWith(TableFilter.RowKey, "ab")!.Expression);
    }

    [Theory]
    [InlineData("Value eq 1 or true")]
    [InlineData("a b")]
    [InlineData("1abc")]
    [InlineData("")]
    public void TableFilter_PropertyNameThatIsNotAnIdentifier_Throws(string name) =>
        Assert.Throws<ArgumentException>(() => TableFilter.Property(name));

    [Theory]
    [InlineData(0, true)]
    [InlineData(408, true)]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(503, true)]
    [InlineData(400, false)]
    [InlineData(404, false)]
    [InlineData(409, false)]
    [InlineData(412, false)]
    public void StorageException_IsTransient_ByStatus(int status, bool transient) =>
        Assert.Equal(transient, new StorageException(status, "X", "m").IsTransient);

    [Fact]
    public void QueueMessageBody_XmlSpecials_AreEscapedAndCarriageReturnEntitized()
    {
        var xml = System.Text.Encoding.UTF8.GetString(QueueClient.MessageBody("a<b>&\r\n"));

        Assert.Contains("<MessageText>a&lt;b&gt;&amp;&#xD;\n</MessageText>", xml, StringComparison.Ordinal);
    }

    [Fact]
    public void BatchResponse_ErrorPart_YieldsIndexFromMessage()
    {
        const string Body = "--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n"
            + "--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            + "HTTP/1.1 409 Conflict\r\nContent-ID: 4\r\nContent-Type: application/json;odata=minimalmetadata;charset=utf-8\r\n\r\n"
            + "{\"odata.error\":{\"code\":\"EntityAlreadyExists\",\"message\":{\"lang\":\"en-US\",\"value\":\"3:The specified entity already exists.\"}}}\r\n"
            + "--changesetresponse_2--\r\n--batchresponse_1--\r\n";

        var part = Assert.Single(TableBatch.ParseResponse("multipart/mixed; boundary=batchresponse_1", Body));
        var (code, message) = StorageRequests.ParseErrorBody(part.Body);

        Assert.Equal(409, part.Status);
        Assert.Equal("EntityAlreadyExists", code);
        Assert.Equal(3, TableBatch.FailedIndex(message, part.ContentId));
    }
}
