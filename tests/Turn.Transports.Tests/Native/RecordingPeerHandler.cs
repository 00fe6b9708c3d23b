using System.Collections.Concurrent;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports.Tests.Native;

/// <summary>
/// Stands in for the engine on the peer side: records what a relay socket hands it and frames each payload in place
/// as ChannelData on <see cref="Channel"/> (RFC 8656 §12.5), writing the 4-byte header into the headroom.
/// </summary>
internal sealed class RecordingPeerHandler : IPeerDataHandler
{
    public const ushort Channel = 0x4001;

    private readonly ConcurrentQueue<PeerDatagram> _seen = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public IReadOnlyCollection<PeerDatagram> Seen => _seen;

    public int HandlePeerData(Allocation allocation, in TransportAddress peer, Span<byte> buffer, int payloadLength, out int start)
    {
        byte[] payload = buffer.Slice(PeerDataFraming.Headroom, payloadLength).ToArray();
        bool roomAround = buffer.Length >= PeerDataFraming.Headroom + payloadLength + PeerDataFraming.Tailroom;
        _seen.Enqueue(new PeerDatagram(allocation, peer, payload, roomAround));
        Interlocked.Increment(ref _count);
        start = PeerDataFraming.Headroom - ChannelData.HeaderLength;
        ChannelData.WriteHeader(buffer[start..], Channel, payloadLength);
        return ChannelData.HeaderLength + payloadLength;
    }

    /// <summary>The ICMP reports handed over (RFC 8656 §11.5), answered with a 4-byte marker the client receives.</summary>
    public ConcurrentQueue<(TransportAddress Peer, bool Icmpv6, byte Type, byte Code)> Icmp { get; } = new();

    public int HandlePeerIcmp(Allocation allocation, in TransportAddress peer, bool icmpv6, byte type, byte code, uint info, Span<byte> buffer)
    {
        Icmp.Enqueue((peer, icmpv6, type, code));
        buffer[0] = 0xEE;
        buffer[1] = type;
        buffer[2] = code;
        buffer[3] = icmpv6 ? (byte)6 : (byte)4;
        return 4;
    }

    /// <summary>Waits until at least <paramref name="count"/> datagrams were handled; false on timeout.</summary>
    public bool WaitFor(int count, TimeSpan timeout) => SpinWait.SpinUntil(() => Count >= count, timeout);
}

/// <summary>One call of <see cref="RecordingPeerHandler.HandlePeerData"/>.</summary>
internal sealed record PeerDatagram(Allocation Allocation, TransportAddress Peer, byte[] Payload, bool RoomAround);
