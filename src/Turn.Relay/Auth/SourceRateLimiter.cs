using Turn.Stun;

namespace Turn.Relay.Auth;

/// <summary>
/// How many requests that fail authentication (401 challenges, wrong passwords, unknown users, expired credentials,
/// stale nonces, malformed credentials) the server answers per source IP address: a token bucket per address, so a
/// 401 flood or a password guesser from one address is answered at a bounded rate and the rest is dropped unanswered.
/// The buckets live in a fixed table indexed by a hash of the address (randomly seeded per process), so memory stays
/// the same whatever the number of sources; two addresses that share a bucket share its rate. Allocates nothing.
/// </summary>
public sealed class SourceRateLimiter
{
    /// <summary>Buckets in the table (16 bytes each).</summary>
    public const int TableSize = 1 << 14;

    private const long Scale = 1000; // tokens are kept in thousandths

    private readonly Bucket[] _buckets = new Bucket[TableSize];
    private readonly Lock[] _stripes = [.. Enumerable.Range(0, 64).Select(_ => new Lock())];
    private readonly long _perSecond;
    private readonly long _burst;
    private readonly long _frequency;

    /// <param name="perSecond">Sustained answers per second per address (at least 1).</param>
    /// <param name="burst">Answers an address may have at once after a quiet time (at least 1).</param>
    /// <param name="timestampFrequency">Ticks per second of the timestamps given to <see cref="TryTake"/>.</param>
    public SourceRateLimiter(int perSecond, int burst, long timestampFrequency)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perSecond, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(timestampFrequency, 1);
        _perSecond = perSecond;
        _burst = burst * Scale;
        _frequency = timestampFrequency;
    }

    /// <summary>Takes one answer from <paramref name="source"/>'s bucket (its port does not matter); false when it has none left.</summary>
    public bool TryTake(in TransportAddress source, long now)
    {
        int index = source.WithPort(0).GetHashCode() & (TableSize - 1);
        lock (_stripes[index & (_stripes.Length - 1)])
        {
            ref Bucket bucket = ref _buckets[index];
            if (bucket.Updated == 0)
            {
                bucket.Tokens = _burst;
            }
            else if (now > bucket.Updated)
            {
                // Refill for the time since the last take, without overflow for long quiet times.
                long elapsed = now - bucket.Updated;
                long refill = elapsed >= _frequency * 3600 ? _burst : elapsed * _perSecond * Scale / _frequency;
                bucket.Tokens = Math.Min(_burst, bucket.Tokens + refill);
            }

            bucket.Updated = Math.Max(now, 1);
            if (bucket.Tokens < Scale)
            {
                return false;
            }

            bucket.Tokens -= Scale;
            return true;
        }
    }

    private struct Bucket
    {
        public long Tokens;
        public long Updated;
    }
}
