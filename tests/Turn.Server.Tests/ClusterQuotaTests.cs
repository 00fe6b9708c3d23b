using Microsoft.Extensions.DependencyInjection;
using Turn.Cluster.Redis;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>
/// Several nodes sharing one real redis-server: the per-user quota (--user-quota) counts a user's allocations on every
/// node of the region; a node that stops gives its share back; with Redis gone the nodes fail open to their own counts
/// and keep serving, and they reconnect when it is back.
/// </summary>
public sealed class ClusterQuotaTests
{
    private static readonly TimeSpan Settle = TestCluster.Settle;

    private static RedisClusterState State(ServerFixture node) => TestCluster.State(node);

    /// <summary>The turn_cluster_redis_connected gauge as the node's /metrics shows it.</summary>
    private static async Task<string?> ConnectedGaugeAsync(ServerFixture node)
    {
        System.Net.IPEndPoint admin = node.Services.GetRequiredService<AdminServer>().LocalEndPoint ?? throw new InvalidOperationException("no admin listener");
        using var http = new HttpClient();
        string metrics = await http.GetStringAsync(new Uri($"http://{admin}/metrics"));
        return metrics.Split('\n').FirstOrDefault(l => l.StartsWith("turn_cluster_redis_connected ", StringComparison.Ordinal));
    }

    private static async Task<int?> AllocateAsync(ServerFixture node, List<TurnTestClient> keep)
    {
        var client = new TurnTestClient(node.V4, RelayServerFixture.User, RelayServerFixture.Password);
        keep.Add(client);
        byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        return TurnTestClient.ErrorCode(answer);
    }

    [Fact]
    public async Task User_quota_counts_allocations_on_every_node_and_a_stopped_node_gives_its_share_back()
    {
        await using TestCluster cluster = await TestCluster.StartAsync(["--user-quota", "3"], "node-a", "node-b", "node-c");
        List<TurnTestClient> clients = cluster.Clients;
        foreach (ConfiguredRelayServer node in cluster.Nodes)
        {
            Assert.Null(await AllocateAsync(node, clients));
        }

        // Each node learns of the others' allocations at its next heartbeat; then alice is at her quota of 3 everywhere.
        foreach (ConfiguredRelayServer node in cluster.Nodes)
        {
            await Eventually.WaitForAsync(() => State(node).AllocationsElsewhere(RelayServerFixture.User) == 2,
                $"{TestCluster.NodeId(node)} never saw the other nodes' allocations", Settle);
            Assert.Equal(StunErrorCode.AllocationQuotaReached, await AllocateAsync(node, clients));
        }

        // Node c stops: its share goes with it, and alice may allocate once more on a.
        ConfiguredRelayServer a = cluster.Nodes[0];
        await cluster.Nodes[2].DisposeAsync();
        await Eventually.WaitForAsync(() => State(a).AllocationsElsewhere(RelayServerFixture.User) == 1, "node c's share outlived it", Settle);
        Assert.Null(await AllocateAsync(a, clients));
        Assert.Equal(StunErrorCode.AllocationQuotaReached, await AllocateAsync(a, clients));
    }

