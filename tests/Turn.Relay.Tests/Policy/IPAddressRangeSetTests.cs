using Turn.Relay.Policy;

namespace Turn.Relay.Tests.Policy;

/// <summary>The merged, binary-searched form of the allowed/denied lists agrees with checking each entry in turn.</summary>
public class IPAddressRangeSetTests
{
    [Fact]
    public void Overlapping_adjacent_and_nested_ranges_merge_without_losing_addresses()
    {
        var set = new IPAddressRangeSet(
        [
            IPAddressRange.Parse("10.0.0.0-10.0.0.9"),
            IPAddressRange.Parse("10.0.0.10-10.0.0.19"),  // adjacent
            IPAddressRange.Parse("10.0.0.5-10.0.0.7"),    // nested
            IPAddressRange.Parse("10.0.0.15-10.0.0.30"),  // overlapping
            IPAddressRange.Parse("10.0.0.40"),
            IPAddressRange.Parse("255.255.255.0/24"),     // up to the last address
            IPAddressRange.Parse("255.255.255.255"),
            IPAddressRange.Parse("::/0"),
        ]);

        Assert.True(set.ContainsIPv4(Ip("10.0.0.0")));
        Assert.True(set.ContainsIPv4(Ip("10.0.0.19")));
        Assert.True(set.ContainsIPv4(Ip("10.0.0.30")));
        Assert.False(set.ContainsIPv4(Ip("10.0.0.31")));
        Assert.False(set.ContainsIPv4(Ip("10.0.0.39")));
        Assert.True(set.ContainsIPv4(Ip("10.0.0.40")));
        Assert.False(set.ContainsIPv4(Ip("10.0.0.41")));
        Assert.False(set.ContainsIPv4(Ip("9.255.255.255")));
        Assert.True(set.ContainsIPv4(uint.MaxValue));
        Assert.True(set.Contains(IPAddressBits.FromIPv6(0, 0)));
        Assert.True(set.Contains(IPAddressBits.FromIPv6(ulong.MaxValue, ulong.MaxValue)));

        Assert.True(set.ContainsSingleIPv4(Ip("10.0.0.40")));
        Assert.True(set.ContainsSingleIPv4(uint.MaxValue));
        Assert.False(set.ContainsSingleIPv4(Ip("10.0.0.5")));
        Assert.False(set.ContainsSingle(IPAddressBits.FromIPv6(0, 1)));
    }

    [Fact]
    public void Empty_set_contains_nothing()
    {
        var set = new IPAddressRangeSet([]);
        Assert.True(set.IsEmpty);
        Assert.False(set.ContainsIPv4(0));
        Assert.False(set.Contains(IPAddressBits.FromIPv6(0, 0)));
        Assert.False(set.ContainsSingleIPv4(0));
    }

    [Fact]
    public void Set_agrees_with_a_linear_scan_over_random_ranges()
    {
        var random = new Random(6890);
        for (int trial = 0; trial < 200; trial++)
        {
            var ranges = new List<IPAddressRange>();
            int count = random.Next(0, 40);
            for (int i = 0; i < count; i++)
            {
                // A narrow address space so that ranges overlap and touch often.
                uint a = (uint)random.Next(0, 512);
                uint b = random.Next(4) == 0 ? a : (uint)random.Next(0, 512);
                ranges.Add(IPAddressRange.Parse($"10.0.{Math.Min(a, b) >> 8}.{Math.Min(a, b) & 255}-10.0.{Math.Max(a, b) >> 8}.{Math.Max(a, b) & 255}"));
            }

            var set = new IPAddressRangeSet(ranges);
            for (uint host = 0; host < 520; host++)
            {
                var address = IPAddressBits.FromIPv4(0x0A00_0000 + host);
                Assert.Equal(ranges.Exists(r => r.Contains(address)), set.Contains(address));
                Assert.Equal(ranges.Exists(r => r.IsSingleAddress && r.Contains(address)), set.ContainsSingle(address));
            }
        }
    }

    private static uint Ip(string text) => IPAddressRange.Parse(text).First.IPv4;
}
