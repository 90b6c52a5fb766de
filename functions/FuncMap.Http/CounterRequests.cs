using System.Globalization;
using FuncMap.Batches;
using FuncMap.Counters;
using FuncMap.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Primitives;

namespace FuncMap.Http;

/// <summary>What a write request asks for, once its key, <c>Idempotency-Key</c> and <c>wait</c> passed validation.</summary>
/// <param name="Key">The counter key.</param>
/// <param name="OperationId">The <c>Idempotency-Key</c>, or null when none was sent.</param>
/// <param name="Wait">True for <c>?wait=true</c>: answer after the owner applied the operation.</param>
public readonly record struct WriteRequest(string Key, string? OperationId, bool Wait);

/// <summary>A parsed list query.</summary>
/// <param name="Prefix">The key prefix (validated; empty for all keys).</param>
/// <param name="PageSize">The page size, 1–<see cref="CounterRequests.MaxPageSize"/>.</param>
/// <param name="AfterKey">The last key of the previous page (from the continuation token), or null for the first page.</param>
/// <param name="Resume">The backend position the token carries (a host that has one wrote it), or null.</param>
public readonly record struct ListRequest(string Prefix, int PageSize, string? AfterKey, string? Resume = null);

/// <summary>The list query's parameters, with the continuation token as the raw string the client sent.</summary>
internal readonly record struct ListParameters(string Prefix, int PageSize, string? ContinuationToken);

/// <summary>
/// Parses and validates the inputs of every route, host-agnostically: each method returns a
/// ProblemDetails result (400/413/415) for input that breaks a rule, so no bad input goes further.
/// </summary>
public static class CounterRequests
{
    /// <summary>The header that carries a write's operation id.</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>The response header (value <c>true</c>) that marks the answer to a repeated write: nothing was applied again.</summary>
    public const string IdempotentReplayedHeader = "Idempotent-Replayed";

    /// <summary>Marks <paramref name="response"/> as the answer to a repeat of an already applied write.</summary>
    public static void MarkReplayed(HttpResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        response.Headers[IdempotentReplayedHeader] = "true";
    }

    /// <summary>
    /// The part of a write's answer that its operation id decides, the same on both hosts: a repeat of an applied
    /// write (<see cref="OperationStatus.Duplicate"/>) is marked <c>Idempotent-Replayed: true</c> and otherwise
    /// answered as the write is (null is returned); a write whose id was used for a different request
    /// (<see cref="OperationStatus.Mismatch"/>) is refused with 422 <c>idempotency.mismatch</c>.
    /// </summary>
    public static ProblemHttpResult? IdempotencyVerdict(HttpResponse response, in WriteRequest write, OperationStatus? status)
    {
        switch (status)
        {
            case OperationStatus.Duplicate:
                MarkReplayed(response);
                return null;
            case OperationStatus.Mismatch:
                return CounterProblems.IdempotencyMismatch(write.Key, write.OperationId);
            default:
                return null;
        }
    }

    /// <summary>The page size when none is given.</summary>
    public const int DefaultPageSize = 100;

    /// <summary>The largest page size accepted.</summary>
    public const int MaxPageSize = 1000;

    /// <summary>Validates a key taken from the route.</summary>
    public static ProblemHttpResult? ValidateKey(string? key) =>
        CounterKey.Validate(key) is { } error ? CounterProblems.Validation(error) : null;

    /// <summary>Validates the key, the <c>Idempotency-Key</c> header and the <c>wait</c> query parameter of a write.</summary>
    public static ProblemHttpResult? ReadWrite(HttpRequest request, string? key, out WriteRequest write)
    {
        ArgumentNullException.ThrowIfNull(request);
        write = default;
        List<ValidationError>? errors = null;
        if (CounterKey.Validate(key) is { } keyError)
        {
            (errors ??= []).Add(keyError);
        }

        string? operationId = null;
        if (request.Headers.TryGetValue(IdempotencyKeyHeader, out var header))
        {
            if (header.Count != 1)
            {
                (errors ??= []).Add(new(IdempotencyKeyHeader, "id.single", "Send at most one Idempotency-Key header."));
            }
            else if (OperationId.Validate(header[0], IdempotencyKeyHeader) is { } idError)
            {
                (errors ??= []).Add(idError);
            }
            else
            {
                operationId = header[0];
            }
        }

        if (ReadBoolean(request.Query, "wait", out var wait) is { } waitError)
        {
            (errors ??= []).Add(waitError);
        }

        if (errors is not null)
        {
            return CounterProblems.Validation(errors);
        }

        write = new WriteRequest(key!, operationId, wait);
        return null;
    }

    /// <summary>
    /// Reads the delta of an add: body <c>{"delta": n}</c>, or no body for 1. A JSON body without <c>delta</c>
    /// (<c>{}</c>) is 400 <c>delta.required</c> (<see cref="DeltaParser.ParseAddBody"/>).
    /// </summary>
    public static async Task<(long Delta, ProblemHttpResult? Problem)> ReadAddAsync(HttpRequest request, long maxBodyBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength == 0)
        {
            return (DeltaParser.DefaultDelta, null);
        }

