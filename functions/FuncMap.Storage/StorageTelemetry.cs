using System.Diagnostics;
using FuncMap.Telemetry;

namespace FuncMap.Storage;

/// <summary>
/// The storage activity source of both hosts (<see cref="FuncMapTelemetry.Storage"/>): spans of snapshot runs
/// (<see cref="FuncMapTelemetry.SnapshotSpan"/>), the restore (<see cref="FuncMapTelemetry.RestoreSpan"/>) and queue
/// batches (<see cref="FuncMapTelemetry.QueueBatchSpan"/>).
/// </summary>
public static class StorageTelemetry
{
    /// <summary>The source; its spans exist only while a listener samples them.</summary>
    public static ActivitySource Source { get; } = new(FuncMapTelemetry.Storage);

    /// <summary>Ends <paramref name="span"/> (if any) as succeeded, with its <see cref="FuncMapTelemetry.RowsTag"/> or <see cref="FuncMapTelemetry.ItemsTag"/>.</summary>
    public static void Succeeded(this Activity? span, string countTag, long count)
    {
        if (span is null)
        {
            return;
        }

        span.SetTag(countTag, count);
        span.SetTag(FuncMapTelemetry.OutcomeTag, "success");
    }

    /// <summary>Marks <paramref name="span"/> (if any) as failed, with the exception's type as the status description (never its message: it may name a key).</summary>
    public static void Failed(this Activity? span, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (span is null)
        {
            return;
        }

        span.SetTag(FuncMapTelemetry.OutcomeTag, "failure");
        span.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
    }
}
