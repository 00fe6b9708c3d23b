using System.Buffers.Binary;

namespace Turn.Relay.Allocations;

/// <summary>
/// Loss and jitter of one RTP stream relayed one way (RFC 3550 §6.4.1, appendix A.1, A.3, A.8), measured on the relay
/// from the headers SRTP leaves in clear (RFC 3711 §3.1). It follows the first SSRC it sees and ignores the others (a
/// sample, not every stream); a stream that jumps far in sequence or goes quiet is followed anew. The clock rate,
/// which jitter needs, is inferred from how fast the RTP timestamps advance against the wall clock (snapped to a
/// common rate). Every report interval it yields the interval's loss fraction and its jitter. One writer per
/// direction, no lock; nothing allocated.
/// </summary>
internal struct RtpTracker
{
    private const int MaxDropout = 3000;
    private const int MaxMisorder = 100;
    private static readonly int[] CommonClockRates = [8000, 16000, 24000, 32000, 44100, 48000, 90000];

    private uint _ssrc;
    private bool _active;
    private ushort _maxSeq;
    private uint _cycles;
    private uint _baseSeq;
    private long _received;
    private long _expectedPrior;
    private long _receivedPrior;
    private long _intervalStart;
    private long _firstArrival;
    private uint _firstTimestamp;
    private int _clockRate;
    private double _jitter;
    private double _lastTransit;
    private bool _haveTransit;
    private long _lastArrival;

    /// <summary>First test for the relay path: RTP version 2, a payload type outside RTCP's (RFC 5761 §4), a full header.</summary>
    public static bool LooksLikeRtp(ReadOnlySpan<byte> payload) =>
        payload.Length >= 12 && (payload[0] & 0xC0) == 0x80 && (payload[1] & 0x7F) is < 64 or > 95;

    /// <summary>
    /// Takes one RTP packet; true when a report interval ended with it, with the interval's loss fraction and jitter in
    /// seconds (negative when the clock rate is not known yet).
    /// </summary>
    public bool Track(ReadOnlySpan<byte> rtp, long now, long frequency, long interval, out double lossFraction, out double jitterSeconds)
    {
        lossFraction = 0;
        jitterSeconds = -1;
        ushort seq = BinaryPrimitives.ReadUInt16BigEndian(rtp[2..]);
        uint timestamp = BinaryPrimitives.ReadUInt32BigEndian(rtp[4..]);
        uint ssrc = BinaryPrimitives.ReadUInt32BigEndian(rtp[8..]);
        if (_active && ssrc != _ssrc)
        {
            if (now - _lastArrival < 2 * frequency)
            {
                return false;
            }

            // The followed stream went quiet: follow this one.
            _active = false;
        }

        if (!_active)
        {
            Start(seq, timestamp, ssrc, now);
            return false;
        }

        _lastArrival = now;
        int delta = (ushort)(seq - _maxSeq);
        if (delta < MaxDropout)
        {
            if (seq < _maxSeq)
            {
                _cycles += 65536;
            }

            _maxSeq = seq;
        }
        else if (delta <= 65536 - MaxMisorder)
        {
            // A jump: the sender restarted; start over.
            Start(seq, timestamp, ssrc, now);
            return false;
        }

        _received++;
        UpdateJitter(timestamp, now, frequency);
        if (now - _intervalStart < interval)
        {
            return false;
        }

        long expected = (long)_cycles + _maxSeq - _baseSeq + 1;
        long expectedInterval = expected - _expectedPrior;
        long receivedInterval = _received - _receivedPrior;
        _expectedPrior = expected;
        _receivedPrior = _received;
        _intervalStart = now;
        lossFraction = expectedInterval <= 0 ? 0 : Math.Clamp((double)(expectedInterval - receivedInterval) / expectedInterval, 0, 1);
        jitterSeconds = _clockRate > 0 ? _jitter / _clockRate : -1;
        return expectedInterval > 0;
    }

    private void Start(ushort seq, uint timestamp, uint ssrc, long now)
    {
        this = default;
        _active = true;
        _ssrc = ssrc;
        _maxSeq = seq;
        _baseSeq = seq;
        _received = 1;
        _receivedPrior = 0;
        _expectedPrior = 0;
        _intervalStart = now;
        _firstArrival = now;
        _firstTimestamp = timestamp;
        _lastArrival = now;
    }

    /// <summary>RFC 3550 A.8, in RTP timestamp units, once the clock rate is known.</summary>
    private void UpdateJitter(uint timestamp, long now, long frequency)
    {
        if (_clockRate == 0)
        {
            double elapsed = (double)(now - _firstArrival) / frequency;
            if (elapsed < 0.5)
            {
                return;
            }

            double rate = (uint)(timestamp - _firstTimestamp) / elapsed;
            foreach (int common in CommonClockRates)
            {
                if (Math.Abs(rate - common) <= common * 0.2)
                {
                    _clockRate = common;
                    break;
                }
            }

            if (_clockRate == 0)
            {
                _firstArrival = now;
                _firstTimestamp = timestamp;
                return;
            }
        }

        double transit = (double)now / frequency * _clockRate - timestamp;
        if (_haveTransit)
        {
            double d = Math.Abs(transit - _lastTransit);
            // A timestamp wrap looks like a huge difference: skip it.
            if (d < _clockRate)
            {
                _jitter += (d - _jitter) / 16;
            }
        }

        _lastTransit = transit;
        _haveTransit = true;
    }
}
