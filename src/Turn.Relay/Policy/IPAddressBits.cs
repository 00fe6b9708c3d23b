using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Turn.Stun;

namespace Turn.Relay.Policy;

/// <summary>
/// An IP address as one 128-bit number (an IPv4 address in the low 32 bits), so that ranges compare with two
/// integer comparisons and nothing is allocated.
/// </summary>
internal readonly struct IPAddressBits : IEquatable<IPAddressBits>
{
    public IPAddressBits(bool isIPv6, UInt128 value)
    {
        IsIPv6 = isIPv6;
        Value = value;
    }

    public bool IsIPv6 { get; }

    public UInt128 Value { get; }

    /// <summary>The IPv4 address; meaningful only when <see cref="IsIPv6"/> is false.</summary>
    public uint IPv4 => (uint)Value;

    /// <summary>The first 64 bits of an IPv6 address.</summary>
    public ulong High => (ulong)(Value >> 64);

    /// <summary>The last 64 bits of an IPv6 address.</summary>
    public ulong Low => (ulong)Value;

    public static IPAddressBits FromIPv4(uint address) => new(false, address);

    public static IPAddressBits FromIPv6(ulong high, ulong low) => new(true, ((UInt128)high << 64) | low);

    /// <summary>False for the default (family-less) <see cref="TransportAddress"/>.</summary>
    public static bool TryCreate(in TransportAddress address, out IPAddressBits bits)
    {
        Span<byte> bytes = stackalloc byte[16];
        switch (address.Family)
        {
            case StunAddressFamily.IPv4:
                address.WriteAddressBytes(bytes);
                bits = FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(bytes));
                return true;
            case StunAddressFamily.IPv6:
                address.WriteAddressBytes(bytes);
                bits = new IPAddressBits(true, BinaryPrimitives.ReadUInt128BigEndian(bytes));
                return true;
            default:
                bits = default;
                return false;
        }
    }

    /// <summary>False for address families other than IPv4 and IPv6. The IPv6 scope id is ignored.</summary>
    public static bool TryCreate(IPAddress address, out IPAddressBits bits)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork && address.TryWriteBytes(bytes, out int written) && written == 4)
        {
            bits = FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(bytes));
            return true;
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.TryWriteBytes(bytes, out written) && written == 16)
        {
            bits = new IPAddressBits(true, BinaryPrimitives.ReadUInt128BigEndian(bytes));
            return true;
        }

        bits = default;
        return false;
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        if (IsIPv6)
        {
            BinaryPrimitives.WriteUInt128BigEndian(bytes, Value);
            return new IPAddress(bytes);
        }

        BinaryPrimitives.WriteUInt32BigEndian(bytes, IPv4);
        return new IPAddress(bytes[..4]);
    }

    public bool Equals(IPAddressBits other) => IsIPv6 == other.IsIPv6 && Value == other.Value;

    public override bool Equals(object? obj) => obj is IPAddressBits other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(IsIPv6, Value);

    public override string ToString() => ToIPAddress().ToString();
}
