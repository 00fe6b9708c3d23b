using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Turn.Cluster.Redis;
using Turn.Relay.Allocations;

namespace Turn.Server;

/// <summary>
/// With --redis: this node's part in the cluster state (<see cref="RedisClusterState"/>), started before the listeners
/// so the first Allocate already counts the other nodes (once Redis answers), stopped after them.
/// </summary>
public sealed partial class ClusterHostedService(IOptions<TurnServerOptions> options, AllocationTable allocations, Turn.Relay.StunMessageProcessor processor,
    ServerMetrics metrics, NodeReporter reporter, Turn.Relay.Auth.LongTermAuthenticator authenticator, ILoggerFactory loggers)
    : IHostedService, IAsyncDisposable
{
    /// <summary>How often the node publishes its counts and reads the others'.</summary>
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(1);

    private RedisClusterState? _state;

    /// <summary>The cluster state, or null when this node runs alone.</summary>
    public RedisClusterState? State => _state;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        TurnServerOptions o = options.Value;
        if (string.IsNullOrEmpty(o.Redis))
        {
            return Task.CompletedTask;
        }

        _state = new RedisClusterState(
            new RedisClusterOptions(o.Redis, o.EffectiveNodeId, o.Region, TimeSpan.FromSeconds(o.ClusterLeaseSeconds), Heartbeat),
            () => processor.UserQuota > 0 ? allocations.CountsByUser() : null, reporter.Report, loggers.CreateLogger<RedisClusterState>());
        allocations.Cluster = _state;
        processor.Revocations = _state;
        processor.ClusterAlternates = _state.Directory;
        RedisClusterState state = _state;
        metrics.ClusterConnected = () => state.IsConnected;
        metrics.ClusterNodes = () => state.IsConnected ? 1 + state.Directory.Nodes.Count : 0;
        _state.EndAllocations = user =>
        {
            var one = new HashSet<string>(StringComparer.Ordinal) { user };
            allocations.RemoveWhere(name => Turn.Relay.RevokedNames.Matches(one, name), AllocationEndReason.Revoked);
        };
        _state.NonceKeyChanged = key => authenticator.Nonces.UseKey(key);
        _state.RevokedSecretsChanged = secrets => authenticator.RevokedSecrets = secrets;
        _state.EndSecretAllocations = id => allocations.RemoveAllocationsWhere(a => a.SecretId == id, AllocationEndReason.Revoked);
        ILogger logger = loggers.CreateLogger<ClusterHostedService>();
        if (o.StaticAuthSecrets.Count > 0 && logger.IsEnabled(LogLevel.Information))
        {
            // What `turn-server revoke --secret-id` and POST /revoke?secret-id= name a secret by (never the secret itself).
            string ids = string.Join(", ", o.StaticAuthSecrets.Select(Turn.Relay.Auth.LongTermCredentials.SecretId));
            RestSecretIds(logger, ids);
        }

        _state.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        RedisClusterState? state = Interlocked.Exchange(ref _state, null);
        if (state is not null)
        {
            allocations.Cluster = null;
            processor.Revocations = null;
            processor.ClusterAlternates = null;
            metrics.ClusterConnected = null;
            metrics.ClusterNodes = null;
            await state.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Cluster: TURN REST secret ids (for revocation): {Ids}")]
    private static partial void RestSecretIds(ILogger logger, string ids);
}
