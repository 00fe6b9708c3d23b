using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Turn.Relay.Allocations;
using Turn.Stun;
using static Turn.Server.Tests.PeerSockets;

namespace Turn.Server.Tests;

/// <summary>
/// The node registry of a cluster (three nodes sharing one real redis-server): every node publishes its addresses and
/// load, and a draining or full node answers a new Allocate with 300 Try Alternate (RFC 8489 §10) whose
/// ALTERNATE-SERVER is the least loaded healthy node of the region, of the client's transport and family; the client
/// follows it and allocates there. With Redis gone the nodes keep relaying and allocating on local limits, and the
/// view heals when it is back.
/// </summary>
public sealed class ClusterRedirectTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private static int Allocations(ServerFixture node) => node.Services.GetRequiredService<AllocationTable>().Count;

    private static async Task<(TurnTestClient Client, byte[] Answer)> AllocateAsync(TestCluster cluster, IPEndPoint server, bool tcp = false)
    {
        var client = tcp
            ? new TurnTestClient(server, RelayServerFixture.User, RelayServerFixture.Password, tcp: true)
            : new TurnTestClient(server, RelayServerFixture.User, RelayServerFixture.Password);
        cluster.Clients.Add(client);
        byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        return (client, answer);
    }

    /// <summary>The ALTERNATE-SERVER of a 300 answer, checked to be signed with the request's key (RFC 8489 §10).</summary>
    private static IPEndPoint AlternateOf(TurnTestClient client, byte[] answer)
    {
        Assert.Equal(StunErrorCode.TryAlternate, TurnTestClient.ErrorCode(answer));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
        Assert.True(reader.VerifyMessageIntegrity(client.Key), "the 300 is not signed with the request's key");
        Assert.True(reader.TryGetAttribute(StunAttributeType.AlternateServer, out StunAttribute attribute));
        Assert.True(AddressValue.TryRead(attribute.Value, out TransportAddress alternate));
        return alternate.ToIPEndPoint();
    }

    /// <summary>
    /// A draining node sends new clients to the least loaded node (fewest allocations, none of the nodes has a total
    /// quota), over IPv4 and IPv6 alike, and to the same transport (a TCP client gets the node's TCP address); the
    /// client allocates there; its own allocation keeps relaying. The other nodes see it draining and send nobody to it.
    /// </summary>
    [Fact]
    public async Task Draining_node_sends_new_clients_to_the_least_loaded_node_where_they_allocate()
    {
        await using TestCluster cluster = await TestCluster.StartAsync([], "node-a", "node-b", "node-c");
        var (a, b, c) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2]);
        (TurnTestClient onA, byte[] answerA) = await AllocateAsync(cluster, a.V4);
        Assert.Null(TurnTestClient.ErrorCode(answerA));
        for (int i = 0; i < 2; i++)
        {
            Assert.Null(TurnTestClient.ErrorCode((await AllocateAsync(cluster, b.V4)).Answer));
        }

        await cluster.SettledAsync();
        a.Services.GetRequiredService<DrainCoordinator>().Begin("test");

        // c has no allocation, b two: c is the least loaded.
        (TurnTestClient first, byte[] redirect) = await AllocateAsync(cluster, a.V4);
        Assert.Equal(c.V4, AlternateOf(first, redirect));
        (TurnTestClient followed, byte[] there) = await AllocateAsync(cluster, AlternateOf(first, redirect));
        Assert.Null(TurnTestClient.ErrorCode(there));
        Assert.Equal(1, Allocations(c));

        // The client just sent counts on c until c's next report: c (1) and b (2) still leave c the least loaded.
        (TurnTestClient overV6, byte[] redirectV6) = await AllocateAsync(cluster, a.V6);
        Assert.Equal(c.V6, AlternateOf(overV6, redirectV6));

        // A TCP client is sent to a node's TCP listener (b or c: which one depends on whether c reported in between).
        (TurnTestClient overTcp, byte[] redirectTcp) = await AllocateAsync(cluster, a.V4, tcp: true);
        IPEndPoint tcpAlternate = AlternateOf(overTcp, redirectTcp);
        Assert.Contains(tcpAlternate, new[] { b, c }.Select(n => n.Services.GetRequiredService<ListenerRegistry>().TcpEndPoints
            .First(e => e.AddressFamily == AddressFamily.InterNetwork)));
        Assert.Equal(3, a.Counters.DrainRejections);

        // The draining node's own allocation goes on; the others see it draining and send it nobody.
        await AssertRelaysAsync(onA, TurnTestClient.XorAddress(answerA, StunAttributeType.XorRelayedAddress)!.Value, Wait);
        await Eventually.WaitForAsync(() => TestCluster.State(b).Directory.Nodes.Any(n => n.Node.Id == "node-a" && n.Node.Report.Draining),
            "node b never saw node a draining", TestCluster.Settle);
        Assert.Equal(2, Allocations(b));
        Assert.NotEqual(a.V4, b.V4);
    }

    /// <summary>
    /// A node at its total quota sends new clients to a node with room (300), and they allocate there; once every node
    /// is full there is nowhere to go and the full node refuses as a lone node does (486 Allocation Quota Reached).
    /// </summary>
    [Fact]
    public async Task Full_node_sends_new_clients_to_a_node_with_room_and_refuses_when_none_has_any()
    {
        await using TestCluster cluster = await TestCluster.StartAsync(["--total-quota", "1"], "node-a", "node-b");
        var (a, b) = (cluster.Nodes[0], cluster.Nodes[1]);
        Assert.Null(TurnTestClient.ErrorCode((await AllocateAsync(cluster, a.V4)).Answer));
        await cluster.SettledAsync();

        (TurnTestClient client, byte[] redirect) = await AllocateAsync(cluster, a.V4);
        Assert.Equal(b.V4, AlternateOf(client, redirect));
        Assert.Null(TurnTestClient.ErrorCode((await AllocateAsync(cluster, b.V4)).Answer));
        await cluster.SettledAsync();

        Assert.Equal(StunErrorCode.AllocationQuotaReached, TurnTestClient.ErrorCode((await AllocateAsync(cluster, a.V4)).Answer));
        Assert.Equal(StunErrorCode.AllocationQuotaReached, TurnTestClient.ErrorCode((await AllocateAsync(cluster, b.V4)).Answer));
        Assert.Equal(0, a.Counters.DrainRejections);
    }

    /// <summary>
    /// GET /cluster on the admin listener shows the region's registry as the node sees it: itself first, then the
    /// others, each with its addresses and load.
    /// </summary>
    [Fact]
    public async Task Admin_cluster_endpoint_shows_every_node_with_its_addresses_and_load()
    {
        await using TestCluster cluster = await TestCluster.StartAsync(["--total-quota", "5"], "node-a", "node-b");
        var (a, b) = (cluster.Nodes[0], cluster.Nodes[1]);
        Assert.Null(TurnTestClient.ErrorCode((await AllocateAsync(cluster, b.V4)).Answer));
        await cluster.SettledAsync();

        IPEndPoint admin = a.Services.GetRequiredService<AdminServer>().LocalEndPoint!;
        using var http = new HttpClient();
        using var json = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://{admin}/cluster")));
        System.Text.Json.JsonElement root = json.RootElement;
        Assert.Equal("node-a", root.GetProperty("node").GetString());
        Assert.Equal("test-region", root.GetProperty("region").GetString());
        Assert.True(root.GetProperty("connected").GetBoolean());
        System.Text.Json.JsonElement[] nodes = [.. root.GetProperty("nodes").EnumerateArray()];
        Assert.Equal(["node-a", "node-b"], nodes.Select(n => n.GetProperty("id").GetString()));
        Assert.True(nodes[0].GetProperty("self").GetBoolean());
        System.Text.Json.JsonElement nodeB = nodes[1];
        Assert.Equal(1, nodeB.GetProperty("allocations").GetInt32());
        Assert.Equal(5, nodeB.GetProperty("capacity").GetInt32());
        Assert.False(nodeB.GetProperty("draining").GetBoolean());
        Assert.Contains(b.V4.ToString(), nodeB.GetProperty("addresses").GetProperty("udp").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains(b.V6.ToString(), nodeB.GetProperty("addresses").GetProperty("udp").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["127.0.0.1"], nodeB.GetProperty("relayIps").EnumerateArray().Select(e => e.GetString()));

        // What Redis holds: b's registry entry under its lease; no per-user counts, as no node has a per-user quota.
        await using (StackExchange.Redis.ConnectionMultiplexer redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(cluster.Redis.Configuration))
        {
            StackExchange.Redis.IDatabase db = redis.GetDatabase();
            Assert.Equal("1", (await db.HashGetAsync("turn:test-region:node:node-b", "allocations")).ToString());
            TimeSpan? lease = await db.KeyTimeToLiveAsync("turn:test-region:node:node-b");
            Assert.True(lease is { TotalSeconds: > 0 and <= 3 }, $"node b's entry has no lease ({lease})");
            Assert.False(await db.KeyExistsAsync("turn:test-region:users:node-b"));
        }

        // A node without --redis has no cluster to show.
        await using var alone = new ConfiguredRelayServer([]);
        await alone.InitializeAsync();
        using HttpResponseMessage response = await http.GetAsync(new Uri($"http://{alone.Services.GetRequiredService<AdminServer>().LocalEndPoint}/cluster"));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    /// <summary>
    /// Redis stopped with three nodes serving: every existing allocation keeps relaying, new allocations still work on
    /// each node's own limits (the per-user quota counts the node's own allocations only: fail open), and a draining
    /// node has no cluster alternate left (508). Redis back: the nodes reconnect, the registry and the cross-node quota
    /// count every node again.
    /// </summary>
    [Fact]
    public async Task Redis_outage_keeps_allocations_relaying_and_new_ones_on_local_limits_and_the_view_heals()
    {
        await using TestCluster cluster = await TestCluster.StartAsync(["--user-quota", "3"], "node-a", "node-b", "node-c");
        var relayed = new List<(TurnTestClient Client, TransportAddress Relayed)>();
        foreach (ConfiguredRelayServer node in cluster.Nodes)
        {
            (TurnTestClient client, byte[] answer) = await AllocateAsync(cluster, node.V4);
            Assert.Null(TurnTestClient.ErrorCode(answer));
            relayed.Add((client, TurnTestClient.XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value));
        }

        await cluster.SettledAsync();
        ConfiguredRelayServer a = cluster.Nodes[0];
        Assert.Equal(2, TestCluster.State(a).AllocationsElsewhere(RelayServerFixture.User));
        Assert.Equal(StunErrorCode.AllocationQuotaReached, TurnTestClient.ErrorCode((await AllocateAsync(cluster, a.V4)).Answer));

        cluster.Redis.Stop();
        await Eventually.WaitForAsync(() => cluster.Nodes.All(n => !TestCluster.State(n).IsConnected), "the nodes did not notice Redis was gone",
            TestCluster.Settle);
        foreach ((TurnTestClient client, TransportAddress address) in relayed)
        {
            await AssertRelaysAsync(client, address, Wait);
        }

        // Local limits: alice holds one allocation on node a, so two more may be made there, and not a third.
        Assert.Equal(0, TestCluster.State(a).AllocationsElsewhere(RelayServerFixture.User));
        Assert.Empty(TestCluster.State(a).Directory.Nodes);
        Assert.Null(TurnTestClient.ErrorCode((await AllocateAsync(cluster, a.V4)).Answer));
        Assert.Null(TurnTestClient.ErrorCode((await AllocateAsync(cluster, a.V4)).Answer));
        Assert.Equal(StunErrorCode.AllocationQuotaReached, TurnTestClient.ErrorCode((await AllocateAsync(cluster, a.V4)).Answer));

        await cluster.Redis.RestartAsync();
        await Eventually.WaitForAsync(() => cluster.Nodes.All(n => TestCluster.State(n).IsConnected), "the nodes did not reconnect", TestCluster.Settle);
        await cluster.SettledAsync();
        Assert.Equal(2, TestCluster.State(cluster.Nodes[1]).Directory.Nodes.Count);
        Assert.Equal(4, TestCluster.State(cluster.Nodes[1]).AllocationsElsewhere(RelayServerFixture.User));
        Assert.Equal(StunErrorCode.AllocationQuotaReached, TurnTestClient.ErrorCode((await AllocateAsync(cluster, cluster.Nodes[1].V4)).Answer));
    }
}
