using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Turn.Stun;

namespace Turn.Relay.Allocations;

/// <summary>
/// The last few STUN Binding requests (ICE checks) relayed for one allocation, each way, so the response that comes
/// back the other way can be timed. Four slots, inline in the allocation: nothing is allocated per check, and a check
/// whose response never comes is simply overwritten.
/// </summary>
internal struct CheckTracker
{
    private const ushort BindingRequest = 0x0001;
    private const ushort BindingSuccess = 0x0101;
    private const ushort BindingError = 0x0111;

    private Slots _slots;
    private int _next;

    /// <summary>
    /// Cheap first test for the relay path: long enough for a STUN header, first two bits zero, the magic cookie
    /// (RFC 8489 §5). Media (RTP, SRTP, DTLS) never passes it.
    /// </summary>
    public static bool LooksLikeStun(ReadOnlySpan<byte> payload) =>
        payload.Length >= StunConstants.HeaderLength && payload[0] < 2
        && BinaryPrimitives.ReadUInt32BigEndian(payload[4..]) == StunConstants.MagicCookie;

    /// <summary>
    /// Records a Binding request, or matches a Binding response to a request that went the other way; returns the
    /// timestamp the matched request was seen at, or 0.
    /// </summary>
    public long Track(ReadOnlySpan<byte> stun, bool fromClient, long now)
    {
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(stun);
        TransactionId id = TransactionId.Read(stun.Slice(8, TransactionId.Length));
        if (type == BindingRequest)
        {
            _slots[_next] = new Check(id, now, fromClient);
            _next = (_next + 1) % Slots.Count;
            return 0;
        }

        if (type is BindingSuccess or BindingError)
        {
            for (int i = 0; i < Slots.Count; i++)
            {
                Check check = _slots[i];
                if (check.SentAt != 0 && check.FromClient != fromClient && check.Id.Equals(id))
                {
                    _slots[i] = default;
                    return check.SentAt;
                }
            }
        }

        return 0;
    }

    private readonly record struct Check(TransactionId Id, long SentAt, bool FromClient);

    [InlineArray(Count)]
    private struct Slots
    {
        public const int Count = 4;

        private Check _first;
    }
}
