namespace FuncMap.Counters;

/// <summary>
/// The one transition function of a counter, shared by the local engine and the Durable entity:
/// checked Int64 arithmetic (an overflowing add is rejected, never wrapped), version +1 per applied
/// operation, and at-most-once application per operation id within the <see cref="OperationWindow"/>, which
/// also refuses an id reused for a different request.
/// </summary>
public static class CounterRules
{
    /// <summary>
    /// Applies <paramref name="operation"/> to <paramref name="data"/> at <paramref name="nowTicks"/> (UTC ticks).
    /// <paramref name="window"/> may be null only for operations without an id. An id already in the window
    /// answers <see cref="OperationStatus.Duplicate"/> for the same request (same kind and delta) and
    /// <see cref="OperationStatus.Mismatch"/> for another one; an applied operation's id and fingerprint are
    /// remembered. On anything but <see cref="OperationStatus.Applied"/>, <paramref name="data"/> is unchanged.
    /// </summary>
    public static OperationStatus Apply(ref CounterData data, OperationWindow? window, in CounterOperation operation, long nowTicks)
    {
        if (operation.OperationId is not null)
        {
            ArgumentNullException.ThrowIfNull(window);
            switch (window.Match(operation))
            {
                case WindowMatch.Same:
                    return OperationStatus.Duplicate;
                case WindowMatch.Different:
                    return OperationStatus.Mismatch;
            }
        }

        var status = Transition(ref data, operation, nowTicks);
        if (status == OperationStatus.Applied && operation.OperationId is not null)
        {
            window!.Add(OperationWindow.Entry(operation));
        }

        return status;
    }

    /// <summary>
    /// The transition without deduplication. UpdatedAt becomes max(previous UpdatedAt, <paramref name="nowTicks"/>):
    /// it never goes backwards, whatever the clock does (issue 19).
    /// </summary>
    public static OperationStatus Transition(ref CounterData data, in CounterOperation operation, long nowTicks)
    {
        switch (operation.Kind)
        {
            case CounterOperationKind.Add:
                var start = data.Exists ? data.Value : 0;
                long sum;
                try
                {
                    sum = checked(start + operation.Delta);
                }
                catch (OverflowException)
                {
                    return OperationStatus.Overflow;
                }

                data.Value = sum;
                data.Exists = true;
                break;
            case CounterOperationKind.Reset:
                if (!data.Exists)
                {
                    return OperationStatus.NotFound;
                }

                data.Value = 0;
                break;
            case CounterOperationKind.Delete:
                if (!data.Exists)
                {
                    return OperationStatus.NotFound;
                }

                data.Value = 0;
                data.Exists = false;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(operation), operation.Kind, "Unknown operation kind.");
        }

        data.Version++;
        // Never backwards: a wall clock stepped back (NTP, an operator) must not make a later version look older.
        data.UpdatedAtTicks = Math.Max(data.UpdatedAtTicks, nowTicks);
        return OperationStatus.Applied;
    }
}
