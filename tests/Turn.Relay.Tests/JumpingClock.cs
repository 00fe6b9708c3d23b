namespace Turn.Relay.Tests;

/// <summary>
/// A clock whose two readings can jump apart, as on a real machine: the wall clock (<see cref="GetUtcNow"/>) steps when
/// an operator or NTP sets it; the monotonic timestamp (<see cref="GetTimestamp"/>) never goes back but jumps forward
/// across a suspend. <see cref="Advance"/> moves both, as time passing does.
/// </summary>
internal sealed class JumpingClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _wall = start;
    private long _ticks = TimeSpan.TicksPerDay;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override DateTimeOffset GetUtcNow() => _wall;

    public override long GetTimestamp() => _ticks;

    public void Advance(TimeSpan by)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(by, TimeSpan.Zero);
        _wall += by;
        _ticks += by.Ticks;
    }

    /// <summary>The wall clock is set forward or back; the monotonic clock does not move.</summary>
    public void SetWallClock(TimeSpan by) => _wall += by;

    /// <summary>The monotonic clock jumps forward (a suspend and resume); the wall clock too, as it does then.</summary>
    public void Suspend(TimeSpan by) => Advance(by);
}
