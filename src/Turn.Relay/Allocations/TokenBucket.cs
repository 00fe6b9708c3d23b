namespace Turn.Relay.Allocations;

/// <summary>
/// A byte-rate limit for one direction of one allocation (coturn --max-bps: bytes per second, each direction on its
/// own). It holds at most one second of traffic as burst. Each bucket is used by one thread only (the client's
/// receive loop, or the relay socket's), so plain fields suffice.
/// </summary>
public sealed class TokenBucket
{
    private readonly long _bytesPerSecond;
    private readonly long _frequency;
    private long _available;
    private long _lastRefill;

    public TokenBucket(long bytesPerSecond, long frequency, long now)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytesPerSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(frequency, 1);
        _bytesPerSecond = bytesPerSecond;
        _frequency = frequency;
        _available = bytesPerSecond;
        _lastRefill = now;
    }

    /// <summary>Takes <paramref name="bytes"/> if the budget allows; false means the datagram is to be dropped.</summary>
    public bool TryConsume(int bytes, long now)
    {
        long elapsed = now - _lastRefill;
        if (elapsed > 0)
        {
            // Whole bytes only; the remainder of the elapsed time is kept for the next refill.
            long earned = (long)((double)elapsed * _bytesPerSecond / _frequency);
            if (earned > 0)
            {
                _available = Math.Min(_bytesPerSecond, _available + earned);
                _lastRefill = earned >= _bytesPerSecond ? now : _lastRefill + (long)((double)earned * _frequency / _bytesPerSecond);
            }
        }

        if (bytes > _available)
        {
            return false;
        }

        _available -= bytes;
        return true;
    }
}
