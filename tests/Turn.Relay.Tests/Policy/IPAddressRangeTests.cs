using System.Net;
using System.Net.Sockets;
using Turn.Relay.Policy;
using static Turn.Relay.Tests.Policy.PolicyAddresses;

namespace Turn.Relay.Tests.Policy;

/// <summary>
/// The "IP", "IP-IP" (coturn --allowed-peer-ip / --denied-peer-ip) and CIDR forms of the peer policy lists. Parsing
/// is strict because these strings decide what a relay may reach.
/// </summary>
public class IPAddressRangeTests
{
    [Theory]
    [InlineData("1.2.3.4", "1.2.3.4", "1.2.3.4", "1.2.3.3", "1.2.3.5")]
    [InlineData("1.2.3.4-1.2.3.9", "1.2.3.4", "1.2.3.9", "1.2.3.3", "1.2.3.10")]
    [InlineData("10.0.0.0/8", "10.0.0.0", "10.255.255.255", "9.255.255.255", "11.0.0.0")]
    [InlineData("172.16.0.0/12", "172.16.0.0", "172.31.255.255", "172.15.255.255", "172.32.0.0")]
    [InlineData("1.2.3.4/32", "1.2.3.4", "1.2.3.4", "1.2.3.3", "1.2.3.5")]
    [InlineData("0.0.0.0/0", "0.0.0.0", "255.255.255.255", "::", "::ffff:1.2.3.4")]
    [InlineData(" 10.0.0.1 - 10.0.0.9 ", "10.0.0.1", "10.0.0.9", "10.0.0.0", "10.0.0.10")]
    [InlineData("::1", "::1", "::1", "::", "::2")]
    [InlineData("fc00::/7", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::")]
    [InlineData("2001:db8::1-2001:db8::ff", "2001:db8::1", "2001:db8::ff", "2001:db8::", "2001:db8::100")]
    [InlineData("::ffff:10.0.0.0/104", "::ffff:10.0.0.0", "::ffff:10.255.255.255", "10.0.0.1", "::ffff:11.0.0.0")]
    [InlineData("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0.0.0.0", "255.255.255.255")]
    public void Valid_ranges_contain_both_edges_and_nothing_outside(string text, string first, string last, string below, string above)
    {
        Assert.True(IPAddressRange.TryParse(text, out IPAddressRange range));
        Assert.Equal(IPAddress.Parse(first), range.FirstAddress);
        Assert.Equal(IPAddress.Parse(last), range.LastAddress);
        Assert.Equal(range.FirstAddress.AddressFamily, range.Family);
        Assert.True(range.Contains(Peer(first)));
        Assert.True(range.Contains(Peer(last)));
        Assert.True(range.Contains(IPAddress.Parse(last)));
        Assert.False(range.Contains(Peer(below)));
        Assert.False(range.Contains(Peer(above)));
        Assert.False(range.Contains(default(Turn.Stun.TransportAddress)));
        Assert.Equal(first == last, range.IsSingleAddress);
        Assert.Equal(range, IPAddressRange.Parse(range.ToString()));
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0/8")]
    [InlineData("1.2.3.4-1.2.3.9", "1.2.3.4-1.2.3.9")]
    [InlineData("1.2.3.4/32", "1.2.3.4")]
    [InlineData("10.0.0.0-10.0.0.255", "10.0.0.0/24")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    [InlineData("::/0", "::/0")]
    [InlineData("fc00::/7", "fc00::/7")]
    [InlineData("2001:db8::1-2001:db8::ff", "2001:db8::1-2001:db8::ff")]
    public void Ranges_print_in_their_shortest_form(string text, string expected) =>
        Assert.Equal(expected, IPAddressRange.Parse(text).ToString());

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("10.0.0.0/33")]
    [InlineData("::/129")]
    [InlineData("10.0.0.1/8")]                 // bits set after the prefix
    [InlineData("fc00::1/7")]
    [InlineData("1.2.3.4-::1")]                // mixed families
    [InlineData("::ffff:1.2.3.4-1.2.3.5")]
    [InlineData("1.2.3.9-1.2.3.4")]            // reversed
    [InlineData("10")]                         // inet_aton shorthands IPAddress.Parse accepts
    [InlineData("127.1")]
    [InlineData("0x7f.0.0.1")]
    [InlineData("2130706433")]
    [InlineData("010.0.0.1")]                  // leading zero: octal to some parsers
    [InlineData("256.0.0.1")]
    [InlineData("1.2.3.4.5")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.")]
    [InlineData(".1.2.3")]
    [InlineData("1..2.3")]
    [InlineData("1.2.3.4/")]
    [InlineData("1.2.3.4/-1")]
    [InlineData("1.2.3.4/+8")]
    [InlineData("1.2.3.4/08")]
    [InlineData("1.2.3.4/8/8")]
    [InlineData("1.2.3.4/1000")]
    [InlineData("fe80::1%eth0")]
    [InlineData("fe80::1%2")]
    [InlineData("[::1]")]
    [InlineData("::1::2")]
    [InlineData("1:2:3:4:5:6:7:8:9")]
    [InlineData("1.2.3.4-")]
    [InlineData("-1.2.3.4")]
    [InlineData("1.2.3.4-1.2.3.5-1.2.3.6")]
    [InlineData("1.2.3.4/8-1.2.3.5")]
    [InlineData("1.2.3.4 5")]
    [InlineData("abc")]
    [InlineData("localhost")]
    [InlineData("١.٢.٣.٤")]                      // non-ASCII digits
    public void Invalid_ranges_are_refused_without_exception(string text)
    {
        Assert.False(IPAddressRange.TryParse(text, out IPAddressRange range));
        Assert.Equal(default(IPAddressRange), range);
        Assert.False(IPAddressRange.TryParse(text.AsSpan(), out _));
        Assert.Throws<FormatException>(() => IPAddressRange.Parse(text));
    }

    [Fact]
    public void Null_is_refused()
    {
        Assert.False(IPAddressRange.TryParse((string?)null, out _));
        Assert.Throws<ArgumentNullException>(() => IPAddressRange.Parse(null!));
    }

    [Fact]
    public void Range_family_is_literal_mapped_addresses_are_ipv6()
    {
        IPAddressRange v4 = IPAddressRange.Parse("10.0.0.0/8");
        Assert.Equal(AddressFamily.InterNetwork, v4.Family);
        Assert.False(v4.Contains(Peer("::ffff:10.0.0.1")));
        Assert.Equal(AddressFamily.InterNetworkV6, IPAddressRange.Parse("::ffff:10.0.0.0/104").Family);
    }

    [Fact]
    public void Host_bits_error_suggests_the_network()
    {
        var ex = Assert.Throws<FormatException>(() => IPAddressRange.Parse("192.168.1.0/16"));
        Assert.Contains("192.168.0.0/16", ex.Message, StringComparison.Ordinal);
    }
}
