using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Turn.Stun;

/// <summary>
/// An IP address and port held inline (no <see cref="IPAddress"/> allocation), as carried by the address attributes
/// of RFC 8489 §14.1-§14.2 and RFC 8656 §18.3, §18.5.
/// </summary>
public readonly struct TransportAddress : IEquatable<TransportAddress>
{
    private readonly ulong _high;
    private readonly ulong _low;

    private TransportAddress(StunAddressFamily family, ulong high, ulong low, ushort port)
    {
        Family = family;
        _high = high;
        _low = low;
        Port = port;
    }

    public StunAddressFamily Family { get; }

    public ushort Port { get; }

    /// <summary>4 for IPv4, 16 for IPv6, 0 for the default value.</summary>
    public int AddressLength => Family switch
    {
        StunAddressFamily.IPv4 => 4,
        StunAddressFamily.IPv6 => 16,
        _ => 0,
    };

    public static TransportAddress FromIPv4(ReadOnlySpan<byte> address, ushort port) =>
        new(StunAddressFamily.IPv4, 0, BinaryPrimitives.ReadUInt32BigEndian(address), port);

    public static TransportAddress FromIPv6(ReadOnlySpan<byte> address, ushort port) =>
        new(StunAddressFamily.IPv6, BinaryPrimitives.ReadUInt64BigEndian(address),
            BinaryPrimitives.ReadUInt64BigEndian(address[8..]), port);

    public static TransportAddress FromIPAddress(IPAddress address, int port)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((uint)port, ushort.MaxValue, nameof(port));
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            throw new ArgumentException("Address could not be written.", nameof(address));
        }

        return address.AddressFamily == AddressFamily.InterNetwork
            ? FromIPv4(bytes[..written], (ushort)port)
            : FromIPv6(bytes[..written], (ushort)port);
    }

    public static TransportAddress FromIPEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return FromIPAddress(endPoint.Address, endPoint.Port);
    }

    /// <summary>Writes the 4 or 16 address bytes in network order; returns the count written.</summary>
    public int WriteAddressBytes(Span<byte> destination)
    {
        if (Family == StunAddressFamily.IPv4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)_low);
            return 4;
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
        return 16;
    }

    public TransportAddress WithPort(ushort port) => new(Family, _high, _low, port);

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        int length = WriteAddressBytes(bytes);
        return new IPAddress(bytes[..length]);
    }

    public IPEndPoint ToIPEndPoint() => new(ToIPAddress(), Port);

    public bool Equals(TransportAddress other) =>
        Family == other.Family && Port == other.Port && _high == other._high && _low == other._low;

    public override bool Equals(object? obj) => obj is TransportAddress other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Family, _high, _low, Port);

    public static bool operator ==(TransportAddress left, TransportAddress right) => left.Equals(right);

    public static bool operator !=(TransportAddress left, TransportAddress right) => !left.Equals(right);

    public override string ToString() => Family == StunAddressFamily.None ? "(none)" : ToIPEndPoint().ToString();
}
