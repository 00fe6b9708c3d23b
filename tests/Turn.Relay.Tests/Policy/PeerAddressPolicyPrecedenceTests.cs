using System.Net;
using Turn.Relay.Policy;
using static Turn.Relay.Tests.Policy.PolicyAddresses;

namespace Turn.Relay.Tests.Policy;

/// <summary>
/// RFC 8656 §21.2.2 (checklist 93, 98, 102, 144): the operator's lists and flags against the category defaults.
/// Precedence: denied range, then allowed range (a single-address entry for server-own and cloud metadata), then the
/// category default.
/// </summary>
public class PeerAddressPolicyPrecedenceTests
{
    private static PeerAddressPolicy Policy(PeerAddressPolicyOptions options) => new(options);

    [Fact]
    public void Rfc8656_S21_2_2_denied_range_wins_over_the_public_default()
    {
        var policy = Policy(new() { DeniedPeerRanges = ["8.8.8.0/24", "2606:4700::/32"] });
        Assert.False(policy.IsAllowed(Peer("8.8.8.8")));
        Assert.False(policy.IsAllowed(Peer("8.8.8.255")));
        Assert.True(policy.IsAllowed(Peer("8.8.9.0")));
        Assert.False(policy.IsAllowed(Peer("2606:4700:4700::1111")));
        Assert.True(policy.IsAllowed(Peer("2606:4701::1")));
        Assert.Equal(PeerAddressCategory.Public, policy.Classify(Peer("8.8.8.8")));
    }

    [Fact]
    public void Rfc8656_S21_2_2_allowed_range_wins_over_the_private_default()
    {
        var policy = Policy(new() { AllowedPeerRanges = ["10.0.0.0/8", "fd12:3456::/32"] });
        Assert.True(policy.IsAllowed(Peer("10.0.0.0")));
        Assert.True(policy.IsAllowed(Peer("10.255.255.255")));
        Assert.True(policy.IsAllowed(Peer("fd12:3456::1")));
        Assert.False(policy.IsAllowed(Peer("192.168.1.1")));
        Assert.False(policy.IsAllowed(Peer("fd12:3457::1")));
        Assert.True(policy.IsAllowed(Peer("8.8.8.8")));
    }

    [Theory]
    [InlineData("100.64.0.0/10", "100.64.0.1")]
    [InlineData("198.18.0.0/15", "198.19.1.1")]
    [InlineData("2001:2::/48", "2001:2::1")]
    [InlineData("192.0.2.0/24", "192.0.2.10")]
    [InlineData("2001:db8::/32", "2001:db8::10")]
    public void Rfc8656_S21_2_2_configurable_categories_are_opened_by_an_allowed_range(string range, string address)
    {
        Assert.False(PeerAddressPolicy.Default.IsAllowed(Peer(address)));
        Assert.True(Policy(new() { AllowedPeerRanges = [range] }).IsAllowed(Peer(address)));
    }

    /// <summary>"An explicit allow wins over the defaults", the always-denied categories included.</summary>
    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", "127.0.0.2")]
    [InlineData("::1", "::1", "::2")]
    [InlineData("169.254.0.0/16", "169.254.1.1", "169.254.169.254")]
    [InlineData("224.0.0.0/4", "239.1.1.1", "240.0.0.1")]
    [InlineData("0.0.0.0/8", "0.0.0.0", "127.0.0.1")]
    [InlineData("2002::/16", "2002:808:808::1", "2001::1")]
    [InlineData("192.0.0.0/24", "192.0.0.10", "192.0.2.1")]
    public void Explicit_allow_wins_over_always_denied_categories(string range, string allowed, string stillDenied)
    {
        var policy = Policy(new() { AllowedPeerRanges = [range] });
        Assert.False(PeerAddressPolicy.Default.IsAllowed(Peer(allowed)));
        Assert.True(policy.IsAllowed(Peer(allowed)));
        Assert.False(policy.IsAllowed(Peer(stillDenied)));
    }

    /// <summary>An address in both lists is denied: the safer reading of a contradictory configuration.</summary>
    [Fact]
    public void Rfc8656_S21_2_2_denied_range_wins_over_allowed_range()
    {
        var policy = Policy(new()
        {
            AllowedPeerRanges = ["10.0.0.0/8", "10.0.0.7", "127.0.0.1"],
            DeniedPeerRanges = ["10.0.0.5-10.0.0.7", "127.0.0.1"],
        });
        Assert.True(policy.IsAllowed(Peer("10.0.0.4")));
        Assert.False(policy.IsAllowed(Peer("10.0.0.5")));
        Assert.False(policy.IsAllowed(Peer("10.0.0.7")));
        Assert.True(policy.IsAllowed(Peer("10.0.0.8")));
        Assert.False(policy.IsAllowed(Peer("127.0.0.1")));
    }

