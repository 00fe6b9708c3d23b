using System.Net;
using Turn.Relay.Policy;
using static Turn.Relay.Tests.Policy.PolicyAddresses;

namespace Turn.Relay.Tests.Policy;

/// <summary>
/// Checklist 98: every IPv6 form that embeds or tunnels to an IPv4 address is judged by that address (translation
/// forms) or denied outright (tunnels, RFC 8656 §21.4, checklist 97), so ::ffff:127.0.0.1 and friends are no way round
/// the loopback rule (coturn CVE-2020-26262 and follow-ups).
/// </summary>
public class EmbeddedIPv4Tests
{
    public static TheoryData<string, PeerAddressCategory> TranslationForms => new()
    {
        // IPv4-mapped ::ffff:0:0/96 (RFC 4291 §2.5.5.2).
        { "::ffff:127.0.0.1", PeerAddressCategory.Loopback },
        { "::ffff:0.0.0.0", PeerAddressCategory.Unspecified },
        { "::ffff:10.1.2.3", PeerAddressCategory.Private },
        { "::ffff:169.254.169.254", PeerAddressCategory.CloudMetadata },
        { "::ffff:169.254.1.1", PeerAddressCategory.LinkLocal },
        { "::ffff:224.0.0.1", PeerAddressCategory.Multicast },
        { "::ffff:255.255.255.255", PeerAddressCategory.Reserved },
        { "::ffff:100.64.0.1", PeerAddressCategory.CarrierGradeNat },
        { "::ffff:192.0.2.1", PeerAddressCategory.Documentation },
        { "::ffff:8.8.8.8", PeerAddressCategory.Public },

        // IPv4-translated ::ffff:0:0:0/96 (RFC 2765 §2.1); obsolete, so a public IPv4 inside is Reserved.
        { "::ffff:0:127.0.0.1", PeerAddressCategory.Loopback },
        { "::ffff:0:0.0.0.0", PeerAddressCategory.Unspecified },
        { "::ffff:0:a9fe:a9fe", PeerAddressCategory.CloudMetadata },
        { "::ffff:0:192.168.1.1", PeerAddressCategory.Private },
        { "::ffff:0:8.8.8.8", PeerAddressCategory.Reserved },

        // IPv4-compatible ::/96 (RFC 4291 §2.5.5.1, deprecated); obsolete, so a public IPv4 inside is Reserved.
        { "::127.0.0.1", PeerAddressCategory.Loopback },
        { "::0.0.0.2", PeerAddressCategory.Unspecified },
        { "::10.0.0.1", PeerAddressCategory.Private },
        { "::169.254.169.254", PeerAddressCategory.CloudMetadata },
        { "::8.8.8.8", PeerAddressCategory.Reserved },

        // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052 §2.1), IPv4 in the last 32 bits.
        { "64:ff9b::7f00:1", PeerAddressCategory.Loopback },
        { "64:ff9b::", PeerAddressCategory.Unspecified },
        { "64:ff9b::a9fe:a9fe", PeerAddressCategory.CloudMetadata },
        { "64:ff9b::a00:1", PeerAddressCategory.Private },
        { "64:ff9b::c0a8:101", PeerAddressCategory.Private },
        { "64:ff9b::6440:1", PeerAddressCategory.CarrierGradeNat },
        { "64:ff9b::c000:201", PeerAddressCategory.Documentation },
        { "64:ff9b::808:808", PeerAddressCategory.Public },
        { "64:ff9b::ffff:ffff", PeerAddressCategory.Reserved },
        { "64:ff9b::1:7f00:1", PeerAddressCategory.Reserved }, // not in the /96: IETF reserved space

        // Local-use NAT64 64:ff9b:1::/48 (RFC 8215), IPv4 taken from the last 32 bits (a /96 inside the /48).
        { "64:ff9b:1::7f00:1", PeerAddressCategory.Loopback },
        { "64:ff9b:1:ffff:ffff:ffff:7f00:1", PeerAddressCategory.Loopback },
        { "64:ff9b:1:abcd::a9fe:a9fe", PeerAddressCategory.CloudMetadata },
        { "64:ff9b:1::a00:1", PeerAddressCategory.Private },
        { "64:ff9b:1::808:808", PeerAddressCategory.Public },
        { "64:ff9b:0:ffff:ffff:ffff:7f00:1", PeerAddressCategory.Reserved }, // just below the /48
        { "64:ff9b:2::7f00:1", PeerAddressCategory.Reserved },               // just above the /48
    };

