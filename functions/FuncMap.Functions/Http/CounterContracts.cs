using System.Text.Json.Serialization;

namespace FuncMap.Functions.Http;

/// <summary>
/// The 202 body of a single-counter write on this host. A write sent to the entity carries an operation id (made up
/// when the request had no <c>Idempotency-Key</c>): a client that wants the outcome repeats the request with that id as
/// <c>Idempotency-Key</c>, and the entity applies it once. A plain add (no <c>Idempotency-Key</c>, no <c>?wait=true</c>)
/// is accepted into table <c>Accepted</c> and folded with others, so it has no operation id (omitted).
/// </summary>
public sealed record WriteAccepted(
    string Key,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? OperationId);
