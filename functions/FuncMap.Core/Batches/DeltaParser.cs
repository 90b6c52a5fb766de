using System.Text.Json;
using FuncMap.Validation;

namespace FuncMap.Batches;

/// <summary>
/// The delta rule and the body of <c>POST /api/counters/{key}/add</c>: <c>{"delta": n}</c> with n an
/// integer in the Int64 range; an empty body means a delta of 1. A JSON body must carry <c>delta</c>:
/// <c>{}</c> is refused (<c>delta.required</c>), as a batch item without <c>delta</c> is
/// (<see cref="IncrementBatchParser"/>), so that a body whose field was lost or misnamed never silently adds 1.
/// </summary>
public static class DeltaParser
{
    /// <summary>The delta of an add without a body.</summary>
    public const long DefaultDelta = 1;

    /// <summary>Validates one JSON value as a delta.</summary>
    public static ValidationError? Validate(JsonElement value, string field, out long delta)
    {
        delta = 0;
        if (value.ValueKind != JsonValueKind.Number)
        {
            return new(field, "delta.type", $"\"delta\" must be an integer; got {IncrementBatchParser.Describe(value.ValueKind)}.");
        }

        if (value.TryGetInt64(out delta))
        {
            return null;
        }

        var raw = value.GetRawText();
        return raw.AsSpan().IndexOfAny('.', 'e', 'E') >= 0
            ? new(field, "delta.integer", $"\"delta\" must be an integer written without a fraction or exponent; got {Truncate(raw)}.")
            : new(field, "delta.range", $"\"delta\" must be between {long.MinValue} and {long.MaxValue}; got {Truncate(raw)}.");
    }

    /// <summary>
    /// Parses the body of an add request. An empty body (or only whitespace) means <see cref="DefaultDelta"/>; a leading
    /// UTF-8 byte order mark is ignored (<see cref="IncrementBatchParser.SkipByteOrderMark"/>). A JSON object without
    /// <c>delta</c> is refused with <c>delta.required</c> (field <c>delta</c>); <c>{"delta": null}</c> with
    /// <c>delta.type</c>; any other member with <c>body.unknownProperty</c>.
    /// </summary>
    public static ValidationError? ParseAddBody(ReadOnlySpan<byte> utf8Json, out long delta)
    {
        delta = DefaultDelta;
        utf8Json = IncrementBatchParser.SkipByteOrderMark(utf8Json);
        if (utf8Json.Trim(" \t\r\n"u8).IsEmpty)
        {
            return null;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json.ToArray(), new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException ex)
        {
            return new("$", "json.syntax", $"The body is not valid JSON: {ex.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new("$", "body.type", $"The body is an object {{\"delta\": n}}; got {IncrementBatchParser.Describe(root.ValueKind)}.");
            }

            var found = false;
            foreach (var property in root.EnumerateObject())
            {
                if (property.Name != "delta")
                {
                    return new(property.Name, "body.unknownProperty", $"Unknown property \"{property.Name}\"; the body has only \"delta\".");
                }

                if (found)
                {
                    return new("delta", "body.duplicateProperty", "\"delta\" appears more than once; send it once.");
                }

                var error = Validate(property.Value, "delta", out delta);
                if (error is not null)
                {
                    return error;
                }

                found = true;
            }

            return found
                ? null
                : new("delta", "delta.required", "\"delta\" is required in a JSON body: {\"delta\": n} with n an integer in the Int64 range; send no body at all to add 1.");
        }
    }

    private static string Truncate(string raw) => raw.Length <= 40 ? raw : raw[..40] + "…";
}