    /// <summary>Checklist 98: translation forms take the category of the IPv4 address they deliver to.</summary>
    [Theory]
    [MemberData(nameof(TranslationForms))]
    public void Checklist98_translation_forms_are_judged_by_the_embedded_ipv4(string address, PeerAddressCategory expected)
    {
        Assert.Equal(expected, PeerAddressPolicy.Default.Classify(Peer(address)));
        Assert.Equal(expected == PeerAddressCategory.Public, PeerAddressPolicy.Default.IsAllowed(Peer(address)));
    }

    public static TheoryData<string> TunnelForms => new()
    {
        // 6to4 2002:V4ADDR::/48 (RFC 3056 §2): loopback, private, metadata and public routers alike.
        "2002:7f00:0001::1",
        "2002:7f00:1:ffff:ffff:ffff:ffff:ffff",
        "2002:0a00:0001::1",
        "2002:a9fe:a9fe::1",
        "2002:0808:0808::1",
        "2002::1",

        // Teredo 2001:0:SERVER:flags:port:~CLIENT (RFC 4380 §4), with the RFC's own example (server 65.54.227.120,
        // client 192.0.2.45), a loopback client, a loopback server and public ends.
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",
        "2001:0:7f00:1:8000:63bf:f7f7:f7f7",
        "2001:0:808:808:0:0:f7f7:f7f7",
    };

    /// <summary>RFC 8656 §21.4 (checklist 97): Teredo and 6to4 are refused whatever they tunnel to.</summary>
    [Theory]
    [MemberData(nameof(TunnelForms))]
    public void Rfc8656_S21_4_teredo_and_6to4_peers_are_denied_by_default(string address)
    {
        var open = new PeerAddressPolicy(new PeerAddressPolicyOptions { AllowLoopbackPeers = true, AllowPrivatePeers = true });
        Assert.Equal(PeerAddressCategory.Tunneled, PeerAddressPolicy.Default.Classify(Peer(address)));
        Assert.False(PeerAddressPolicy.Default.IsAllowed(Peer(address)));
        Assert.False(open.IsAllowed(Peer(address)));
    }

    /// <summary>RFC 8656 §21.4: an operator may still unlock a tunnel prefix, but only with an IPv6 entry.</summary>
    [Fact]
    public void Rfc8656_S21_4_tunnels_are_unlocked_only_by_an_ipv6_allowed_range()
    {
        var byIPv4 = new PeerAddressPolicy(new PeerAddressPolicyOptions { AllowedPeerRanges = ["8.8.8.8", "65.54.227.120"] });
        Assert.False(byIPv4.IsAllowed(Peer("2002:0808:0808::1")));
        Assert.False(byIPv4.IsAllowed(Peer("2001:0:4136:e378:8000:63bf:3fff:fdd2")));

        var byIPv6 = new PeerAddressPolicy(new PeerAddressPolicyOptions { AllowedPeerRanges = ["2002::/16", "2001::/32"] });
        Assert.True(byIPv6.IsAllowed(Peer("2002:0808:0808::1")));
        Assert.True(byIPv6.IsAllowed(Peer("2001:0:4136:e378:8000:63bf:3fff:fdd2")));
    }

