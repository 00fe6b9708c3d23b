using Microsoft.Extensions.DependencyInjection;
using Turn.Cluster.Redis;

namespace Turn.Server.Tests;

/// <summary>
/// A real redis-server and nodes of one region ("test-region") using it, each a server in this process on its own
/// loopback port, started and connected; disposes the test's clients, the nodes and Redis, in that order.
/// </summary>
internal sealed class TestCluster : IAsyncDisposable
{
    /// <summary>The longest a test waits for the cluster to see a change (heartbeats are 1 s apart).</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(15);

    private TestCluster(RedisServer redis, ConfiguredRelayServer[] nodes)
    {
        Redis = redis;
        Nodes = nodes;
    }

    public RedisServer Redis { get; }

    public ConfiguredRelayServer[] Nodes { get; }

    public List<TurnTestClient> Clients { get; } = [];

    /// <summary>A node's cluster state.</summary>
    public static RedisClusterState State(ServerFixture node) =>
        node.Services.GetRequiredService<ClusterHostedService>().State ?? throw new InvalidOperationException("not clustered");

    /// <summary>Starts Redis and one node per id, each with <paramref name="arguments"/> on top of the cluster's.</summary>
    public static Task<TestCluster> StartAsync(string[] arguments, params string[] ids) => StartAsync(_ => arguments, ids);

    /// <summary>Starts Redis and one node per id, each with its own arguments on top of the cluster's.</summary>
    public static async Task<TestCluster> StartAsync(Func<string, string[]> arguments, params string[] ids)
    {
        RedisServer redis = await RedisServer.StartAsync();
        var cluster = new TestCluster(redis, [.. ids.Select(id => new ConfiguredRelayServer(
            ["--redis", redis.Configuration, "--node-id", id, "--region", "test-region", "--cluster-lease", "3", .. arguments(id)]))]);
        try
        {
            foreach (ConfiguredRelayServer node in cluster.Nodes)
            {
                await node.InitializeAsync();
            }

            await Eventually.WaitForAsync(() => cluster.Nodes.All(n => State(n).IsConnected), "the nodes did not reach Redis", Settle);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    /// <summary>
    /// Waits until every node sees every other in the registry, with its addresses (published once its listeners are
    /// up) and the allocations it has now.
    /// </summary>
    public Task SettledAsync() => Eventually.WaitForAsync(() => Nodes.All(n => TestCluster.State(n).Directory.Nodes.Count == Nodes.Length - 1
        && Nodes.Where(o => o != n).All(o => State(n).Directory.Nodes.Any(seen => seen.Node.Id == NodeId(o)
            && seen.Node.Report.Addresses.Count > 0 && seen.Node.Report.Allocations == o.Services.GetRequiredService<Turn.Relay.Allocations.AllocationTable>().Count))),
        "the nodes did not see each other in the registry", Settle);

    /// <summary>The node id a node was started with.</summary>
    public static string NodeId(ServerFixture node) =>
        node.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<TurnServerOptions>>().Value.EffectiveNodeId;

    public async ValueTask DisposeAsync()
    {
        Clients.ForEach(c => c.Dispose());
        foreach (ConfiguredRelayServer node in Nodes)
        {
            await node.DisposeAsync();
        }

        Redis.Dispose();
    }
}
