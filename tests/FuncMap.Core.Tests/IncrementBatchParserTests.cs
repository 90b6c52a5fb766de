using System.Text;
using FuncMap.Batches;

namespace FuncMap.Core.Tests;

public sealed class IncrementBatchParserTests
{
    private static BatchParseResult Parse(string json) => IncrementBatchParser.Parse(Encoding.UTF8.GetBytes(json));

    private static string Rules(BatchParseResult result) => string.Join(",", result.Errors.Select(e => e.Rule));

    [Fact]
    public void Parse_ValidBatch_ReturnsItemsAndBatchId()
    {
        var result = Parse("""{"batchId":"b-1","items":[{"key":"page:home","delta":3},{"key":"page:cart","delta":-1}]}""");

        Assert.True(result.IsValid, Rules(result));
        Assert.Empty(result.Errors);
        Assert.Equal("b-1", result.Batch!.BatchId);
        Assert.Equal(2, result.Batch.ItemCount);
        Assert.Equal([new KeyDelta("page:home", 3), new KeyDelta("page:cart", -1)], result.Batch.Deltas);
    }

    [Theory]
    [InlineData("[]", "batch.type")]
    [InlineData("\"batch\"", "batch.type")]
    [InlineData("42", "batch.type")]
    [InlineData("null", "batch.type")]
    public void Parse_NotAnObject_ReportsBatchType(string json, string rule)
    {
        var result = Parse(json);

        Assert.False(result.IsValid);
        Assert.Null(result.Batch);
        Assert.Equal(rule, Rules(result));
    }

    [Fact]
    public void Parse_MissingBatchId_ReportsRequired()
    {
        var result = Parse("""{"items":[{"key":"a","delta":1}]}""");

        Assert.Equal("batchId.required", Rules(result));
        Assert.Equal("batchId", result.Errors[0].Field);
    }

    [Theory]
    [InlineData("1", "batchId.type")]
    [InlineData("null", "batchId.type")]
    [InlineData("{}", "batchId.type")]
    [InlineData("\"\"", "id.required")]
    [InlineData("\" b\"", "id.whitespace")]
    [InlineData("\"caf\u00E9\"", "id.charset")]
    public void Parse_BadBatchId_ReportsRule(string batchId, string rule)
    {
        var result = Parse($$"""{"batchId":{{batchId}},"items":[{"key":"a","delta":1}]}""");

        Assert.Equal(rule, Rules(result));
        Assert.Equal("batchId", result.Errors[0].Field);
    }

    [Fact]
    public void Parse_BatchIdOf129Characters_ReportsLength() =>
        Assert.Equal("id.length", Rules(Parse($$"""{"batchId":"{{new string('b', 129)}}","items":[{"key":"a","delta":1}]}""")));

    [Theory]
    [InlineData("""{"batchId":"b"}""", "items.required")]
    [InlineData("""{"batchId":"b","items":[]}""", "items.empty")]
    [InlineData("""{"batchId":"b","items":{}}""", "items.type")]
    [InlineData("""{"batchId":"b","items":"a"}""", "items.type")]
    [InlineData("""{"batchId":"b","items":null}""", "items.type")]
    public void Parse_MissingEmptyOrNonArrayItems_ReportsRule(string json, string rule)
    {
        var result = Parse(json);

        Assert.Equal(rule, Rules(result));
        Assert.Equal("items", result.Errors[0].Field);
    }

    [Fact]
    public void Parse_MoreThanMaxItems_ReportsCount()
    {
        var items = string.Join(",", Enumerable.Repeat("""{"key":"a","delta":1}""", IncrementBatchParser.MaxItems + 1));

        var result = Parse($$"""{"batchId":"b","items":[{{items}}]}""");

        Assert.Equal("items.count", Rules(result));
    }