    [Fact]
    public void Rfc8656_S21_2_2_denied_range_wins_over_the_flags()
    {
        var policy = Policy(new()
        {
            AllowLoopbackPeers = true,
            AllowPrivatePeers = true,
            DeniedPeerRanges = ["127.0.0.1", "192.168.0.0/16"],
        });
        Assert.False(policy.IsAllowed(Peer("127.0.0.1")));
        Assert.False(policy.IsAllowed(Peer("::ffff:127.0.0.1")));
        Assert.True(policy.IsAllowed(Peer("127.0.0.2")));
        Assert.False(policy.IsAllowed(Peer("192.168.1.1")));
        Assert.True(policy.IsAllowed(Peer("10.1.1.1")));
    }

    /// <summary>coturn --allow-loopback-peers opens loopback and nothing else; 0.0.0.0 and :: stay denied (CVE-2020-26262).</summary>
    [Fact]
    public void Allow_loopback_peers_opens_loopback_only()
    {
        var policy = Policy(new() { AllowLoopbackPeers = true });
        Assert.True(policy.AllowLoopbackPeers);
        Assert.True(policy.IsAllowed(Peer("127.0.0.1")));
        Assert.True(policy.IsAllowed(Peer("127.255.255.255")));
        Assert.True(policy.IsAllowed(Peer("::1")));
        Assert.True(policy.IsAllowed(IPAddress.Loopback));
        Assert.False(policy.IsAllowed(Peer("0.0.0.0")));
        Assert.False(policy.IsAllowed(Peer("::")));
        Assert.False(policy.IsAllowed(Peer("::ffff:0.0.0.0")));
        Assert.False(policy.IsAllowed(Peer("169.254.169.254")));
        Assert.False(policy.IsAllowed(Peer("10.0.0.1")));
        Assert.False(policy.IsAllowed(Peer("2002:7f00:1::1")));
    }

    [Fact]
    public void Allow_private_peers_opens_rfc1918_and_unique_local_but_not_cloud_metadata()
    {
        var policy = Policy(new() { AllowPrivatePeers = true });
        Assert.True(policy.IsAllowed(Peer("10.1.2.3")));
        Assert.True(policy.IsAllowed(Peer("172.16.0.1")));
        Assert.True(policy.IsAllowed(Peer("192.168.1.1")));
        Assert.True(policy.IsAllowed(Peer("::ffff:192.168.1.1")));
        Assert.True(policy.IsAllowed(Peer("fd12:3456::1")));
        Assert.True(policy.IsAllowed(Peer("fec0::1")));
        Assert.False(policy.IsAllowed(Peer("fd00:ec2::254")));
        Assert.False(policy.IsAllowed(Peer("100.64.0.1")));
        Assert.False(policy.IsAllowed(Peer("127.0.0.1")));
    }

    /// <summary>Cloud metadata is unlocked only by naming it: a broad range that contains it does not.</summary>
    [Theory]
    [InlineData("169.254.0.0/16", "169.254.169.254")]
    [InlineData("100.64.0.0/10", "100.100.100.200")]
    [InlineData("fc00::/7", "fd00:ec2::254")]
    [InlineData("0.0.0.0/0", "168.63.129.16")]
    [InlineData("0.0.0.0/0", "::ffff:169.254.169.254")]
    public void Cloud_metadata_is_not_unlocked_by_a_broad_allowed_range(string range, string metadata)
    {
        Assert.False(Policy(new() { AllowedPeerRanges = [range] }).IsAllowed(Peer(metadata)));
        string single = IPAddress.Parse(metadata) is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4().ToString() : metadata;
        Assert.True(Policy(new() { AllowedPeerRanges = [range, single] }).IsAllowed(Peer(metadata)));
    }

    private static readonly IPAddress ServerV4 = IPAddress.Parse("11.22.33.44");
    private static readonly IPAddress ServerV6 = IPAddress.Parse("2a01:4f8::1");

    private static PeerAddressPolicyOptions ServerOptions() => new()
    {
        ServerAddresses = [ServerV4, ServerV6],
        RelayMinPort = 49152,
        RelayMaxPort = 65535,
    };

    /// <summary>RFC 8656 §21.1.7 (checklist 134): the server's own listening addresses are never a peer.</summary>
    [Theory]
    [InlineData("11.22.33.44", 3478)]
    [InlineData("11.22.33.44", 5349)]
    [InlineData("11.22.33.44", 22)]
    [InlineData("11.22.33.44", 49151)]
    [InlineData("2a01:4f8::1", 3478)]
    [InlineData("::ffff:11.22.33.44", 3478)]
    [InlineData("64:ff9b::b16:212c", 3478)]
    public void Rfc8656_S21_1_7_server_own_address_outside_the_relay_range_is_denied(string address, int port)
    {
        var policy = Policy(ServerOptions());
        Assert.Equal(PeerAddressCategory.ServerOwn, policy.Classify(Peer(address, port)));
        Assert.False(policy.IsAllowed(Peer(address, port)));
    }