        var body = await RequestBody.ReadJsonAsync(request, maxBodyBytes, cancellationToken).ConfigureAwait(false);
        if (body.Problem is not null)
        {
            return (0, body.Problem);
        }

        return DeltaParser.ParseAddBody(body.Bytes.Span, out var delta) is { } error
            ? (0, CounterProblems.Validation(error))
            : (delta, null);
    }

    /// <summary>Reads an increment batch body (required).</summary>
    public static async Task<(IncrementBatch? Batch, ProblemHttpResult? Problem)> ReadBatchAsync(HttpRequest request, long maxBodyBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var body = await RequestBody.ReadJsonAsync(request, maxBodyBytes, cancellationToken).ConfigureAwait(false);
        if (body.Problem is not null)
        {
            return (null, body.Problem);
        }

        if (IncrementBatchParser.SkipByteOrderMark(body.Bytes.Span).Trim(" \t\r\n"u8).IsEmpty)
        {
            return (null, CounterProblems.Validation(new ValidationError("$", "body.required",
                "The body is required: {\"batchId\": \"...\", \"items\": [{\"key\": \"...\", \"delta\": n}]}.")));
        }

        var result = IncrementBatchParser.Parse(body.Bytes.Span);
        return result.IsValid ? (result.Batch, null) : (null, CounterProblems.Validation(result.Errors));
    }

    /// <summary>
    /// Reads <c>prefix</c>, <c>pageSize</c> (1–1000, default 100) and <c>continuationToken</c>, decoding the token
    /// as this API's own (<see cref="ContinuationToken"/>: the last key of the previous page).
    /// </summary>
    public static ProblemHttpResult? ReadList(HttpRequest request, out ListRequest list)
    {
        ArgumentNullException.ThrowIfNull(request);
        list = default;
        var errors = ReadListParameters(request.Query, out var parameters);

        string? afterKey = null;
        string? resume = null;
        if (parameters.ContinuationToken is { } token && ContinuationToken.TryDecode(token, out afterKey, out resume) is { } tokenError)
        {
            (errors ??= []).Add(tokenError);
        }

        if (errors is not null)
        {
            return CounterProblems.Validation(errors);
        }

        list = new ListRequest(parameters.Prefix, parameters.PageSize, afterKey, resume);
        return null;
    }

    /// <summary>The list parameters and every rule they break, in parameter order; null when none.</summary>
    private static List<ValidationError>? ReadListParameters(IQueryCollection query, out ListParameters parameters)
    {
        List<ValidationError>? errors = null;

        var prefix = string.Empty;
        if (ReadSingle(query, "prefix", out var prefixValue) is { } prefixCountError)
        {
            (errors ??= []).Add(prefixCountError);
        }
        else if (!string.IsNullOrEmpty(prefixValue))
        {
            // A prefix is the start of a key: the key's length and charset rules.
            if (CounterKey.ValidatePrefix(prefixValue) is { } prefixError)
            {
                (errors ??= []).Add(prefixError);
            }
            else
            {
                prefix = prefixValue;
            }
        }

        var pageSize = DefaultPageSize;
        if (ReadSingle(query, "pageSize", out var sizeValue) is { } sizeCountError)
        {
            (errors ??= []).Add(sizeCountError);
        }
        else if (sizeValue is not null)
        {
            if (!int.TryParse(sizeValue, NumberStyles.None, CultureInfo.InvariantCulture, out pageSize) || pageSize is < 1 or > MaxPageSize)
            {
                (errors ??= []).Add(new("pageSize", "pageSize.range",
                    $"pageSize is an integer from 1 to {MaxPageSize}; got \"{Truncate(sizeValue)}\"."));
            }
        }

        if (ReadSingle(query, ContinuationToken.ParameterName, out var token) is { } tokenCountError)
        {
            (errors ??= []).Add(tokenCountError);
        }

        parameters = new ListParameters(prefix, pageSize, token);
        return errors;
    }

    private static ValidationError? ReadBoolean(IQueryCollection query, string name, out bool value)
    {
        value = false;
        if (ReadSingle(query, name, out var raw) is { } error)
        {
            return error;
        }

        if (raw is null)
        {
            return null;
        }

        if (raw.Equals("true", StringComparison.OrdinalIgnoreCase) || raw == "1")
        {
            value = true;
            return null;
        }

        if (raw.Equals("false", StringComparison.OrdinalIgnoreCase) || raw == "0")
        {
            return null;
        }

        return new(name, $"{name}.boolean", $"{name} is true or false; got \"{Truncate(raw)}\".");
    }

    private static ValidationError? ReadSingle(IQueryCollection query, string name, out string? value)
    {
        value = null;
        if (!query.TryGetValue(name, out StringValues values) || values.Count == 0)
        {
            return null;
        }

        if (values.Count > 1)
        {
            return new(name, $"{name}.single", $"Give {name} at most once.");
        }

        value = values[0];
        return null;
    }

    private static string Truncate(string value) => value.Length <= 40 ? value : value[..40] + "…";
}
