using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Turn.Stun;

namespace Turn.Transports;

/// <summary>
/// Converts between <see cref="SocketAddress"/> (the raw sockaddr a receive fills in and a send reads) and
/// <see cref="TransportAddress"/> without creating an <see cref="IPEndPoint"/>: port at bytes 2-3, IPv4 address at
/// 4-7, IPv6 flow info at 4-7, address at 8-23 and scope id at 24-27 (sockaddr_in / sockaddr_in6).
/// </summary>
public static class SocketAddressConversions
{
    public static TransportAddress ToTransportAddress(this SocketAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return FromRaw(address.Buffer.Span[..address.Size], address.Family == AddressFamily.InterNetworkV6);
    }

    /// <summary>Reads a raw sockaddr_in (or sockaddr_in6 when <paramref name="ipv6"/>).</summary>
    internal static TransportAddress FromRaw(ReadOnlySpan<byte> raw, bool ipv6)
    {
        ushort port = BinaryPrimitives.ReadUInt16BigEndian(raw[2..]);
        if (!ipv6)
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

    /// <summary>
    /// Writes <paramref name="address"/> as the Linux sockaddr a socket of <paramref name="socketFamily"/> takes,
    /// family field included (host byte order); returns its length, or 0 when the families differ.
    /// </summary>
    internal static int WriteRaw(Span<byte> raw, in TransportAddress address, AddressFamily socketFamily)
    {
        const ushort LinuxInet = 2;
        const ushort LinuxInet6 = 10;
        if (socketFamily == AddressFamily.InterNetwork && address.Family == StunAddressFamily.IPv4)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(raw, LinuxInet);
            WritePortAndAddress(raw, address);
            raw.Slice(8, 8).Clear();
            return 16;
        }

        if (socketFamily == AddressFamily.InterNetworkV6 && address.Family == StunAddressFamily.IPv6)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(raw, LinuxInet6);
            WritePortAndAddress(raw, address);
            return 28;
        }

        return 0;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> (created for the address's family) with the address and port; false
    /// when the families differ.
    /// </summary>
    public static bool TryWrite(this SocketAddress destination, in TransportAddress address)
    {
        ArgumentNullException.ThrowIfNull(destination);
        bool sameFamily = destination.Family == AddressFamily.InterNetwork
            ? address.Family == StunAddressFamily.IPv4
            : destination.Family == AddressFamily.InterNetworkV6 && address.Family == StunAddressFamily.IPv6;
        if (sameFamily)
        {
            WritePortAndAddress(destination.Buffer.Span, address);
        }

        return sameFamily;
    }

    /// <summary>Port at bytes 2-3, then the IPv4 address at 4-7, or flow info 0, the IPv6 address and scope id 0.</summary>
    private static void WritePortAndAddress(Span<byte> raw, in TransportAddress address)
    {
        BinaryPrimitives.WriteUInt16BigEndian(raw[2..], address.Port);
        if (address.Family == StunAddressFamily.IPv4)
        {
            address.WriteAddressBytes(raw.Slice(4, 4));
            return;
        }

        raw.Slice(4, 4).Clear();
        address.WriteAddressBytes(raw.Slice(8, 16));
        raw.Slice(24, 4).Clear();
    }

    public static SocketAddress ToSocketAddress(this TransportAddress address)
    {
        var socketAddress = new SocketAddress(address.Family == StunAddressFamily.IPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6);
        socketAddress.TryWrite(address);
        return socketAddress;
    }

    private static bool IsV4Mapped(ReadOnlySpan<byte> ip6) =>
        BinaryPrimitives.ReadUInt64BigEndian(ip6) == 0 && BinaryPrimitives.ReadUInt32BigEndian(ip6[8..]) == 0x0000FFFF;
}
