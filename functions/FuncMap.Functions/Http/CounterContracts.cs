namespace FuncMap.Functions.Http;

/// <summary>
/// The 202 body of a single-counter write on this host: the operation id the write carries (made up
/// when the request had no <c>Idempotency-Key</c>) and, for a <c>?wait=true</c> write still running
/// after the wait timeout, the status URL of its orchestration (also in <c>Location</c>).
/// </summary>
public sealed record WriteAccepted(string Key, string OperationId, string? StatusUri = null);
