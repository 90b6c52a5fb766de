using FuncMap.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FuncMap.Functions.Http;

/// <summary>Reading and validating the parts of a request the contract defines, and the ProblemDetails for what is wrong.</summary>
internal static class HttpInput
{
    /// <summary>The header that makes a write idempotent.</summary>
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>The largest body of an add (<c>{"delta": n}</c> needs a few dozen bytes).</summary>
    public const int MaxAddBodyBytes = 4 * 1024;

    /// <summary>The default and the largest page size of the list.</summary>
    public const int DefaultPageSize = 100;

    /// <inheritdoc cref="DefaultPageSize"/>
    public const int MaxPageSize = 1000;

    /// <summary>The operation id of a write: the <c>Idempotency-Key</c> header, or a new one.</summary>
    public static ValidationError? OperationIdOf(HttpRequest request, out string operationId)
    {
        operationId = string.Empty;
        var values = request.Headers[IdempotencyKeyHeader];
        if (values.Count == 0)
        {
            operationId = OperationId.NewId();
            return null;
        }

        if (values.Count > 1)
        {
            return new(IdempotencyKeyHeader, "id.multiple", $"Send one {IdempotencyKeyHeader} header, not {values.Count}.");
        }

        var error = OperationId.Validate(values[0], IdempotencyKeyHeader);
        if (error is null)
        {
            operationId = values[0]!;
        }

        return error;
    }

    /// <summary>The <c>wait</c> query parameter: absent or <c>false</c> means answer 202 at once.</summary>
    public static ValidationError? WaitOf(HttpRequest request, out bool wait)
    {
        wait = false;
        var value = request.Query["wait"];
        if (value.Count == 0 || string.IsNullOrEmpty(value[0]))
        {
            return null;
        }

        return value.Count == 1 && bool.TryParse(value[0], out wait)
            ? null
            : new("wait", "wait.type", "\"wait\" is true or false.");
    }

    /// <summary>The list's <c>prefix</c>: empty, or the start of a valid key.</summary>
    public static ValidationError? PrefixOf(HttpRequest request, out string prefix)
    {
        prefix = request.Query["prefix"].ToString();
        return prefix.Length == 0 ? null : CounterKey.Validate(prefix, "prefix");
    }

    /// <summary>The list's <c>pageSize</c>: 1 to <see cref="MaxPageSize"/>, default <see cref="DefaultPageSize"/>.</summary>
    public static ValidationError? PageSizeOf(HttpRequest request, out int pageSize)
    {
        pageSize = DefaultPageSize;
        var value = request.Query["pageSize"].ToString();
        if (value.Length == 0)
        {
            return null;
        }

        return int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out pageSize)
            && pageSize is >= 1 and <= MaxPageSize
            ? null
            : new("pageSize", "pageSize.range", $"\"pageSize\" is an integer from 1 to {MaxPageSize}.");
    }

    /// <summary>Reads the body, or returns null when it is longer than <paramref name="maxBytes"/>.</summary>
    public static async Task<byte[]?> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>400 with every broken rule: <c>errors</c> maps each field to its messages, <c>rules</c> lists the rule names.</summary>
    public static ValidationProblem Invalid(params IReadOnlyList<ValidationError> errors)
    {
        var byField = errors
            .GroupBy(e => e.Field, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray(), StringComparer.Ordinal);
        return TypedResults.ValidationProblem(
            byField,
            detail: errors.Count == 1 ? errors[0].Message : $"{errors.Count} rules were broken.",
            extensions: new Dictionary<string, object?> { ["rules"] = errors.Select(e => e.Rule).ToArray() });
    }

    /// <summary>A ProblemDetails answer with <paramref name="status"/>.</summary>
    public static ProblemHttpResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title);

    /// <summary>404 for a counter that does not exist.</summary>
    public static ProblemHttpResult CounterNotFound(string key) =>
        Problem(StatusCodes.Status404NotFound, "Counter not found", $"There is no counter \"{key}\".");

    /// <summary>413 for a body over the limit.</summary>
    public static ProblemHttpResult TooLarge(int maxBytes) =>
        Problem(StatusCodes.Status413PayloadTooLarge, "Body too large", $"The body is at most {maxBytes} bytes.");
}
