using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Turn.Stun;

namespace Turn.Transports;

/// <summary>
/// Reads a <see cref="SocketAddress"/> (the raw sockaddr a receive fills in) without creating an
/// <see cref="IPEndPoint"/>: port at bytes 2-3, IPv4 address at 4-7, IPv6 address at 8-23 (sockaddr_in/_in6).
/// </summary>
public static class SocketAddressConversions
{
    public static TransportAddress ToTransportAddress(this SocketAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        ReadOnlySpan<byte> raw = address.Buffer.Span[..address.Size];
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(raw[2..]);
        if (address.Family == AddressFamily.InterNetwork)
        {
            return TransportAddress.FromIPv4(raw.Slice(4, 4), port);
        }

        ReadOnlySpan<byte> ip6 = raw.Slice(8, 16);
        // An IPv4 peer seen through a dual-stack socket (::ffff:a.b.c.d) is an IPv4 peer.
        if (IsV4Mapped(ip6))
        {
            return TransportAddress.FromIPv4(ip6[12..], port);
        }

        return TransportAddress.FromIPv6(ip6, port);
    }

    private static bool IsV4Mapped(ReadOnlySpan<byte> ip6) =>
        BinaryPrimitives.ReadUInt64BigEndian(ip6) == 0 && BinaryPrimitives.ReadUInt32BigEndian(ip6[8..]) == 0x0000FFFF;
}
