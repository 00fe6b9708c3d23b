using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Turn.Stun;

namespace Turn.Relay.Policy;

/// <summary>
/// An inclusive range of IP addresses of one family, written as a single address ("10.0.0.1", "::1"), a range
/// ("10.0.0.1-10.0.0.9", "2001:db8::1-2001:db8::ff", the form of coturn's --allowed-peer-ip and --denied-peer-ip) or a
/// CIDR block ("10.0.0.0/8", "fc00::/7"). Bounds are held as 128-bit integers: <see cref="Contains(in TransportAddress)"/>
/// allocates nothing.
/// </summary>
/// <remarks>
/// Parsing is strict, because these strings decide what a relay may reach: IPv4 must be four decimal parts with no
/// leading zeros (no "10", "127.1" or "0x7f.1" shorthands, which <see cref="IPAddress.Parse(string)"/> accepts);
/// IPv6 scope ids and brackets are refused; a CIDR block must have no bits set after its prefix; the two ends of a
/// range must be of one family and in order. Bad input gives false, never an exception.
/// </remarks>
public readonly struct IPAddressRange : IEquatable<IPAddressRange>
{
    private readonly IPAddressBits _first;
    private readonly IPAddressBits _last;

    private IPAddressRange(IPAddressBits first, IPAddressBits last)
    {
        _first = first;
        _last = last;
    }

    /// <summary><see cref="AddressFamily.InterNetwork"/> or <see cref="AddressFamily.InterNetworkV6"/>.</summary>
    public AddressFamily Family => _first.IsIPv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;

    public IPAddress FirstAddress => _first.ToIPAddress();

    public IPAddress LastAddress => _last.ToIPAddress();

    /// <summary>True when the range holds exactly one address (e.g. "10.0.0.5", "10.0.0.5/32", "::1-::1").</summary>
    public bool IsSingleAddress => _first.Value == _last.Value;

    internal IPAddressBits First => _first;

    internal IPAddressBits Last => _last;

    /// <summary>Parses a single address, "first-last" range or CIDR block; surrounding spaces are ignored.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out IPAddressRange range)
    {
        if (text is null)
        {
            range = default;
            return false;
        }

        return TryParse(text.AsSpan(), out range, out _);
    }

    /// <inheritdoc cref="TryParse(string?, out IPAddressRange)"/>
    public static bool TryParse(ReadOnlySpan<char> text, out IPAddressRange range) => TryParse(text, out range, out _);

    /// <exception cref="FormatException">The text is not an address, a range or a CIDR block.</exception>
    public static IPAddressRange Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text.AsSpan(), out IPAddressRange range, out string? reason)
            ? range
            : throw new FormatException($"'{text}' is not an IP address, an IP-IP range or a CIDR block: {reason}.");
    }

    /// <summary>As <see cref="TryParse(string?, out IPAddressRange)"/>, with why the text was refused.</summary>
    internal static bool TryParse(ReadOnlySpan<char> text, out IPAddressRange range, [NotNullWhen(false)] out string? reason)
    {
        range = default;
        text = text.Trim();
        if (text.IsEmpty)
        {
            reason = "it is empty";
            return false;
        }

        int slash = text.IndexOf('/');
        int dash = text.IndexOf('-');
        if (slash >= 0 && dash >= 0)
        {
            reason = "it mixes a range and a prefix length";
            return false;
        }

        if (slash >= 0)
        {
            return TryParseCidr(text[..slash].TrimEnd(), text[(slash + 1)..].TrimStart(), out range, out reason);
        }

        if (!TryParseAddress(dash >= 0 ? text[..dash].TrimEnd() : text, out IPAddressBits first, out reason))
        {
            return false;
        }

        IPAddressBits last = first;
        if (dash >= 0 && !TryParseAddress(text[(dash + 1)..].TrimStart(), out last, out reason))
        {
            return false;
        }

        if (first.IsIPv6 != last.IsIPv6)
        {
            reason = "the two ends of the range are of different address families";
            return false;
        }

        if (first.Value > last.Value)
        {
            reason = "the first address of the range is after the last";
            return false;
        }

        range = new IPAddressRange(first, last);
        return true;
    }

    private static bool TryParseCidr(ReadOnlySpan<char> address, ReadOnlySpan<char> prefix, out IPAddressRange range, [NotNullWhen(false)] out string? reason)
    {
        range = default;
        if (!TryParseAddress(address, out IPAddressBits network, out reason))
        {
            return false;
        }

        int maxLength = network.IsIPv6 ? 128 : 32;
        if (prefix.IsEmpty || prefix.Length > 3 || !IsAsciiDigits(prefix) ||
            (prefix.Length > 1 && prefix[0] == '0') ||
            !int.TryParse(prefix, NumberStyles.None, CultureInfo.InvariantCulture, out int length))
        {
            reason = "the prefix length is not a decimal number";
            return false;
        }

        if (length > maxLength)
        {
            reason = string.Create(CultureInfo.InvariantCulture, $"the prefix length {length} is more than {maxLength}");
            return false;
        }

        int hostBits = maxLength - length;
        UInt128 hostMask = hostBits == 0 ? UInt128.Zero : UInt128.MaxValue >> (128 - hostBits);
        if ((network.Value & hostMask) != UInt128.Zero)
        {
            // Refused rather than rounded: "192.168.1.0/16" is more likely a typo than a wish for the /16.
            var rounded = new IPAddressBits(network.IsIPv6, network.Value & ~hostMask);
            reason = string.Create(CultureInfo.InvariantCulture, $"bits are set after the /{length} prefix (did you mean {rounded}/{length}?)");
            return false;
        }

        range = new IPAddressRange(network, new IPAddressBits(network.IsIPv6, network.Value | hostMask));
        return true;
    }

    private static bool TryParseAddress(ReadOnlySpan<char> text, out IPAddressBits address, [NotNullWhen(false)] out string? reason)
    {
        address = default;
        if (text.IsEmpty)
        {
            reason = "an address is missing";
            return false;
        }

        if (text.Contains(':'))
        {
            if (text.ContainsAny('%', '[', ']'))
            {
                reason = "IPv6 addresses are written without brackets or a scope id";
                return false;
            }

            if (!IPAddress.TryParse(text, out IPAddress? parsed) || parsed.AddressFamily != AddressFamily.InterNetworkV6 ||
                !IPAddressBits.TryCreate(parsed, out address))
            {
                reason = string.Concat("'", text, "' is not an IPv6 address");
                return false;
            }

            reason = null;
            return true;
        }

        if (TryParseDottedQuad(text, out uint ipv4))
        {
            address = IPAddressBits.FromIPv4(ipv4);
            reason = null;
            return true;
        }

        reason = string.Concat("'", text, "' is not an IPv4 address (four decimal parts, 0-255, no leading zeros)");
        return false;
    }

    private static bool TryParseDottedQuad(ReadOnlySpan<char> text, out uint address)
    {
        address = 0;
        int parts = 0;
        while (true)
        {
            int dot = text.IndexOf('.');
            ReadOnlySpan<char> part = dot < 0 ? text : text[..dot];
            if (part.IsEmpty || part.Length > 3 || !IsAsciiDigits(part) || (part.Length > 1 && part[0] == '0'))
            {
                return false;
            }

            int value = int.Parse(part, NumberStyles.None, CultureInfo.InvariantCulture);
            if (value > 255)
            {
                return false;
            }

            address = (address << 8) | (uint)value;
            parts++;
            if (dot < 0)
            {
                return parts == 4;
            }

            if (parts == 4)
            {
                return false;
            }

            text = text[(dot + 1)..];
        }
    }

    private static bool IsAsciiDigits(ReadOnlySpan<char> text) => !text.ContainsAnyExceptInRange('0', '9');

    /// <summary>True when the address is of the range's family and between its bounds. Allocates nothing.</summary>
    public bool Contains(in TransportAddress address) => IPAddressBits.TryCreate(address, out IPAddressBits bits) && Contains(bits);

    /// <summary>True when the address is of the range's family and between its bounds. Allocates nothing.</summary>
    public bool Contains(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return IPAddressBits.TryCreate(address, out IPAddressBits bits) && Contains(bits);
    }

    internal bool Contains(in IPAddressBits address) =>
        address.IsIPv6 == _first.IsIPv6 && address.Value >= _first.Value && address.Value <= _last.Value;

    public bool Equals(IPAddressRange other) => _first.Equals(other._first) && _last.Equals(other._last);

    public override bool Equals(object? obj) => obj is IPAddressRange other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_first, _last);

    public static bool operator ==(IPAddressRange left, IPAddressRange right) => left.Equals(right);

    public static bool operator !=(IPAddressRange left, IPAddressRange right) => !left.Equals(right);

    /// <summary>"a" for one address, "a/n" for a CIDR block, else "a-b"; parses back to an equal range.</summary>
    public override string ToString()
    {
        if (IsSingleAddress)
        {
            return _first.ToString();
        }

        UInt128 size = _last.Value - _first.Value;
        if (UInt128.IsPow2(size + 1) || size == UInt128.MaxValue)
        {
            int hostBits = size == UInt128.MaxValue ? 128 : (int)UInt128.Log2(size + 1);
            if ((_first.Value & size) == UInt128.Zero)
            {
                int prefix = (_first.IsIPv6 ? 128 : 32) - hostBits;
                return string.Create(CultureInfo.InvariantCulture, $"{_first}/{prefix}");
            }
        }

        return string.Create(CultureInfo.InvariantCulture, $"{_first}-{_last}");
    }
}
