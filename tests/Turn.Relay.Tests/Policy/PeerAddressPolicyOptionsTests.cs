using System.Net;
using Turn.Relay.Policy;

namespace Turn.Relay.Tests.Policy;

/// <summary>Options are validated at start, with messages naming the configuration key (DESIGN.md, Configuration).</summary>
public class PeerAddressPolicyOptionsTests
{
    [Fact]
    public void Defaults_deny_loopback_and_private_and_name_no_ranges()
    {
        var options = new PeerAddressPolicyOptions();
        Assert.False(options.AllowLoopbackPeers);
        Assert.False(options.AllowPrivatePeers);
        Assert.Empty(options.AllowedPeerRanges);
        Assert.Empty(options.DeniedPeerRanges);
        Assert.Empty(options.ServerAddresses);
        Assert.Equal(0, options.RelayMinPort);
        Assert.Equal(0, options.RelayMaxPort);
        Assert.Empty(PeerAddressPolicy.Validate(options));
    }

    [Fact]
    public void Bad_entry_is_reported_with_its_configuration_key_and_index()
    {
        var options = new PeerAddressPolicyOptions { AllowedPeerRanges = ["10.0.0.0/8", "1.2.3.4", "10.0.0.0/33"] };
        Assert.False(PeerAddressPolicy.TryCreate(options, out PeerAddressPolicy? policy, out string? error, "Turn"));
        Assert.Null(policy);
        Assert.StartsWith("Turn:AllowedPeerRanges:2 '10.0.0.0/33' is not an IP address, an IP-IP range or a CIDR block", error, StringComparison.Ordinal);
        Assert.Contains("33 is more than 32", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_entry_is_reported()
    {
        var options = new PeerAddressPolicyOptions
        {
            AllowedPeerRanges = ["127.1"],
            DeniedPeerRanges = ["8.8.8.8", "1.2.3.4-::1"],
            ServerAddresses = [IPAddress.Parse("11.22.33.44"), null!],
            RelayMinPort = 60000,
            RelayMaxPort = 50000,
        };
        IReadOnlyList<string> errors = PeerAddressPolicy.Validate(options);
        Assert.Equal(4, errors.Count);
        Assert.StartsWith("AllowedPeerRanges:0 '127.1'", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("DeniedPeerRanges:1 '1.2.3.4-::1'", errors[1], StringComparison.Ordinal);
        Assert.Contains("different address families", errors[1], StringComparison.Ordinal);
        Assert.StartsWith("ServerAddresses:1 ", errors[2], StringComparison.Ordinal);
        Assert.StartsWith("RelayMinPort=60000 and RelayMaxPort=50000", errors[3], StringComparison.Ordinal);

        var thrown = Assert.Throws<ArgumentException>(() => new PeerAddressPolicy(options));
        Assert.Contains("AllowedPeerRanges:0 '127.1'", thrown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0, true)]
    [InlineData(49152, 65535, true)]
    [InlineData(1, 1, true)]
    [InlineData(0, 65535, false)]
    [InlineData(49152, 0, false)]
    [InlineData(49152, 65536, false)]
    [InlineData(-1, 10, false)]
    [InlineData(50001, 50000, false)]
    public void Relay_port_range_is_both_zero_or_an_ordered_port_range(int min, int max, bool valid)
    {
        var options = new PeerAddressPolicyOptions { RelayMinPort = min, RelayMaxPort = max };
        Assert.Equal(valid, PeerAddressPolicy.Validate(options).Count == 0);
        Assert.Equal(valid, PeerAddressPolicy.TryCreate(options, out _, out _));
    }

    [Fact]
    public void Valid_options_build_a_policy_exposing_its_ranges()
    {
        var options = new PeerAddressPolicyOptions
        {
            AllowLoopbackPeers = true,
            AllowPrivatePeers = true,
            AllowedPeerRanges = ["100.64.0.0/10", " 2001:db8::1-2001:db8::ff "],
            DeniedPeerRanges = ["10.9.0.0/16"],
        };
        Assert.True(PeerAddressPolicy.TryCreate(options, out PeerAddressPolicy? policy, out string? error));
        Assert.Null(error);
        Assert.True(policy.AllowLoopbackPeers);
        Assert.True(policy.AllowPrivatePeers);
        Assert.Equal(["100.64.0.0/10", "2001:db8::1-2001:db8::ff"], policy.AllowedPeerRanges.Select(r => r.ToString()));
        Assert.Equal(["10.9.0.0/16"], policy.DeniedPeerRanges.Select(r => r.ToString()));
    }
}
