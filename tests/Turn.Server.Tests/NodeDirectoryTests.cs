using System.Net;
using Turn.Cluster.Redis;
using Turn.Relay;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>
/// Where a full or draining node sends a new allocation (RFC 8489 §10 ALTERNATE-SERVER): the least loaded healthy node
/// of the region serving the client's transport and family, as read from the registry.
/// </summary>
public sealed class NodeDirectoryTests
{
    private static ServiceAddress At(TransportProtocol protocol, string endPoint) =>
        new(protocol, TransportAddress.FromIPEndPoint(IPEndPoint.Parse(endPoint)));

    private static ClusterNode Node(string id, int allocations, int capacity = 0, double cpu = 0, bool draining = false, long sequence = 1,
        params ServiceAddress[] addresses) =>
        new(id, new NodeReport(addresses.Length > 0 ? addresses : [At(TransportProtocol.Udp, $"192.0.2.{id.Length}:3478")], allocations, capacity,
            0, cpu, draining), sequence);

    private static string? Pick(NodeDirectory directory, TransportProtocol protocol = TransportProtocol.Udp,
        StunAddressFamily family = StunAddressFamily.IPv4) =>
        directory.TryPick(protocol, family, out TransportAddress alternate) ? alternate.ToString() : null;

    [Fact]
    public void Picks_the_lowest_fill_then_the_fewest_allocations_then_the_id()
    {
        var directory = new NodeDirectory();
        directory.Update([
            Node("n1", 5, capacity: 10, addresses: At(TransportProtocol.Udp, "192.0.2.1:3478")),
            Node("n2", 3, capacity: 4, addresses: At(TransportProtocol.Udp, "192.0.2.2:3478")),
            Node("n3", 8, capacity: 20, addresses: At(TransportProtocol.Udp, "192.0.2.3:3478")),
        ]);
        Assert.Equal("192.0.2.3:3478", Pick(directory)); // 8/20 = 0.40 < 5/10 < 3/4

        directory.Update([
            Node("n2", 2, addresses: At(TransportProtocol.Udp, "192.0.2.2:3478")),
            Node("n1", 2, addresses: At(TransportProtocol.Udp, "192.0.2.1:3478")),
            Node("n3", 3, addresses: At(TransportProtocol.Udp, "192.0.2.3:3478")),
        ]);
        Assert.Equal("192.0.2.1:3478", Pick(directory)); // no capacities: fewest allocations, then the id
    }

    [Fact]
    public void Clients_sent_to_a_node_count_as_its_allocations_until_its_next_report()
    {
        var directory = new NodeDirectory();
        directory.Update([
            Node("n1", 0, capacity: 2, addresses: At(TransportProtocol.Udp, "192.0.2.1:3478")),
            Node("n2", 1, capacity: 4, addresses: At(TransportProtocol.Udp, "192.0.2.2:3478")),
        ]);
        Assert.Equal("192.0.2.1:3478", Pick(directory)); // 0/2 < 1/4
        Assert.Equal("192.0.2.2:3478", Pick(directory)); // 1/2 > 1/4
        Assert.Equal("192.0.2.1:3478", Pick(directory)); // 1/2 = 2/4: the fewer allocations (1 < 2)
        Assert.Equal("192.0.2.2:3478", Pick(directory)); // n1 is at its capacity (2/2)
        Assert.Equal("192.0.2.2:3478", Pick(directory)); // 3/4
        Assert.Null(Pick(directory)); // both at capacity

        // The next report replaces the estimate.
        directory.Update([Node("n1", 0, capacity: 2, addresses: At(TransportProtocol.Udp, "192.0.2.1:3478"))]);
        Assert.Equal("192.0.2.1:3478", Pick(directory));
    }

    [Fact]
    public void Skips_draining_full_stale_and_unreachable_nodes_and_prefers_nodes_that_are_not_busy()
    {
        var directory = new NodeDirectory();
        directory.Update([
            Node("draining", 0, draining: true, addresses: At(TransportProtocol.Udp, "192.0.2.1:3478")),
            Node("full", 4, capacity: 4, addresses: At(TransportProtocol.Udp, "192.0.2.2:3478")),
            Node("v6only", 0, addresses: At(TransportProtocol.Udp, "[2001:db8::1]:3478")),
            Node("busy", 0, cpu: 0.95, addresses: At(TransportProtocol.Udp, "192.0.2.4:3478")),
            Node("idle", 50, cpu: 0.2, addresses: [At(TransportProtocol.Udp, "192.0.2.5:3478"), At(TransportProtocol.Tls, "192.0.2.5:5349")]),
        ]);
        Assert.Equal("192.0.2.5:3478", Pick(directory));
        Assert.Equal("192.0.2.5:5349", Pick(directory, TransportProtocol.Tls));
        Assert.Equal("[2001:db8::1]:3478", Pick(directory, family: StunAddressFamily.IPv6));
        Assert.Null(Pick(directory, TransportProtocol.Dtls));

        // Only busy nodes left: the least loaded of them is still better than no alternate.
        directory.Update([Node("busy", 0, cpu: 0.95, addresses: At(TransportProtocol.Udp, "192.0.2.4:3478"))]);
        Assert.Equal("192.0.2.4:3478", Pick(directory));

        // A node whose heartbeat sequence stops moving is stale once NodeDirectory.StaleAfter reads in a row found it
        // unchanged, and chosen again once it moves.
        for (int read = 0; read < NodeDirectory.StaleAfter; read++)
        {
            directory.Update([Node("stuck", 0, sequence: 7)]);
            Assert.NotNull(Pick(directory));
        }

        directory.Update([Node("stuck", 0, sequence: 7)]);
        Assert.Null(Pick(directory));
        Assert.True(directory.Nodes.Single().Stale);
        directory.Update([Node("stuck", 0, sequence: 8)]);
        Assert.NotNull(Pick(directory));

        directory.Clear();
        Assert.Null(Pick(directory));
        Assert.Empty(directory.Nodes);
    }

    [Fact]
    public void A_report_survives_the_registry_hash()
    {
        var report = new NodeReport([At(TransportProtocol.Udp, "203.0.113.7:3478"), At(TransportProtocol.Udp, "[2001:db8::7]:3478"),
            At(TransportProtocol.Tcp, "203.0.113.7:3478"), At(TransportProtocol.Tls, "203.0.113.7:5349"), At(TransportProtocol.Dtls, "203.0.113.7:5349")],
            Allocations: 12, Capacity: 100, RelayedBitsPerSecond: 123_456_789, Cpu: 0.375, Draining: true)
        {
            RelayIps = [IPAddress.Parse("203.0.113.7"), IPAddress.Parse("2001:db8::7")],
        };
        ClusterNode? node = ClusterNode.FromHash("n7", ClusterNode.ToHash(report, 42));
        Assert.NotNull(node);
        Assert.Equal(42, node.Sequence);
        Assert.Equal(report.Addresses, node.Report.Addresses);
        Assert.Equal(report.RelayIps, node.Report.RelayIps);
        Assert.Equal(report with { Addresses = node.Report.Addresses, RelayIps = node.Report.RelayIps }, node.Report);
        Assert.Null(ClusterNode.FromHash("gone", []));
    }
}
