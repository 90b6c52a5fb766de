using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using FuncMap.Validation;

namespace FuncMap.Batches;

/// <summary>The outcome of parsing an increment batch: either a batch or the rules it broke, never both.</summary>
public sealed class BatchParseResult
{
    private BatchParseResult(IncrementBatch? batch, IReadOnlyList<ValidationError> errors)
    {
        Batch = batch;
        Errors = errors;
    }

    /// <summary>The validated and aggregated batch, when <see cref="IsValid"/>.</summary>
    public IncrementBatch? Batch { get; }

    /// <summary>Every rule the input broke (at most <see cref="IncrementBatchParser.MaxReportedErrors"/>).</summary>
    public IReadOnlyList<ValidationError> Errors { get; }

    /// <summary>True when the input is a valid batch.</summary>
    public bool IsValid => Batch is not null;

    internal static BatchParseResult Success(IncrementBatch batch) => new(batch, []);

    internal static BatchParseResult Failure(IReadOnlyList<ValidationError> errors) => new(null, errors);

    internal static BatchParseResult Failure(ValidationError error) => new(null, [error]);
}

/// <summary>
/// Parses, validates and aggregates the increment batch schema shared by <c>POST /api/counters/batch</c>
/// and the <c>counter-increments</c> queue:
/// <c>{"batchId": "...", "items": [{"key": "...", "delta": n}, ...]}</c>.
/// Every rule is checked and reported with the JSON path of the offending value; unknown properties
/// are rejected so that a misspelt field never silently means something else.
/// </summary>
public static class IncrementBatchParser
{
    /// <summary>The largest queue message accepted, in bytes of its text (the Azure Queue limit).</summary>
    public const int MaxQueueMessageBytes = 64 * 1024;

    /// <summary>The most items one batch may hold.</summary>
    public const int MaxItems = 10_000;