    [Fact]
    public void Parse_ExactlyMaxItems_IsValid()
    {
        var items = string.Join(",", Enumerable.Repeat("""{"key":"a","delta":1}""", IncrementBatchParser.MaxItems));

        var result = Parse($$"""{"batchId":"b","items":[{{items}}]}""");

        Assert.True(result.IsValid, Rules(result));
        Assert.Equal(IncrementBatchParser.MaxItems, result.Batch!.ItemCount);
        Assert.Equal([new KeyDelta("a", IncrementBatchParser.MaxItems)], result.Batch.Deltas);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("\"a\"")]
    [InlineData("[]")]
    [InlineData("null")]
    public void Parse_ItemNotAnObject_ReportsItemTypeAtItsIndex(string item)
    {
        var result = Parse($$"""{"batchId":"b","items":[{"key":"a","delta":1},{{item}}]}""");

        var error = Assert.Single(result.Errors);
        Assert.Equal("items[1]", error.Field);
        Assert.Equal("item.type", error.Rule);
    }

    [Fact]
    public void Parse_UnknownBatchProperty_ReportsIt()
    {
        var result = Parse("""{"batchId":"b","items":[{"key":"a","delta":1}],"itemz":[]}""");

        var error = Assert.Single(result.Errors);
        Assert.Equal(("itemz", "batch.unknownProperty"), (error.Field, error.Rule));
    }

    [Fact]
    public void Parse_UnknownItemProperty_ReportsItWithPath()
    {
        var result = Parse("""{"batchId":"b","items":[{"key":"a","delta":1,"detla":2}]}""");

        var error = Assert.Single(result.Errors);
        Assert.Equal(("items[0].detla", "item.unknownProperty"), (error.Field, error.Rule));
    }

    [Theory]
    [InlineData("""{"key":"a b","delta":1}""", "items[1].key", "key.charset")]
    [InlineData("""{"key":"","delta":1}""", "items[1].key", "key.required")]
    [InlineData("""{"key":5,"delta":1}""", "items[1].key", "key.type")]
    [InlineData("""{"delta":1}""", "items[1].key", "key.required")]
    [InlineData("""{"key":"a"}""", "items[1].delta", "delta.required")]
    [InlineData("""{"key":"a","delta":"1"}""", "items[1].delta", "delta.type")]
    [InlineData("""{"key":"a","delta":1.5}""", "items[1].delta", "delta.integer")]
    [InlineData("""{"key":"a","delta":null}""", "items[1].delta", "delta.type")]
    [InlineData("""{"key":"a","delta":9223372036854775808}""", "items[1].delta", "delta.range")]
    public void Parse_BadItem_ReportsFieldPathAndRule(string item, string field, string rule)
    {
        var result = Parse($$"""{"batchId":"b","items":[{"key":"ok","delta":1},{{item}}]}""");

        var error = Assert.Single(result.Errors);
        Assert.Equal((field, rule), (error.Field, error.Rule));
    }

