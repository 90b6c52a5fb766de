namespace FuncMap.Functions.Http;

/// <summary>
/// The 202 body of a single-counter write on this host: the operation id the write carries (made up
/// when the request had no <c>Idempotency-Key</c>). A client that wants the outcome repeats the request
/// with that id as <c>Idempotency-Key</c>: the entity applies it once.
/// </summary>
public sealed record WriteAccepted(string Key, string OperationId);
