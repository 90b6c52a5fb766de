using System.Text.Json;
using System.Text.Json.Serialization;

namespace FuncMap.Client;

/// <summary>A counter as the API returns it: <c>{key, value, version, updatedAt}</c>.</summary>
/// <param name="Key">The counter key.</param>
/// <param name="Value">The value (Int64; arithmetic is checked on the server, never wraps).</param>
/// <param name="Version">How many operations were applied to it (+1 per applied operation).</param>
/// <param name="UpdatedAt">When the last operation was applied (UTC; never goes backwards).</param>
public sealed record Counter(string Key, long Value, long Version, DateTimeOffset UpdatedAt);

/// <summary>One increment of an increment batch: add <see cref="Delta"/> to counter <see cref="Key"/>.</summary>
/// <param name="Key">The counter key (the server's key rule: 1–90 characters of <c>A–Z a–z 0–9 - _ . :</c>, not <c>.</c> or <c>..</c>).</param>
/// <param name="Delta">The Int64 to add; items of one key in one batch are summed exactly by the server.</param>
public readonly record struct CounterIncrement(string Key, long Delta);

/// <summary>
/// The answer to a write (<see cref="FuncMapClient.AddAsync"/>, <see cref="FuncMapClient.ResetAsync"/>,
/// <see cref="FuncMapClient.DeleteAsync"/>).
/// </summary>
/// <param name="Key">The counter key.</param>
/// <param name="OperationId">The <c>Idempotency-Key</c> this call sent with every attempt.</param>
/// <param name="Counter">With <c>wait: true</c> the counter right after the operation (null for a delete, which answers 204); null for an accepted write (202).</param>
/// <param name="Replayed">True when the server answered <c>Idempotent-Replayed: true</c>: an earlier attempt of this call was applied, this one was not applied again.</param>
public sealed record CounterWriteResult(string Key, string OperationId, Counter? Counter, bool Replayed);

/// <summary>The answer to <see cref="FuncMapClient.SendBatchAsync"/> (<c>POST /api/counters/batch</c>, 202).</summary>
/// <param name="BatchId">The batch id: every key's operation id, so the same batch sent again counts once per key.</param>
/// <param name="Items">How many items the server read.</param>
/// <param name="Keys">How many distinct keys they touched.</param>
/// <param name="OverflowedKeys">Keys whose add was refused because the counter would overflow Int64 (nothing changed on them).</param>
/// <param name="MismatchedKeys">Keys on which this batch id was applied before with another total (<c>idempotency.mismatch</c>, refused).</param>
/// <param name="Replayed">True when the server answered <c>Idempotent-Replayed: true</c>: the whole batch had been applied before.</param>
public sealed record BatchResult(
    string BatchId,
    int Items,
    int Keys,
    IReadOnlyList<string> OverflowedKeys,
    IReadOnlyList<string> MismatchedKeys,
    bool Replayed);

/// <summary>One broken input rule of a 400 answer (the ProblemDetails <c>errors</c> extension).</summary>
/// <param name="Field">The field, such as <c>key</c>, <c>items[3].delta</c> or <c>Idempotency-Key</c>.</param>
/// <param name="Rule">The stable rule name, such as <c>key.charset</c>.</param>
/// <param name="Message">What is wrong, for people.</param>
public sealed record FuncMapFieldError(string Field, string Rule, string Message);

/// <summary>The wire shapes the client reads (camelCase, as both hosts write them).</summary>
internal sealed record CounterPage(IReadOnlyList<Counter> Items, string? ContinuationToken);

/// <summary>The batch answer's body.</summary>
internal sealed record BatchAnswer(string BatchId, int Items, int Keys, IReadOnlyList<string>? OverflowedKeys, IReadOnlyList<string>? MismatchedKeys);

/// <summary>Source-generated JSON for the client's wire shapes (no reflection, trimming-safe).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Counter))]
[JsonSerializable(typeof(CounterPage))]
[JsonSerializable(typeof(BatchAnswer))]
internal sealed partial class ClientJsonContext : JsonSerializerContext;