    /// <summary>The most errors reported for one input; the rest are summarised in the last one.</summary>
    public const int MaxReportedErrors = 20;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 8 };

    /// <summary>
    /// <paramref name="utf8"/> without a leading UTF-8 byte order mark (EF BB BF). RFC 8259 §8.1: senders must not
    /// add one, but parsers may ignore it; in UTF-8 it carries no information, System.Text.Json's stream reader
    /// ignores it too, and refusing it would reject (or poison) a valid batch whose only flaw is an encoder's
    /// default (PowerShell 5, <c>Encoding.UTF8</c> with its preamble, editors). So every JSON input is read past it:
    /// queue messages (plain, and inside base64), batch and add bodies.
    /// </summary>
    public static ReadOnlySpan<byte> SkipByteOrderMark(ReadOnlySpan<byte> utf8) =>
        utf8.StartsWith("\uFEFF"u8) ? utf8[3..] : utf8;

    /// <summary>Parses a batch from a UTF-8 JSON body (a leading byte order mark is ignored).</summary>
    public static BatchParseResult Parse(ReadOnlySpan<byte> utf8Json)
    {
        utf8Json = SkipByteOrderMark(utf8Json);
        JsonDocument document;
        try
        {
            // JsonDocument.Parse needs a ReadOnlyMemory; the copy is bounded by the caller's size limit.
            document = JsonDocument.Parse(utf8Json.ToArray(), DocumentOptions);
        }
        catch (JsonException ex)
        {
            return BatchParseResult.Failure(new ValidationError("$", "json.syntax",
                $"The body is not valid JSON: {ex.Message}"));
        }

        using (document)
        {
            return Parse(document.RootElement);
        }
    }

    /// <summary>
    /// Parses a queue message: UTF-8 JSON, either plain or base64-encoded (both are accepted,
    /// so senders that use the SDK's default base64 encoding and senders that do not both work).
    /// A leading UTF-8 byte order mark is ignored (<see cref="SkipByteOrderMark"/>).
    /// </summary>
    public static BatchParseResult ParseQueueMessage(ReadOnlySpan<byte> message)
    {
        if (message.Length > MaxQueueMessageBytes)
        {
            return BatchParseResult.Failure(new ValidationError("$", "message.size",
                $"A queue message is at most {MaxQueueMessageBytes} bytes; this one has {message.Length}."));
        }

        var trimmed = SkipByteOrderMark(message).Trim(" \t\r\n"u8);
        if (trimmed.IsEmpty)
        {
            return BatchParseResult.Failure(new ValidationError("$", "message.empty", "The queue message is empty."));
        }

        if (trimmed[0] == (byte)'{' || trimmed[0] == (byte)'[')
        {
            return Parse(trimmed);
        }

        var decoded = ArrayPool<byte>.Shared.Rent(Base64.GetMaxDecodedFromUtf8Length(trimmed.Length));
        try
        {
            var status = Base64.DecodeFromUtf8(trimmed, decoded, out _, out var written);
            if (status != OperationStatus.Done)
            {
                return BatchParseResult.Failure(new ValidationError("$", "message.encoding",
                    $"The queue message is neither JSON (it would start with '{{') nor base64-encoded JSON: it starts with {Describe(trimmed)}."));
            }

            return Parse(decoded.AsSpan(0, written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(decoded);
        }
    }

    /// <summary>Parses a queue message given as text (how queue clients hand it over).</summary>
    public static BatchParseResult ParseQueueMessage(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var byteCount = Encoding.UTF8.GetByteCount(message);
        if (byteCount > MaxQueueMessageBytes)
        {
            return BatchParseResult.Failure(new ValidationError("$", "message.size",
                $"A queue message is at most {MaxQueueMessageBytes} bytes; this one has {byteCount}."));
        }

        return ParseQueueMessage(Encoding.UTF8.GetBytes(message));
    }

    /// <summary>Validates and aggregates a batch already parsed into a JSON element.</summary>
    public static BatchParseResult Parse(JsonElement root)
    {
        var errors = new ErrorList();
        if (root.ValueKind != JsonValueKind.Object)
        {
            return BatchParseResult.Failure(new ValidationError("$", "batch.type",
                $"A batch is a JSON object with \"batchId\" and \"items\"; got {Describe(root.ValueKind)}."));
        }

        string? batchId = null;
        JsonElement? items = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in root.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                errors.Add(new(property.Name, "batch.duplicateProperty", $"\"{property.Name}\" appears more than once; send it once."));
                continue;
            }

            switch (property.Name)
            {
                case "batchId":
                    if (property.Value.ValueKind == JsonValueKind.String)
                    {
                        batchId = property.Value.GetString();
                        errors.Add(OperationId.Validate(batchId, "batchId"));
                    }
                    else
                    {
                        errors.Add(new("batchId", "batchId.type", $"\"batchId\" must be a string; got {Describe(property.Value.ValueKind)}."));
                    }

                    break;
                case "items":
                    items = property.Value;
                    break;
                default:
                    errors.Add(new(property.Name, "batch.unknownProperty",
                        $"Unknown property \"{property.Name}\"; a batch has only \"batchId\" and \"items\"."));
                    break;
            }
        }

        if (batchId is null && !errors.Has("batchId"))
        {
            errors.Add(new("batchId", "batchId.required", "\"batchId\" is required: 1 to 128 printable ASCII characters."));
        }

        var parsed = new List<IncrementItem>();
        if (items is not { } array)
        {
            errors.Add(new("items", "items.required", "\"items\" is required: an array of {\"key\", \"delta\"} objects."));
        }
        else if (array.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new("items", "items.type", $"\"items\" must be an array; got {Describe(array.ValueKind)}."));
        }
        else
        {
            var count = array.GetArrayLength();
            if (count == 0)
            {
                errors.Add(new("items", "items.empty", "\"items\" must hold at least one item."));
            }
            else if (count > MaxItems)
            {
                errors.Add(new("items", "items.count", $"A batch holds at most {MaxItems} items; this one has {count}."));
            }
            else
            {
                var index = 0;
                foreach (var item in array.EnumerateArray())
                {
                    if (TryParseItem(item, $"items[{index}]", errors, out var parsedItem))
                    {
                        parsed.Add(parsedItem);
                    }

                    index++;
                }
            }
        }

        if (errors.Count > 0)
        {
            return BatchParseResult.Failure(errors.ToList());
        }

        return Aggregate(batchId!, parsed);
    }

    /// <summary>
    /// Sums the items of each key, keeping the order in which keys first appear. The sums are exact (Int128:
    /// 10,000 Int64 items cannot overflow it), and a key is refused only when its total does not fit in an
    /// Int64, so the outcome never depends on the order of the items.
    /// </summary>
    public static BatchParseResult Aggregate(string batchId, IReadOnlyList<IncrementItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var keys = new List<string>(items.Count);
        var sums = new List<Int128>(items.Count);
        foreach (var item in items)
        {
            if (index.TryGetValue(item.Key, out var at))
            {
                sums[at] += item.Delta;
            }
            else
            {
                index.Add(item.Key, keys.Count);
                keys.Add(item.Key);
                sums.Add(item.Delta);
            }
        }

        var deltas = new List<KeyDelta>(keys.Count);
        ErrorList? errors = null;
        for (var i = 0; i < keys.Count; i++)
        {
            if (sums[i] < long.MinValue || sums[i] > long.MaxValue)
            {
                (errors ??= new ErrorList()).Add(new ValidationError("items", "batch.overflow",
                    $"The items for key \"{keys[i]}\" add up to {sums[i]}, outside the Int64 range."));
            }
            else
            {
                deltas.Add(new KeyDelta(keys[i], (long)sums[i]));
            }
        }

        return errors is null
            ? BatchParseResult.Success(new IncrementBatch(batchId, items.Count, deltas))
            : BatchParseResult.Failure(errors.ToList());
    }

    private static bool TryParseItem(JsonElement item, string path, ErrorList errors, out IncrementItem parsed)
    {
        parsed = default;
        if (item.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new(path, "item.type", $"An item is an object {{\"key\", \"delta\"}}; got {Describe(item.ValueKind)}."));
            return false;
        }

        string? key = null;
        long? delta = null;
        var ok = true;
        var seenKey = false;
        var seenDelta = false;
        foreach (var property in item.EnumerateObject())
        {
            if ((property.Name == "key" && !Mark(ref seenKey)) || (property.Name == "delta" && !Mark(ref seenDelta)))
            {
                errors.Add(new($"{path}.{property.Name}", "item.duplicateProperty", $"\"{property.Name}\" appears more than once in this item; send it once."));
                ok = false;
                continue;
            }

            switch (property.Name)
            {
                case "key":
                    if (property.Value.ValueKind != JsonValueKind.String)
                    {
                        errors.Add(new($"{path}.key", "key.type", $"\"key\" must be a string; got {Describe(property.Value.ValueKind)}."));
                        ok = false;
                        break;
                    }

                    key = property.Value.GetString();
                    var keyError = CounterKey.Validate(key, $"{path}.key");
                    if (keyError is not null)
                    {
                        errors.Add(keyError);
                        ok = false;
                    }

                    break;
                case "delta":
                    var deltaError = DeltaParser.Validate(property.Value, $"{path}.delta", out var value);
                    if (deltaError is not null)
                    {
                        errors.Add(deltaError);
                        ok = false;
                    }
                    else
                    {
                        delta = value;
                    }

                    break;
                default:
                    errors.Add(new($"{path}.{property.Name}", "item.unknownProperty",
                        $"Unknown property \"{property.Name}\"; an item has only \"key\" and \"delta\"."));
                    ok = false;
                    break;
            }
        }

        if (key is null && !errors.Has($"{path}.key"))
        {
            errors.Add(new($"{path}.key", "key.required", "\"key\" is required."));
            ok = false;
        }

        if (delta is null && !errors.Has($"{path}.delta"))
        {
            errors.Add(new($"{path}.delta", "delta.required", "\"delta\" is required: an integer in the Int64 range."));
            ok = false;
        }

        if (ok)
        {
            parsed = new IncrementItem(key!, delta!.Value);
        }

        return ok;
    }

    /// <summary>Sets <paramref name="flag"/>; false when it was already set.</summary>
    private static bool Mark(ref bool flag)
    {
        var first = !flag;
        flag = true;
        return first;
    }

    /// <summary>The first bytes of a message that is neither JSON nor base64, printably (at most 8, as hex when not printable ASCII).</summary>
    private static string Describe(ReadOnlySpan<byte> start)
    {
        var head = start[..Math.Min(start.Length, 8)];
        var printable = true;
        foreach (var b in head)
        {
            printable &= b is >= 0x20 and < 0x7F;
        }

        return printable ? $"\"{Encoding.ASCII.GetString(head)}\"" : $"the bytes {Convert.ToHexString(head)}";
    }

    internal static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>Collects errors up to a bound, so a hostile batch cannot produce an unbounded error list.</summary>
    private sealed class ErrorList
    {
        private readonly List<ValidationError> _errors = [];
        private int _dropped;

        public int Count => _errors.Count + _dropped;

        public void Add(ValidationError? error)
        {
            if (error is null)
            {
                return;
            }

            if (_errors.Count < MaxReportedErrors - 1)
            {
                _errors.Add(error);
            }
            else
            {
                _dropped++;
            }
        }

        public bool Has(string field) => _errors.Exists(e => e.Field == field);

        public List<ValidationError> ToList()
        {
            if (_dropped > 0)
            {
                _errors.Add(new("$", "errors.truncated", $"{_dropped} more error(s) not listed."));
            }

            return _errors;
        }
    }
}