    /// <summary>
    /// Redis unreachable when a node starts: it starts anyway and serves on its own limits, the gauge says so, and it
    /// joins the cluster by itself once Redis is there, without a restart.
    /// </summary>
    [Fact]
    public async Task A_node_started_without_redis_serves_alone_and_joins_when_redis_comes()
    {
        int port = ServerProcess.FreePort();
        await using var node = new ConfiguredRelayServer(["--redis", $"127.0.0.1:{port}", "--node-id", "late", "--region", "test-region",
            "--user-quota", "1"]);
        await node.InitializeAsync();
        var clients = new List<TurnTestClient>();
        try
        {
            await Eventually.WaitForAsync(async () => await ConnectedGaugeAsync(node) == "turn_cluster_redis_connected 0",
                "the gauge never said Redis was unreachable", Settle);
            Assert.Null(await AllocateAsync(node, clients));
            Assert.Equal(StunErrorCode.AllocationQuotaReached, await AllocateAsync(node, clients));

            using RedisServer redis = await RedisServer.StartAsync(port);
            await Eventually.WaitForAsync(() => State(node).IsConnected, "the node did not join when Redis came", Settle);
            Assert.Equal("turn_cluster_redis_connected 1", await ConnectedGaugeAsync(node));
            Assert.Equal(1, node.Counters.AllocationsCreated);
            await node.DisposeAsync();
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Redis_down_fails_open_to_local_counts_and_the_node_reconnects()
    {
        await using TestCluster cluster = await TestCluster.StartAsync(["--user-quota", "2"], "node-a");
        ConfiguredRelayServer a = cluster.Nodes[0];
        RedisServer redis = cluster.Redis;
        List<TurnTestClient> clients = cluster.Clients;
        Assert.Equal("turn_cluster_redis_connected 1", await ConnectedGaugeAsync(a));
        Assert.Null(await AllocateAsync(a, clients));

        redis.Stop();
        await Eventually.WaitForAsync(() => !State(a).IsConnected, "the node did not notice Redis was gone", Settle);
        Assert.Equal("turn_cluster_redis_connected 0", await ConnectedGaugeAsync(a));
        // Still serving with its own count: alice has one allocation here, the quota allows a second.
        Assert.Null(await AllocateAsync(a, clients));
        Assert.Equal(StunErrorCode.AllocationQuotaReached, await AllocateAsync(a, clients));
        Assert.Equal(2, a.Counters.AllocationsCreated);

        await redis.RestartAsync();
        long before = State(a).Heartbeats;
        await Eventually.WaitForAsync(() => State(a).IsConnected && State(a).Heartbeats > before, "the node did not reconnect", Settle);
    }

    private static async Task<System.Net.HttpStatusCode> AdminPostAsync(ServerFixture node, string pathAndQuery)
    {
        System.Net.IPEndPoint admin = node.Services.GetRequiredService<AdminServer>().LocalEndPoint ?? throw new InvalidOperationException("no admin listener");
        using var http = new HttpClient();
        using HttpResponseMessage response = await http.PostAsync(new Uri($"http://{admin}{pathAndQuery}"), null);
        return response.StatusCode;
    }

    /// <summary>
    /// A revocation made on one node (POST /revoke, live allocations ended) reaches the two others within a second: new
    /// Allocate and Refresh requests get 403 there and their live allocations end; POST /restore lifts it everywhere.
    /// </summary>
    [Fact]
    public async Task Revocation_reaches_every_node_within_a_second_and_ends_live_allocations()
    {
        await using TestCluster cluster = await TestCluster.StartAsync(["--user-quota", "2"], "node-a", "node-b", "node-c");
        var (a, b, c, clients) = (cluster.Nodes[0], cluster.Nodes[1], cluster.Nodes[2], cluster.Clients);
        Assert.Null(await AllocateAsync(b, clients));
        TurnTestClient onB = clients[^1];
        Assert.Null(await AllocateAsync(c, clients));
        Assert.Equal(1, b.Counters.AllocationsCreated);

        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(System.Net.HttpStatusCode.OK, await AdminPostAsync(a, $"/revoke?user={RelayServerFixture.User}&end=true"));
        foreach (ConfiguredRelayServer node in new[] { b, c })
        {
            await Eventually.WaitForAsync(() => State(node).IsRevoked(RelayServerFixture.User) && node.Services
                .GetRequiredService<Turn.Relay.Allocations.AllocationTable>().Count == 0, $"{TestCluster.NodeId(node)} did not apply the revocation",
                TimeSpan.FromSeconds(5));
        }

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"the revocation took {watch.Elapsed.TotalMilliseconds:F0} ms to reach nodes b and c");
        Assert.Equal(StunErrorCode.Forbidden, await AllocateAsync(b, clients));
        Assert.Equal(StunErrorCode.Forbidden, await AllocateAsync(c, clients));
        Assert.Equal(StunErrorCode.Forbidden, await AllocateAsync(a, clients));
        byte[] refresh = await onB.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(600));
        Assert.NotNull(TurnTestClient.ErrorCode(refresh));

        Assert.Equal(System.Net.HttpStatusCode.OK, await AdminPostAsync(b, $"/restore?user={RelayServerFixture.User}"));
        await Eventually.WaitForAsync(() => !State(a).IsRevoked(RelayServerFixture.User) && !State(c).IsRevoked(RelayServerFixture.User),
            "nodes a and c did not lift the revocation", Settle);
        Assert.Null(await AllocateAsync(a, clients));
        Assert.Null(await AllocateAsync(c, clients));
    }

