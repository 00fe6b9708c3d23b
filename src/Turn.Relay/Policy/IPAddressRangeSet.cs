using System.Numerics;

namespace Turn.Relay.Policy;

/// <summary>
/// A frozen union of <see cref="IPAddressRange"/>s, per family, merged and sorted for a binary search: a lookup costs
/// the same for three entries as for three thousand (coturn configurations often carry long denied-peer-ip lists), and
/// allocates nothing. The single-address entries are also kept apart, for the categories only those unlock.
/// </summary>
internal sealed class IPAddressRangeSet
{
    private readonly uint[] _ipv4Starts;
    private readonly uint[] _ipv4Ends;
    private readonly UInt128[] _ipv6Starts;
    private readonly UInt128[] _ipv6Ends;
    private readonly uint[] _ipv4Singles;
    private readonly UInt128[] _ipv6Singles;

    public IPAddressRangeSet(IReadOnlyCollection<IPAddressRange> ranges)
    {
        var ipv4 = new List<(uint Start, uint End)>();
        var ipv6 = new List<(UInt128 Start, UInt128 End)>();
        var ipv4Singles = new List<uint>();
        var ipv6Singles = new List<UInt128>();
        foreach (IPAddressRange range in ranges)
        {
            if (range.First.IsIPv6)
            {
                ipv6.Add((range.First.Value, range.Last.Value));
                if (range.IsSingleAddress)
                {
                    ipv6Singles.Add(range.First.Value);
                }
            }
            else
            {
                ipv4.Add((range.First.IPv4, range.Last.IPv4));
                if (range.IsSingleAddress)
                {
                    ipv4Singles.Add(range.First.IPv4);
                }
            }
        }

        (_ipv4Starts, _ipv4Ends) = Merge(ipv4);
        (_ipv6Starts, _ipv6Ends) = Merge(ipv6);
        _ipv4Singles = [.. ipv4Singles.Order()];
        _ipv6Singles = [.. ipv6Singles.Order()];
        IsEmpty = ranges.Count == 0;
    }

    public bool IsEmpty { get; }

    public bool Contains(in IPAddressBits address) =>
        address.IsIPv6 ? Contains(_ipv6Starts, _ipv6Ends, address.Value) : ContainsIPv4(address.IPv4);

    public bool ContainsIPv4(uint address) => Contains(_ipv4Starts, _ipv4Ends, address);

    /// <summary>True when an entry of exactly this one address was given (not merely a range holding it).</summary>
    public bool ContainsSingle(in IPAddressBits address) =>
        address.IsIPv6 ? _ipv6Singles.AsSpan().BinarySearch(address.Value) >= 0 : ContainsSingleIPv4(address.IPv4);

    public bool ContainsSingleIPv4(uint address) => _ipv4Singles.AsSpan().BinarySearch(address) >= 0;

    private static bool Contains<T>(T[] starts, T[] ends, T value)
        where T : IComparisonOperators<T, T, bool>
    {
        // The last interval starting at or before the value is the only one that can hold it.
        int low = 0;
        int high = starts.Length - 1;
        while (low <= high)
        {
            int middle = low + ((high - low) >> 1);
            if (starts[middle] <= value)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return high >= 0 && value <= ends[high];
    }

    private static (T[] Starts, T[] Ends) Merge<T>(List<(T Start, T End)> intervals)
        where T : IBinaryInteger<T>, IMinMaxValue<T>
    {
        intervals.Sort((a, b) => a.Start.CompareTo(b.Start));
        var starts = new List<T>(intervals.Count);
        var ends = new List<T>(intervals.Count);
        foreach ((T start, T end) in intervals)
        {
            int last = ends.Count - 1;
            if (last >= 0 && (ends[last] == T.MaxValue || start <= ends[last] + T.One))
            {
                if (end > ends[last])
                {
                    ends[last] = end;
                }
            }
            else
            {
                starts.Add(start);
                ends.Add(end);
            }
        }

        return ([.. starts], [.. ends]);
    }
}
