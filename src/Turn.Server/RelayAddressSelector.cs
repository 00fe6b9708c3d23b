using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Turn.Server;

/// <summary>
/// Chooses the addresses relay sockets bind to, one per family at most. Configured relay IPs win. Otherwise IPv4: the
/// first concrete IPv4 listening address; else (listening on the wildcard) the host's first non-loopback IPv4 address
/// that is up; else 127.0.0.1. IPv6: the first concrete IPv6 listening address; else, when listening on the IPv6
/// wildcard (the default), the host's first global unicast IPv6 address that is up, if it has one. A wildcard can never be
/// a relayed address: clients must be told where to send.
/// </summary>
internal static class RelayAddressSelector
{
    public static IReadOnlyList<IPAddress> Select(TurnServerOptions options)
    {
        if (options.RelayIps.Count > 0)
        {
            return [.. options.RelayIps.Select(IPAddress.Parse)];
        }

        IPAddress[] listening = options.ListeningIps.Count == 0
            ? [IPAddress.Any, IPAddress.IPv6Any]
            : [.. options.ListeningIps.Select(IPAddress.Parse)];
        var chosen = new List<IPAddress>
        {
            listening.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !a.Equals(IPAddress.Any))
                ?? HostAddress(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
                ?? IPAddress.Loopback,
        };
        IPAddress? ipv6 = listening.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6 && !a.Equals(IPAddress.IPv6Any));
        if (ipv6 is null && listening.Contains(IPAddress.IPv6Any))
        {
            ipv6 = HostAddress(IsGlobalIpv6);
        }

        if (ipv6 is not null)
        {
            chosen.Add(ipv6);
        }

        return chosen;
    }

    /// <summary>2000::/3 (RFC 4291 §2.4 global unicast), which excludes loopback, link-local, unique local and mapped forms.</summary>
    private static bool IsGlobalIpv6(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        return (bytes[0] & 0xE0) == 0x20;
    }

    private static IPAddress? HostAddress(Func<IPAddress, bool> wanted)
    {
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
            {
                continue;
            }

            foreach (UnicastIPAddressInformation unicast in nic.GetIPProperties().UnicastAddresses)
            {
                if (wanted(unicast.Address))
                {
                    return unicast.Address;
                }
            }
        }

        return null;
    }
}