    /// <summary>
    /// A leaked TURN REST secret revoked on one node (POST /revoke?secret-id=, live allocations ended) stops working on
    /// the others within a second: an allocation made with it ends, new credentials made with it get 401, while those of
    /// the other secret still allocate; turn-server revoke --secret lifts and makes the same revocation by the secret.
    /// </summary>
    [Fact]
    public async Task A_revoked_rest_secret_stops_authenticating_on_every_node_and_its_allocations_end()
    {
        const string Leaked = "leaked-secret";
        const string Kept = "kept-secret";
        await using TestCluster cluster = await TestCluster.StartAsync(["--use-auth-secret", "--static-auth-secret", Leaked, "--static-auth-secret", Kept],
            "node-a", "node-b");
        var (a, b) = (cluster.Nodes[0], cluster.Nodes[1]);
        async Task<int?> AllocateWithAsync(ServerFixture node, string secret, string user)
        {
            string username = $"{DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 3600}:{user}";
            var client = new TurnTestClient(node.V4, username, Turn.Relay.Auth.LongTermCredentials.ComputeRestPassword(secret, username));
            cluster.Clients.Add(client);
            return TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17)));
        }

        Assert.Null(await AllocateWithAsync(b, Leaked, "mallory"));
        Assert.Null(await AllocateWithAsync(b, Kept, "alice"));
        Turn.Relay.Allocations.AllocationTable onB = b.Services.GetRequiredService<Turn.Relay.Allocations.AllocationTable>();

        var watch = System.Diagnostics.Stopwatch.StartNew();
        string leakedId = Turn.Relay.Auth.LongTermCredentials.SecretId(Leaked);
        Assert.Equal(System.Net.HttpStatusCode.OK, await AdminPostAsync(a, $"/revoke?secret-id={leakedId}&end=true"));
        await Eventually.WaitForAsync(() => onB.Count == 1, "node b did not end the allocation made with the revoked secret", TimeSpan.FromSeconds(5));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"the revocation took {watch.Elapsed.TotalMilliseconds:F0} ms to reach node b");
        Assert.Equal("alice", onB.Live.Single().Username.Split(':')[1]);
        Assert.Equal(StunErrorCode.Unauthenticated, await AllocateWithAsync(b, Leaked, "mallory"));
        Assert.Equal(StunErrorCode.Unauthenticated, await AllocateWithAsync(a, Leaked, "mallory"));
        Assert.Null(await AllocateWithAsync(a, Kept, "alice"));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, await AdminPostAsync(a, $"/revoke?secret-id={leakedId}&user=alice"));

        using var output = new StringWriter();
        using var error = new StringWriter();
        string[] command = ["--redis", cluster.Redis.Configuration, "--region", "test-region", "--secret", Leaked];
        Assert.Equal(0, await RevokeCommand.RunAsync([.. command, "--restore"], output, error));
        Assert.Contains($"restored REST secret {leakedId} in region test-region", output.ToString(), StringComparison.Ordinal);
        await Eventually.WaitForAsync(() => State(b).RevokedSecrets.Count == 0, "node b did not hear of the restore", Settle);
        Assert.Null(await AllocateWithAsync(b, Leaked, "mallory"));
        Assert.Equal(0, await RevokeCommand.RunAsync(command, output, error));
        await Eventually.WaitForAsync(() => State(a).RevokedSecrets.Contains(leakedId), "node a did not hear of the revocation", Settle);
        Assert.Equal(2, await RevokeCommand.RunAsync([.. command, "--user", "alice"], output, error));
    }

    /// <summary>
    /// The nodes share their nonce key through Redis: a client that was given a nonce by one node (RFC 8489 §9.2) and
    /// then meets another from the same address and port is accepted there at once, not sent round another 438.
    /// </summary>
    [Fact]
    public async Task A_nonce_given_by_one_node_is_accepted_by_the_others()
    {
        await using TestCluster cluster = await TestCluster.StartAsync([], "node-a", "node-b");
        var (a, b) = (cluster.Nodes[0], cluster.Nodes[1]);
        var client = new TurnTestClient(a.V4, RelayServerFixture.User, RelayServerFixture.Password);
        cluster.Clients.Add(client);
        Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));

        // The same socket, now talking to node b, signs with node a's nonce.
        await client.Socket.ConnectAsync(b.V4);
        byte[] answer = await client.RequestOnceAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        Assert.Null(TurnTestClient.ErrorCode(answer));
        Assert.Equal(1, b.Counters.AllocationsCreated);
        Assert.Equal(0, b.Counters.ErrorResponsesWithCode(StunErrorCode.StaleNonce));
    }

    /// <summary>turn-server revoke: revokes and restores through Redis (exit 0), 1 when Redis is unreachable, 2 on bad arguments.</summary>
    [Fact]
    public async Task Revoke_command_revokes_and_restores_through_redis()
    {
        await using TestCluster cluster = await TestCluster.StartAsync(["--user-quota", "2"], "node-a");
        ConfiguredRelayServer a = cluster.Nodes[0];
        RedisServer redis = cluster.Redis;
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(0, await RevokeCommand.RunAsync(["--redis", redis.Configuration, "--region", "test-region", "--user", "mallory"], output, error));
        Assert.Contains("revoked mallory in region test-region", output.ToString(), StringComparison.Ordinal);
        await Eventually.WaitForAsync(() => State(a).IsRevoked("1893456000:mallory"), "the node did not hear of the revocation", Settle);
        Assert.Equal(0, await RevokeCommand.RunAsync(["--redis", redis.Configuration, "--region", "test-region", "--user", "mallory", "--restore"],
            output, error));
        await Eventually.WaitForAsync(() => !State(a).IsRevoked("mallory"), "the node did not hear of the restore", Settle);

        Assert.Equal(2, await RevokeCommand.RunAsync(["--redis", redis.Configuration], output, error));
        int closed = ServerProcess.FreePort();
        Assert.Equal(1, await RevokeCommand.RunAsync(["--redis", $"127.0.0.1:{closed}", "--user", "mallory"], output, error));
        Assert.Contains("unreachable", error.ToString(), StringComparison.Ordinal);
    }
}
