using System.Net;
using Turn.Relay.Policy;
using Turn.Stun;
using static Turn.Relay.Tests.Policy.PolicyAddresses;

namespace Turn.Relay.Tests.Policy;

/// <summary>
/// The policy runs for every Send indication (checklist 102), so it must not allocate (DESIGN.md: no allocation in the
/// relay path).
/// </summary>
public class PeerAddressPolicyAllocationTests
{
    private static readonly string[] Addresses =
    [
        "8.8.8.8", "10.0.0.1", "127.0.0.1", "169.254.169.254", "11.22.33.44", "100.64.1.1", "192.0.2.1", "255.255.255.255",
        "2606:4700:4700::1111", "::1", "::ffff:127.0.0.1", "::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::808:808",
        "2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "fd00:ec2::254", "fe80::1", "ff02::1", "2a01:4f8::1",
    ];

    [Fact]
    public void IsAllowed_and_Classify_allocate_nothing()
    {
        var policy = new PeerAddressPolicy(new PeerAddressPolicyOptions
        {
            AllowedPeerRanges = ["100.64.0.0/10", "2001:db8::/32", "10.0.0.1-10.0.0.9"],
            DeniedPeerRanges = ["8.8.4.0/24", "2606:4700:4700::1112", "203.0.113.0/24"],
            ServerAddresses = [IPAddress.Parse("11.22.33.44"), IPAddress.Parse("2a01:4f8::1")],
            RelayMinPort = 49152,
            RelayMaxPort = 65535,
        });
        TransportAddress[] peers = [.. Addresses.Select(a => Peer(a, 3478)), .. Addresses.Select(a => Peer(a, 50000))];
        IPAddress[] ips = [.. Addresses.Select(IPAddress.Parse)];
        IPAddressRange range = IPAddressRange.Parse("10.0.0.0/8");

        int sink = Run(policy, peers, ips, range, 1_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        sink += Run(policy, peers, ips, range, 20_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.NotEqual(0, sink);
    }

    private static int Run(PeerAddressPolicy policy, TransportAddress[] peers, IPAddress[] ips, IPAddressRange range, int rounds)
    {
        int sink = 0;
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < peers.Length; i++)
            {
                sink += policy.IsAllowed(in peers[i]) ? 1 : 0;
                sink += (int)policy.Classify(in peers[i]);
                sink += range.Contains(in peers[i]) ? 1 : 0;
            }

            for (int i = 0; i < ips.Length; i++)
            {
                sink += policy.IsAllowed(ips[i]) ? 1 : 0;
                sink += (int)policy.Classify(ips[i]);
                sink += range.Contains(ips[i]) ? 1 : 0;
            }
        }

        return sink;
    }
}
