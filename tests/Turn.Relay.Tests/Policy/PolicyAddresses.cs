using System.Net;
using Turn.Stun;

namespace Turn.Relay.Tests.Policy;

internal static class PolicyAddresses
{
    public static TransportAddress Peer(string ip, int port = 40000) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), port);
}
