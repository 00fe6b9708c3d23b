using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Turn.Server;

/// <summary>
/// Chooses the address relay sockets bind to: the configured relay IP; else the first concrete IPv4 listening
/// address; else (listening on the wildcard) the host's first non-loopback IPv4 address that is up; else 127.0.0.1.
/// A wildcard can never be a relayed address: clients must be told where to send.
/// </summary>
internal static class RelayAddressSelector
{
    public static IPAddress Select(TurnServerOptions options)
    {
        if (options.RelayIps.Count > 0)
        {
            return IPAddress.Parse(options.RelayIps[0]);
        }

        foreach (string listening in options.ListeningIps)
        {
            IPAddress address = IPAddress.Parse(listening);
            if (address.AddressFamily == AddressFamily.InterNetwork && !address.Equals(IPAddress.Any))
            {
                return address;
            }
        }

        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
            {
                continue;
            }

            foreach (UnicastIPAddressInformation unicast in nic.GetIPProperties().UnicastAddresses)
            {
                if (unicast.Address.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(unicast.Address))
                {
                    return unicast.Address;
                }
            }
        }

        return IPAddress.Loopback;
    }
}