    /// <summary>
    /// Another allocation's relayed address on this server (an ICE relay-relay pair between two of its clients) is
    /// judged by its address, not as the server's own.
    /// </summary>
    [Theory]
    [InlineData("11.22.33.44", 49152)]
    [InlineData("11.22.33.44", 65535)]
    [InlineData("2a01:4f8::1", 50000)]
    public void Rfc8656_S21_1_7_relayed_address_of_another_allocation_is_allowed(string address, int port)
    {
        var policy = Policy(ServerOptions());
        Assert.Equal(PeerAddressCategory.Public, policy.Classify(Peer(address, port)));
        Assert.True(policy.IsAllowed(Peer(address, port)));
    }

    [Fact]
    public void Server_own_address_without_a_port_is_denied_whole()
    {
        var policy = Policy(ServerOptions());
        Assert.Equal(PeerAddressCategory.ServerOwn, policy.Classify(ServerV4));
        Assert.False(policy.IsAllowed(ServerV4));
        Assert.False(policy.IsAllowed(ServerV6));

        var noRelayRange = Policy(new() { ServerAddresses = [ServerV4] });
        Assert.False(noRelayRange.IsAllowed(Peer("11.22.33.44", 50000)));
        Assert.True(noRelayRange.IsAllowed(Peer("11.22.33.45", 3478)));
    }

    [Fact]
    public void Server_own_address_is_unlocked_only_by_naming_it()
    {
        var broad = ServerOptions();
        broad.AllowedPeerRanges.Add("11.0.0.0/8");
        Assert.False(Policy(broad).IsAllowed(Peer("11.22.33.44", 3478)));

        var exact = ServerOptions();
        exact.AllowedPeerRanges.Add("11.22.33.44/32");
        Assert.True(Policy(exact).IsAllowed(Peer("11.22.33.44", 3478)));
        Assert.True(Policy(exact).IsAllowed(Peer("::ffff:11.22.33.44", 3478)));
    }

    [Fact]
    public void Server_address_given_in_ipv4_mapped_form_is_its_ipv4_address()
    {
        var policy = Policy(new() { ServerAddresses = [IPAddress.Parse("::ffff:11.22.33.44")] });
        Assert.Equal(PeerAddressCategory.ServerOwn, policy.Classify(Peer("11.22.33.44", 3478)));
    }

    [Fact]
    public void Private_server_address_stays_denied_when_private_peers_are_allowed()
    {
        var policy = Policy(new() { AllowPrivatePeers = true, ServerAddresses = [IPAddress.Parse("10.0.0.5")] });
        Assert.False(policy.IsAllowed(Peer("10.0.0.5", 3478)));
        Assert.True(policy.IsAllowed(Peer("10.0.0.6", 3478)));
    }

    /// <summary>A server on loopback (tests, development) follows --allow-loopback-peers, as in coturn.</summary>
    [Fact]
    public void Loopback_server_address_follows_allow_loopback_peers()
    {
        var options = new PeerAddressPolicyOptions { AllowLoopbackPeers = true, ServerAddresses = [IPAddress.Loopback, IPAddress.IPv6Loopback] };
        var policy = Policy(options);
        Assert.Equal(PeerAddressCategory.Loopback, policy.Classify(Peer("127.0.0.1", 3478)));
        Assert.True(policy.IsAllowed(Peer("127.0.0.1", 3478)));
        Assert.True(policy.IsAllowed(Peer("::1", 40000)));
        Assert.False(Policy(new() { ServerAddresses = [IPAddress.Loopback] }).IsAllowed(Peer("127.0.0.1", 3478)));
    }

    [Fact]
    public void Policy_is_a_snapshot_of_its_options()
    {
        var options = new PeerAddressPolicyOptions { AllowedPeerRanges = ["10.0.0.0/8"] };
        var policy = Policy(options);
        options.AllowedPeerRanges.Clear();
        options.DeniedPeerRanges.Add("8.8.8.8");
        options.AllowLoopbackPeers = true;
        Assert.True(policy.IsAllowed(Peer("10.0.0.1")));
        Assert.True(policy.IsAllowed(Peer("8.8.8.8")));
        Assert.False(policy.IsAllowed(Peer("127.0.0.1")));
        Assert.Equal([IPAddressRange.Parse("10.0.0.0/8")], policy.AllowedPeerRanges);
    }
}