    [Fact]
    public void Parse_KeyOf91Characters_ReportsLengthAtItemKey()
    {
        var result = Parse($$"""{"batchId":"b","items":[{"key":"{{new string('k', 91)}}","delta":1}]}""");

        var error = Assert.Single(result.Errors);
        Assert.Equal(("items[0].key", "key.length"), (error.Field, error.Rule));
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsAllInDocumentOrder()
    {
        var result = Parse("""{"batchId":1,"items":[{"key":"a b","delta":1},{"key":"ok","delta":"x"}]}""");

        Assert.Equal(["batchId", "items[0].key", "items[1].delta"], result.Errors.Select(e => e.Field));
    }

    [Fact]
    public void Parse_RepeatedKeys_SumsPerKeyInFirstSeenOrder()
    {
        var result = Parse("""
            {"batchId":"b","items":[
              {"key":"c","delta":1},{"key":"a","delta":2},{"key":"c","delta":10},
              {"key":"b","delta":-4},{"key":"a","delta":-2},{"key":"c","delta":100}]}
            """);

        Assert.True(result.IsValid, Rules(result));
        Assert.Equal(6, result.Batch!.ItemCount);
        Assert.Equal([new KeyDelta("c", 111), new KeyDelta("a", 0), new KeyDelta("b", -4)], result.Batch.Deltas);
    }

    [Fact]
    public void Parse_KeysDifferingOnlyInCase_AreDistinct()
    {
        var result = Parse("""{"batchId":"b","items":[{"key":"a","delta":1},{"key":"A","delta":2}]}""");

        Assert.Equal([new KeyDelta("a", 1), new KeyDelta("A", 2)], result.Batch!.Deltas);
    }

    [Theory]
    [InlineData(9223372036854775807, 1)]
    [InlineData(-9223372036854775808, -1)]
    public void Parse_AggregateOverflows_RejectsWholeBatch(long first, long second)
    {
        var result = Parse($$"""{"batchId":"b","items":[{"key":"ok","delta":1},{"key":"a","delta":{{first}}},{"key":"a","delta":{{second}}}]}""");

        Assert.False(result.IsValid);
        Assert.Equal("batch.overflow", Rules(result));
    }

    [Fact]
    public void Parse_AggregateReturnsIntoRange_IsValid()
    {
        var result = Parse($$"""{"batchId":"b","items":[{"key":"a","delta":{{long.MaxValue}}},{"key":"a","delta":-1},{"key":"a","delta":1}]}""");

        Assert.Equal([new KeyDelta("a", long.MaxValue)], result.Batch!.Deltas);
    }

    [Theory]
    [InlineData(9223372036854775807, 1, -1)]
    [InlineData(1, 9223372036854775807, -1)]
    [InlineData(-1, 1, 9223372036854775807)]
    [InlineData(-9223372036854775808, -1, 1)]
    [InlineData(-1, -9223372036854775808, 1)]
    public void Parse_TotalFitsWhateverTheItemOrder_IsValid(long a, long b, long c)
    {
        var result = Parse($$"""{"batchId":"ovf-b3","items":[{"key":"ovf5","delta":{{a}}},{"key":"ovf5","delta":{{b}}},{"key":"ovf5","delta":{{c}}}]}""");

        Assert.True(result.IsValid, Rules(result));
        Assert.Equal([new KeyDelta("ovf5", a + b + c)], result.Batch!.Deltas);
    }

    [Fact]
    public void Parse_TwoKeysWhoseTotalsDoNotFit_ReportsBothByName()
    {
        var result = Parse($$"""{"batchId":"b","items":[{"key":"up","delta":{{long.MaxValue}}},{"key":"down","delta":{{long.MinValue}}},{"key":"ok","delta":1},{"key":"up","delta":{{long.MaxValue}}},{"key":"down","delta":-1},{"key":"up","delta":-1}]}""");

        Assert.False(result.IsValid);
        Assert.Equal("batch.overflow,batch.overflow", Rules(result));
        Assert.Contains("\"up\" add up to 18446744073709551613", result.Errors[0].Message, StringComparison.Ordinal);
        Assert.Contains("\"down\" add up to -9223372036854775809", result.Errors[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Aggregate_ShuffledItems_SameOutcome()
    {
        var random = new Random(11);
        for (var round = 0; round < 200; round++)
        {
            var items = Enumerable.Range(0, 12).Select(_ => new IncrementItem(
                "k" + random.Next(3),
                random.Next(4) switch { 0 => long.MaxValue, 1 => long.MinValue, _ => random.NextInt64(-5, 6) })).ToList();
            var expected = IncrementBatchParser.Aggregate("b", items);
            var shuffled = items.OrderBy(_ => random.Next()).ToList();

            var actual = IncrementBatchParser.Aggregate("b", shuffled);

            Assert.Equal(expected.IsValid, actual.IsValid);
            Assert.Equal(
                (expected.Batch?.Deltas ?? []).OrderBy(d => d.Key, StringComparer.Ordinal),
                (actual.Batch?.Deltas ?? []).OrderBy(d => d.Key, StringComparer.Ordinal));
            Assert.Equal(
                expected.Errors.Select(e => e.Message).Order(StringComparer.Ordinal),
                actual.Errors.Select(e => e.Message).Order(StringComparer.Ordinal));
        }
    }

    /// <summary>RFC 8259 §8.1: parsers may ignore a byte order mark; every JSON input does (queue plain and base64, bodies).</summary>
    [Fact]
    public void ParseQueueMessage_LeadingUtf8ByteOrderMark_Ignored()
    {
        var json = """{"batchId":"bom-1","items":[{"key":"k","delta":2}]}""";
        byte[] bom = [0xEF, 0xBB, 0xBF];
        byte[][] messages =
        [
            [.. bom, .. Encoding.UTF8.GetBytes(json)],
            [.. bom, .. Encoding.UTF8.GetBytes(" \n" + json)],
            [.. bom, .. Encoding.UTF8.GetBytes(Convert.ToBase64String(Encoding.UTF8.GetBytes(json)))],
            Encoding.UTF8.GetBytes(Convert.ToBase64String([.. bom, .. Encoding.UTF8.GetBytes(json)])),
        ];

        foreach (var message in messages)
        {
            var result = IncrementBatchParser.ParseQueueMessage(message);
            Assert.True(result.IsValid, Rules(result));
            Assert.Equal([new KeyDelta("k", 2)], result.Batch!.Deltas);
        }

        Assert.True(IncrementBatchParser.ParseQueueMessage("\uFEFF" + json).IsValid);
        Assert.True(IncrementBatchParser.Parse([.. bom, .. Encoding.UTF8.GetBytes(json)]).IsValid);
        Assert.Null(DeltaParser.ParseAddBody([.. bom, .. """{"delta": 7}"""u8], out var delta));
        Assert.Equal(7, delta);
    }

    [Fact]
    public void ParseQueueMessage_NeitherJsonNorBase64_SaysHowItStarts()
    {
        var result = IncrementBatchParser.ParseQueueMessage([0xFF, 0xFE, (byte)'{']);

        Assert.Equal("message.encoding", Rules(result));
        Assert.Contains("starts with the bytes FFFE7B", result.Errors[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ManyBadItems_ErrorListIsBounded()
    {
        var items = string.Join(",", Enumerable.Repeat("""{"key":"bad key","delta":1}""", 500));

        var result = Parse($$"""{"batchId":"b","items":[{{items}}]}""");

        Assert.Equal(IncrementBatchParser.MaxReportedErrors, result.Errors.Count);
        Assert.Equal("errors.truncated", result.Errors[^1].Rule);
        Assert.Contains("481", result.Errors[^1].Message, StringComparison.Ordinal);
        Assert.All(result.Errors.Take(IncrementBatchParser.MaxReportedErrors - 1), e => Assert.Equal("key.charset", e.Rule));
    }

    [Theory]
    [InlineData("{")]
    [InlineData("""{"batchId":"b",}""")]
    [InlineData("not json")]
    public void Parse_Garbage_ReportsJsonSyntax(string json) =>
        Assert.Equal("json.syntax", Rules(Parse(json)));

    private const string QueueJson = """{"batchId":"q-1","items":[{"key":"a","delta":2},{"key":"b","delta":5},{"key":"a","delta":3}]}""";

    [Fact]
    public void ParseQueueMessage_PlainAndBase64_ParseToTheSameBatch()
    {
        var base64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(QueueJson));

        var plain = IncrementBatchParser.ParseQueueMessage(QueueJson);
        var encoded = IncrementBatchParser.ParseQueueMessage(base64);
        var encodedBytes = IncrementBatchParser.ParseQueueMessage(Encoding.UTF8.GetBytes(base64));

        Assert.True(plain.IsValid, Rules(plain));
        Assert.True(encoded.IsValid, Rules(encoded));
        Assert.Equal([new KeyDelta("a", 5), new KeyDelta("b", 5)], plain.Batch!.Deltas);
        Assert.Equal(plain.Batch.BatchId, encoded.Batch!.BatchId);
        Assert.Equal(plain.Batch.ItemCount, encoded.Batch.ItemCount);
        Assert.Equal(plain.Batch.Deltas, encoded.Batch.Deltas);
        Assert.Equal(plain.Batch.Deltas, encodedBytes.Batch!.Deltas);
    }

    [Fact]
    public void ParseQueueMessage_PlainWithSurroundingWhitespace_Parses() =>
        Assert.True(IncrementBatchParser.ParseQueueMessage("\r\n  " + QueueJson + "\n").IsValid);

    [Fact]
    public void ParseQueueMessage_LargerThan64KiB_RejectsBySize()
    {
        var padding = new string('x', IncrementBatchParser.MaxQueueMessageBytes);
        var message = $$"""{"batchId":"b","items":[{"key":"a","delta":1}],"pad":"{{padding}}"}""";

        var fromText = IncrementBatchParser.ParseQueueMessage(message);
        var fromBytes = IncrementBatchParser.ParseQueueMessage(Encoding.UTF8.GetBytes(message));

        Assert.Equal("message.size", Rules(fromText));
        Assert.Equal("message.size", Rules(fromBytes));
    }

    [Fact]
    public void ParseQueueMessage_MultiByteTextOver64KiBInUtf8_RejectsBySize()
    {
        // 40,000 characters but 80,000 UTF-8 bytes: the limit is in bytes.
        var message = new string('\u00E9', 40_000);

        Assert.Equal("message.size", Rules(IncrementBatchParser.ParseQueueMessage(message)));
    }

    [Fact]
    public void ParseQueueMessage_Exactly64KiB_IsNotRejectedBySize()
    {
        var skeleton = """{"batchId":"b","items":[{"key":"a","delta":1}]}""";
        var message = skeleton + new string(' ', IncrementBatchParser.MaxQueueMessageBytes - skeleton.Length);

        Assert.True(IncrementBatchParser.ParseQueueMessage(message).IsValid);
    }

    [Theory]
    [InlineData("!!! not base64 !!!", "message.encoding")]
    [InlineData("", "message.empty")]
    [InlineData("   ", "message.empty")]
    [InlineData("{nope", "json.syntax")]
    public void ParseQueueMessage_Garbage_Rejects(string message, string rule) =>
        Assert.Equal(rule, Rules(IncrementBatchParser.ParseQueueMessage(message)));

    [Fact]
    public void ParseQueueMessage_Base64OfGarbage_ReportsJsonSyntax()
    {
        var message = Convert.ToBase64String(Encoding.UTF8.GetBytes("hello, world"));

        Assert.Equal("json.syntax", Rules(IncrementBatchParser.ParseQueueMessage(message)));
    }

    [Fact]
    public void ParseQueueMessage_Base64OfInvalidBatch_ReportsTheSchemaError()
    {
        var message = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"batchId":"b","items":[{"key":"a/b","delta":1}]}"""));

        var error = Assert.Single(IncrementBatchParser.ParseQueueMessage(message).Errors);
        Assert.Equal(("items[0].key", "key.charset"), (error.Field, error.Rule));
    }

    [Theory]
    [InlineData("""{"batchId":"a","batchId":"b","items":[{"key":"k","delta":1}]}""", "batch.duplicateProperty")]
    [InlineData("""{"batchId":"a","items":[{"key":"k","key":"j","delta":1}]}""", "item.duplicateProperty")]
    [InlineData("""{"batchId":"a","items":[{"key":"k","delta":1,"delta":2}]}""", "item.duplicateProperty")]
    public void Parse_RepeatedProperty_IsRejected(string json, string rule)
    {
        var result = Parse(json);

        Assert.False(result.IsValid);
        Assert.Contains(rule, Rules(result));
    }
}
