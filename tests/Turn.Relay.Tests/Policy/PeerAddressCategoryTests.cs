using System.Net;
using Turn.Relay.Policy;
using static Turn.Relay.Tests.Policy.PolicyAddresses;

namespace Turn.Relay.Tests.Policy;

/// <summary>
/// RFC 8656 §21.2.2, §21.1.7, §21.4 and checklist items 97/98: what each address is, from the IANA special-purpose
/// registries (RFC 6890), with both edges of every range, and that the default policy relays to public ones only.
/// </summary>
public class PeerAddressCategoryTests
{
    public static TheoryData<string, PeerAddressCategory> Categories => new()
    {
        // Unspecified: 0.0.0.0/8 "this network" (RFC 1122 §3.2.1.3), :: (RFC 4291 §2.5.2); CVE-2020-26262.
        { "0.0.0.0", PeerAddressCategory.Unspecified },
        { "0.0.0.1", PeerAddressCategory.Unspecified },
        { "0.1.2.3", PeerAddressCategory.Unspecified },
        { "0.255.255.255", PeerAddressCategory.Unspecified },
        { "::", PeerAddressCategory.Unspecified },

        // Loopback: 127.0.0.0/8, ::1.
        { "127.0.0.0", PeerAddressCategory.Loopback },
        { "127.0.0.1", PeerAddressCategory.Loopback },
        { "127.1.2.3", PeerAddressCategory.Loopback },
        { "127.255.255.255", PeerAddressCategory.Loopback },
        { "::1", PeerAddressCategory.Loopback },

        // Link local: 169.254.0.0/16 (RFC 3927), fe80::/10 (RFC 4291 §2.5.6).
        { "169.254.0.0", PeerAddressCategory.LinkLocal },
        { "169.254.0.1", PeerAddressCategory.LinkLocal },
        { "169.254.169.253", PeerAddressCategory.LinkLocal },
        { "169.254.169.255", PeerAddressCategory.LinkLocal },
        { "169.254.170.2", PeerAddressCategory.LinkLocal },
        { "169.254.255.255", PeerAddressCategory.LinkLocal },
        { "fe80::", PeerAddressCategory.LinkLocal },
        { "fe80::1", PeerAddressCategory.LinkLocal },
        { "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.LinkLocal },

        // Cloud metadata services.
        { "169.254.169.254", PeerAddressCategory.CloudMetadata },
        { "fd00:ec2::254", PeerAddressCategory.CloudMetadata },
        { "100.100.100.200", PeerAddressCategory.CloudMetadata },
        { "168.63.129.16", PeerAddressCategory.CloudMetadata },

        // Multicast: 224.0.0.0/4 (RFC 5771), ff00::/8 (RFC 4291 §2.7).
        { "224.0.0.0", PeerAddressCategory.Multicast },
        { "224.0.0.1", PeerAddressCategory.Multicast },
        { "239.255.255.250", PeerAddressCategory.Multicast },
        { "239.255.255.255", PeerAddressCategory.Multicast },
        { "ff00::", PeerAddressCategory.Multicast },
        { "ff02::1", PeerAddressCategory.Multicast },
        { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Multicast },

        // Reserved: 240.0.0.0/4 and the limited broadcast, 192.0.0.0/24, 2001::/23, IPv6 outside 2000::/3.
        { "240.0.0.0", PeerAddressCategory.Reserved },
        { "250.1.2.3", PeerAddressCategory.Reserved },
        { "255.255.255.254", PeerAddressCategory.Reserved },
        { "255.255.255.255", PeerAddressCategory.Reserved },
        { "192.0.0.0", PeerAddressCategory.Reserved },
        { "192.0.0.10", PeerAddressCategory.Reserved },
        { "192.0.0.170", PeerAddressCategory.Reserved },
        { "192.0.0.255", PeerAddressCategory.Reserved },
        { "2001:1::1", PeerAddressCategory.Reserved },
        { "2001:1::2", PeerAddressCategory.Reserved },
        { "2001:3::1", PeerAddressCategory.Reserved },
        { "2001:20::1", PeerAddressCategory.Reserved },
        { "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Reserved },
        { "::1:0:0:0", PeerAddressCategory.Reserved },
        { "::2:0:0", PeerAddressCategory.Reserved },
        { "100::1", PeerAddressCategory.Reserved },
        { "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Reserved },
        { "4000::", PeerAddressCategory.Reserved },
        { "5f00::1", PeerAddressCategory.Reserved },
        { "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Reserved },
        { "fe00::1", PeerAddressCategory.Reserved },
        { "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Reserved },

        // Tunnels: Teredo 2001::/32, 6to4 2002::/16, 6to4 relay anycast 192.88.99.0/24 (RFC 8656 §21.4).
        { "2001::", PeerAddressCategory.Tunneled },
        { "2001:0:4136:e378:8000:63bf:3fff:fdd2", PeerAddressCategory.Tunneled },
        { "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Tunneled },
        { "2002::", PeerAddressCategory.Tunneled },
        { "2002:c000:204::1", PeerAddressCategory.Tunneled },
        { "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Tunneled },
        { "192.88.99.0", PeerAddressCategory.Tunneled },
        { "192.88.99.1", PeerAddressCategory.Tunneled },
        { "192.88.99.255", PeerAddressCategory.Tunneled },

        // Private: RFC 1918, fc00::/7 (RFC 4193), fec0::/10 (RFC 3879).
        { "10.0.0.0", PeerAddressCategory.Private },
        { "10.255.255.255", PeerAddressCategory.Private },
        { "172.16.0.0", PeerAddressCategory.Private },
        { "172.20.1.1", PeerAddressCategory.Private },
        { "172.31.255.255", PeerAddressCategory.Private },
        { "192.168.0.0", PeerAddressCategory.Private },
        { "192.168.1.1", PeerAddressCategory.Private },
        { "192.168.255.255", PeerAddressCategory.Private },
        { "fc00::", PeerAddressCategory.Private },
        { "fd12:3456:789a:1::1", PeerAddressCategory.Private },
        { "fd00:ec2::253", PeerAddressCategory.Private },
        { "fd00:ec2::255", PeerAddressCategory.Private },
        { "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Private },
        { "fec0::", PeerAddressCategory.Private },
        { "fec0::1", PeerAddressCategory.Private },
        { "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Private },

        // Carrier-grade NAT: 100.64.0.0/10 (RFC 6598).
        { "100.64.0.0", PeerAddressCategory.CarrierGradeNat },
        { "100.100.100.199", PeerAddressCategory.CarrierGradeNat },
        { "100.100.100.201", PeerAddressCategory.CarrierGradeNat },
        { "100.127.255.255", PeerAddressCategory.CarrierGradeNat },

        // Benchmarking: 198.18.0.0/15 (RFC 2544), 2001:2::/48 (RFC 5180).
        { "198.18.0.0", PeerAddressCategory.Benchmarking },
        { "198.19.255.255", PeerAddressCategory.Benchmarking },
        { "2001:2::", PeerAddressCategory.Benchmarking },
        { "2001:2:0:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Benchmarking },

        // Documentation: RFC 5737, RFC 3849, RFC 9637.
        { "192.0.2.0", PeerAddressCategory.Documentation },
        { "192.0.2.255", PeerAddressCategory.Documentation },
        { "198.51.100.0", PeerAddressCategory.Documentation },
        { "198.51.100.255", PeerAddressCategory.Documentation },
        { "203.0.113.0", PeerAddressCategory.Documentation },
        { "203.0.113.255", PeerAddressCategory.Documentation },
        { "2001:db8::", PeerAddressCategory.Documentation },
        { "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Documentation },
        { "3fff::", PeerAddressCategory.Documentation },
        { "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Documentation },

        // Public: just outside every range above, and ordinary addresses.
        { "1.1.1.1", PeerAddressCategory.Public },
        { "8.8.8.8", PeerAddressCategory.Public },
        { "1.0.0.0", PeerAddressCategory.Public },
        { "9.255.255.255", PeerAddressCategory.Public },
        { "11.0.0.0", PeerAddressCategory.Public },
        { "100.63.255.255", PeerAddressCategory.Public },
        { "100.128.0.0", PeerAddressCategory.Public },
        { "126.255.255.255", PeerAddressCategory.Public },
        { "128.0.0.0", PeerAddressCategory.Public },
        { "168.63.129.15", PeerAddressCategory.Public },
        { "168.63.129.17", PeerAddressCategory.Public },
        { "169.253.255.255", PeerAddressCategory.Public },
        { "169.255.0.0", PeerAddressCategory.Public },
        { "172.15.255.255", PeerAddressCategory.Public },
        { "172.32.0.0", PeerAddressCategory.Public },
        { "191.255.255.255", PeerAddressCategory.Public },
        { "192.0.1.0", PeerAddressCategory.Public },
        { "192.0.3.0", PeerAddressCategory.Public },
        { "192.88.98.255", PeerAddressCategory.Public },
        { "192.88.100.0", PeerAddressCategory.Public },
        { "192.167.255.255", PeerAddressCategory.Public },
        { "192.169.0.0", PeerAddressCategory.Public },
        { "198.17.255.255", PeerAddressCategory.Public },
        { "198.20.0.0", PeerAddressCategory.Public },
        { "198.51.99.255", PeerAddressCategory.Public },
        { "198.51.101.0", PeerAddressCategory.Public },
        { "203.0.112.255", PeerAddressCategory.Public },
        { "203.0.114.0", PeerAddressCategory.Public },
        { "223.255.255.255", PeerAddressCategory.Public },
        { "2000::", PeerAddressCategory.Public },
        { "2001:200::", PeerAddressCategory.Public },
        { "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Public },
        { "2001:db9::", PeerAddressCategory.Public },
        { "2001:4860:4860::8888", PeerAddressCategory.Public },
        { "2003::1", PeerAddressCategory.Public },
        { "2606:4700:4700::1111", PeerAddressCategory.Public },
        { "2a00:1450:4001:80b::200e", PeerAddressCategory.Public },
        { "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PeerAddressCategory.Public },
        { "3fff:1000::", PeerAddressCategory.Public },
    };

    /// <summary>RFC 8656 §21.2.2; checklist 98: every special-purpose range, both edges.</summary>
    [Theory]
    [MemberData(nameof(Categories))]
    public void Rfc6890_special_purpose_ranges_are_classified(string address, PeerAddressCategory expected)
    {
        Assert.Equal(expected, PeerAddressPolicy.Default.Classify(Peer(address)));
        Assert.Equal(expected, PeerAddressPolicy.Default.Classify(IPAddress.Parse(address)));
    }

    /// <summary>Checklist 98: by default only public unicast peers are relayed to.</summary>
    [Theory]
    [MemberData(nameof(Categories))]
    public void Rfc8656_S21_2_2_default_policy_relays_to_public_addresses_only(string address, PeerAddressCategory category)
    {
        bool expected = category == PeerAddressCategory.Public;
        Assert.Equal(expected, PeerAddressPolicy.Default.IsAllowed(Peer(address)));
        Assert.Equal(expected, PeerAddressPolicy.Default.IsAllowed(IPAddress.Parse(address)));
    }

    /// <summary>The default TransportAddress carries no address: nothing to relay to.</summary>
    [Fact]
    public void Family_less_address_is_unspecified_and_denied()
    {
        Assert.Equal(PeerAddressCategory.Unspecified, PeerAddressPolicy.Default.Classify(default(Turn.Stun.TransportAddress)));
        Assert.False(PeerAddressPolicy.Default.IsAllowed(default(Turn.Stun.TransportAddress)));
    }

    /// <summary>The defaults of each category, as documented on PeerAddressPolicy.</summary>
    [Fact]
    public void Category_defaults_deny_everything_but_public()
    {
        foreach (PeerAddressCategory category in Enum.GetValues<PeerAddressCategory>())
        {
            Assert.Equal(category == PeerAddressCategory.Public, PeerAddressPolicy.Default.IsAllowedByDefault(category));
        }

        var open = new PeerAddressPolicy(new PeerAddressPolicyOptions { AllowLoopbackPeers = true, AllowPrivatePeers = true });
        foreach (PeerAddressCategory category in Enum.GetValues<PeerAddressCategory>())
        {
            bool expected = category is PeerAddressCategory.Public or PeerAddressCategory.Loopback or PeerAddressCategory.Private;
            Assert.Equal(expected, open.IsAllowedByDefault(category));
        }
    }
}
