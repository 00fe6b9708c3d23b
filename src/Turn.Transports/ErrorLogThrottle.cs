namespace Turn.Transports;

/// <summary>Lets an unexpected-error log line through at most once per interval, so a bug cannot flood the log.</summary>
internal sealed class ErrorLogThrottle
{
    private static readonly long IntervalMilliseconds = 10_000;
    private long _nextAllowed;

    public bool ShouldLog()
    {
        long now = Environment.TickCount64;
        long next = Interlocked.Read(ref _nextAllowed);
        return now >= next && Interlocked.CompareExchange(ref _nextAllowed, now + IntervalMilliseconds, next) == next;
    }
}
