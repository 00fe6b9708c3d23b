using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;

namespace Turn.Server;

/// <summary>Parses coturn's --external-ip values: "PUBLIC" or "PUBLIC/PRIVATE" (cloud 1:1 NAT).</summary>
public static class ExternalAddressMap
{
    public static bool TryParse(string value, out IPAddress? publicAddress, out IPAddress? privateAddress)
    {
        publicAddress = null;
        privateAddress = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        string[] parts = value.Split('/', 2);
        if (!TryParseAddress(parts[0], out IPAddress? parsedPublic))
        {
            return false;
        }

        IPAddress? parsedPrivate = null;
        if (parts.Length == 2 && (!TryParseAddress(parts[1], out parsedPrivate) || parsedPrivate.AddressFamily != parsedPublic.AddressFamily))
        {
            return false;
        }

        publicAddress = parsedPublic;
        privateAddress = parsedPrivate;
        return true;
    }

    /// <summary>
    /// An IP address as coturn's inet_pton reads it: IPv4 only as a dotted quad, so "203.0.113.5/24" (a CIDR block,
    /// not a mapping), "12345" or octal "010.0.0.1" are rejected rather than read as 0.0.0.24, 0.0.48.57 or 8.0.0.1.
    /// </summary>
    internal static bool TryParseAddress(string text, [NotNullWhen(true)] out IPAddress? address)
    {
        if (IPAddress.TryParse(text, out address)
            && (address.AddressFamily != AddressFamily.InterNetwork || address.ToString() == text))
        {
            return true;
        }

        address = null;
        return false;
    }
}