    /// <summary>Checklist 98: a denied IPv4 range also denies the IPv6 forms reaching that IPv4 address.</summary>
    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("::ffff:0:8.8.8.8")]
    [InlineData("::8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    [InlineData("64:ff9b:1::808:808")]
    [InlineData("2002:808:808::1")]
    [InlineData("2001:0:808:808::f7f7:f7f7")]   // Teredo server 8.8.8.8
    [InlineData("2001:0:4136:e378::f7f7:f7f7")] // Teredo client 8.8.8.8
    public void Checklist98_denied_ipv4_range_covers_embedded_and_tunneled_forms(string address)
    {
        var policy = new PeerAddressPolicy(new PeerAddressPolicyOptions
        {
            DeniedPeerRanges = ["8.8.8.0/24"],
            AllowedPeerRanges = ["2001::/32", "2002::/16", "::/96", "::ffff:0:0:0/96", "8.8.8.8"],
        });
        Assert.False(policy.IsAllowed(Peer(address)));
        Assert.True(policy.IsAllowed(Peer("8.8.4.4")));
    }

    /// <summary>Checklist 98: an allowed IPv4 range also allows the mapped and NAT64 forms of its addresses.</summary>
    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("::ffff:10.1.2.3")]
    [InlineData("64:ff9b::a01:203")]
    [InlineData("64:ff9b:1::a01:203")]
    public void Checklist98_allowed_ipv4_range_covers_translation_forms(string address)
    {
        var policy = new PeerAddressPolicy(new PeerAddressPolicyOptions { AllowedPeerRanges = ["10.0.0.0/8"] });
        Assert.True(policy.IsAllowed(Peer(address)));
        Assert.False(policy.IsAllowed(Peer("2002:a01:203::1")));
    }

    /// <summary>RFC 8656 §21.2.2 with coturn's --allow-loopback-peers: the mapped and NAT64 forms follow the flag.</summary>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("64:ff9b::7f00:1")]
    public void Allow_loopback_peers_covers_loopback_in_translation_forms(string address)
    {
        var policy = new PeerAddressPolicy(new PeerAddressPolicyOptions { AllowLoopbackPeers = true });
        Assert.True(policy.IsAllowed(Peer(address)));
        Assert.False(PeerAddressPolicy.Default.IsAllowed(Peer(address)));
    }

    /// <summary>
    /// Checklist 98 as a property: over many IPv4 addresses (random, and the edges of every special range), the mapped
    /// and NAT64 forms get the IPv4 address's category and decision; 6to4 is always denied.
    /// </summary>
    [Fact]
    public void Checklist98_embedded_forms_agree_with_their_ipv4_address()
    {
        var random = new Random(8656);
        var open = new PeerAddressPolicy(new PeerAddressPolicyOptions { AllowLoopbackPeers = true, AllowPrivatePeers = true });
        uint[] interesting =
        [
            0x0000_0000, 0x00FF_FFFF, 0x0A00_0000, 0x0AFF_FFFF, 0x6440_0000, 0x647F_FFFF, 0x7F00_0000, 0x7FFF_FFFF,
            0xA9FE_0000, 0xA9FE_A9FE, 0xA9FE_FFFF, 0xAC10_0000, 0xAC1F_FFFF, 0xC000_0000, 0xC000_00FF, 0xC000_0200,
            0xC058_6300, 0xC0A8_0000, 0xC612_0000, 0xC613_FFFF, 0xE000_0000, 0xEFFF_FFFF, 0xF000_0000, 0xFFFF_FFFF,
            0x6464_64C8, 0xA83F_8110,
        ];

        for (int i = 0; i < 20_000; i++)
        {
            uint ipv4 = i < interesting.Length * 3
                ? unchecked(interesting[i / 3] + (uint)(i % 3) - 1u)
                : (uint)random.NextInt64(0, 1L << 32);
            byte[] v4 = [(byte)(ipv4 >> 24), (byte)(ipv4 >> 16), (byte)(ipv4 >> 8), (byte)ipv4];
            var plain = new IPAddress(v4);

            byte[] mapped = new byte[16];
            mapped[10] = 0xFF;
            mapped[11] = 0xFF;
            v4.CopyTo(mapped, 12);

            byte[] nat64 = new byte[16];
            nat64[1] = 0x64;
            nat64[2] = 0xFF;
            nat64[3] = 0x9B;
            v4.CopyTo(nat64, 12);

            byte[] localNat64 = (byte[])nat64.Clone();
            localNat64[5] = 0x01;
            random.NextBytes(localNat64.AsSpan(6, 6));

            byte[] sixToFour = new byte[16];
            sixToFour[0] = 0x20;
            sixToFour[1] = 0x02;
            v4.CopyTo(sixToFour, 2);
            random.NextBytes(sixToFour.AsSpan(6));

            foreach (PeerAddressPolicy policy in new[] { PeerAddressPolicy.Default, open })
            {
                PeerAddressCategory category = policy.Classify(plain);
                bool allowed = policy.IsAllowed(plain);
                foreach (byte[] form in new[] { mapped, nat64, localNat64 })
                {
                    var address = new IPAddress(form);
                    Assert.Equal(category, policy.Classify(address));
                    Assert.Equal(allowed, policy.IsAllowed(address));
                }

                Assert.Equal(PeerAddressCategory.Tunneled, policy.Classify(new IPAddress(sixToFour)));
                Assert.False(policy.IsAllowed(new IPAddress(sixToFour)));
            }
        }
    }
}
