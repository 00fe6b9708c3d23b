using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using Turn.Relay.Allocations;

namespace Turn.Cluster.Redis;

/// <summary>
/// A node's share of the cluster state in Redis, refreshed in the background every <see cref="RedisClusterOptions.Heartbeat"/>:
/// <list type="bullet">
/// <item>with a per-user quota set, its allocations per username go to the hash <c>turn:{region}:users:{node}</c>, which expires after the lease, so a
/// node that dies stops counting once its lease runs out (no leaked quota);</item>
/// <item>it reads the same hash of every other node of the region (listed in the set <c>turn:{region}:nodes</c>) and sums
/// them, which <see cref="AllocationsElsewhere"/> answers from memory on every Allocate;</item>
/// <item>the registry: its <see cref="NodeReport"/> (addresses, allocations, capacity, bit rate, CPU, draining) goes to the
/// hash <c>turn:{region}:node:{node}</c> under the same lease; the others' are read into <see cref="Directory"/>, which a
/// full or draining node picks an alternate server from;</item>
/// <item>the nonce key, <c>turn:{region}:nonce-key</c>: made by the first node that finds none, then used by every node
/// to issue and check nonces (<see cref="NonceKeyChanged"/>), so a nonce one node gave a client is good on the others.</item>
/// </list>
/// Fails open: with Redis unreachable (at start or later) the node keeps relaying and authenticating, and quotas count
/// its own allocations only, as a single node does; it reconnects by itself, and the view heals on the next heartbeat.
/// </summary>
public sealed partial class RedisClusterState : IClusterAllocationView, Turn.Relay.IRevocationList, IAsyncDisposable
{
    private readonly RedisClusterOptions _options;
    private readonly Func<Dictionary<string, int>?> _localCounts;
    private readonly Func<NodeReport> _report;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly RedisKey _nodesKey;
    private readonly RedisKey _ownKey;
    private readonly RedisKey _ownNodeKey;
    private Dictionary<string, int> _elsewhere = new(StringComparer.Ordinal);
    private HashSet<string> _revoked = new(StringComparer.Ordinal);
    private HashSet<string> _revokedSecrets = new(StringComparer.Ordinal);
    private readonly RedisKey _revokedKey;
    private readonly RedisKey _revokedSecretsKey;
    private readonly RedisKey _nonceKey;
    private byte[] _lastNonceKey = [];
    private readonly RedisChannel _revocationChannel;
    private bool _subscribed;
    private ConnectionMultiplexer? _redis;
    private Task _loop = Task.CompletedTask;
    private int _connected = -1; // -1 not yet known, 0 unreachable, 1 connected: each change is logged once
    private long _heartbeats;

    /// <param name="options">Where the state lives and how this node takes part.</param>
    /// <param name="localCounts">
    /// This node's allocations per username (see <see cref="AllocationTable.CountsByUser"/>); null while no per-user quota
    /// is set, when the counts are neither published nor read.
    /// </param>
    /// <param name="report">This node's registry entry, taken at every heartbeat.</param>
    /// <param name="logger">Where connection changes are told.</param>
    public RedisClusterState(RedisClusterOptions options, Func<Dictionary<string, int>?> localCounts, Func<NodeReport> report, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _localCounts = localCounts ?? throw new ArgumentNullException(nameof(localCounts));
        _report = report ?? throw new ArgumentNullException(nameof(report));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _nodesKey = $"turn:{options.Region}:nodes";
        _ownKey = UsersKey(options.NodeId);
        _ownNodeKey = NodeKey(options.NodeId);
        _revokedKey = RevokedKey(options.Region);
        _revokedSecretsKey = RevokedKey(options.Region, RevocationTarget.Secret);
        _nonceKey = $"turn:{options.Region}:nonce-key";
        _revocationChannel = RevocationChannel(options.Region);
    }

    /// <summary>
    /// Told the usernames whose live allocations end with their revocation (a revocation with "end allocations", heard
    /// on this node as it was made).
    /// </summary>
    public Action<string>? EndAllocations { get; set; }

    /// <summary>Told the region's shared nonce key when this node first reads it, and whenever it changes (e.g. deleted to rotate it).</summary>
    public Action<byte[]>? NonceKeyChanged { get; set; }

    public bool IsRevoked(string username) => Turn.Relay.RevokedNames.Matches(Volatile.Read(ref _revoked), username);

    /// <summary>
    /// Revokes <paramref name="name"/> on every node of the region: a username (a long-term username, or the user id of
    /// TURN REST usernames) or a TURN REST secret by its id. Kept in the set <c>turn:{region}:revoked</c> (secrets:
    /// <c>turn:{region}:revoked-secrets</c>) and announced on a channel so the nodes hear of it at once (the others read
    /// the sets at their next heartbeat).
    /// </summary>
    public static async Task RevokeAsync(IConnectionMultiplexer redis, string region, RevocationTarget target, string name, bool endAllocations)
    {
        ArgumentNullException.ThrowIfNull(redis);
        await redis.GetDatabase().SetAddAsync(RevokedKey(region, target), name).ConfigureAwait(false);
        await redis.GetSubscriber().PublishAsync(RevocationChannel(region), $"{Verb("revoke", target)}\t{name}\t{(endAllocations ? 1 : 0)}")
            .ConfigureAwait(false);
    }

    /// <summary>Lifts a revocation on every node of the region.</summary>
    public static async Task RestoreAsync(IConnectionMultiplexer redis, string region, RevocationTarget target, string name)
    {
        ArgumentNullException.ThrowIfNull(redis);
        await redis.GetDatabase().SetRemoveAsync(RevokedKey(region, target), name).ConfigureAwait(false);
        await redis.GetSubscriber().PublishAsync(RevocationChannel(region), $"{Verb("restore", target)}\t{name}").ConfigureAwait(false);
    }

    /// <summary>As the static <c>RevokeAsync</c>, over this node's connection; false when Redis is unreachable.</summary>
    public async Task<bool> RevokeAsync(RevocationTarget target, string name, bool endAllocations)
    {
        if (_redis is not { IsConnected: true } redis)
        {
            return false;
        }

        await RevokeAsync(redis, _options.Region, target, name, endAllocations).ConfigureAwait(false);
        return true;
    }

    /// <summary>As the static <c>RestoreAsync</c>, over this node's connection; false when Redis is unreachable.</summary>
    public async Task<bool> RestoreAsync(RevocationTarget target, string name)
    {
        if (_redis is not { IsConnected: true } redis)
        {
            return false;
        }

        await RestoreAsync(redis, _options.Region, target, name).ConfigureAwait(false);
        return true;
    }

    private static string Verb(string verb, RevocationTarget target) => target == RevocationTarget.Secret ? verb + "-secret" : verb;

    /// <summary>The connection string as given, made to fail fast and keep retrying rather than throw at start.</summary>
    public static ConfigurationOptions ConfigurationFor(string configuration)
    {
        ConfigurationOptions options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
        options.SyncTimeout = Math.Min(options.SyncTimeout, 2000);
        options.AsyncTimeout = Math.Min(options.AsyncTimeout, 2000);
        return options;
    }

    private static RedisKey RevokedKey(string region, RevocationTarget target = RevocationTarget.User) =>
        target == RevocationTarget.Secret ? $"turn:{region}:revoked-secrets" : $"turn:{region}:revoked";

    private static RedisChannel RevocationChannel(string region) => RedisChannel.Literal($"turn:{region}:revocations");

    /// <summary>A revocation or restore announced on the channel: applied here at once.</summary>
    private void OnRevocationMessage(RedisValue message)
    {
        string[] parts = message.ToString().Split('\t');
        if (parts.Length < 2 || parts[1].Length == 0)
        {
            return;
        }

        bool end = parts.Length > 2 && parts[2] == "1";
        switch (parts[0])
        {
            case "revoke" or "restore":
                Volatile.Write(ref _revoked, Changed(Volatile.Read(ref _revoked), parts[0] == "revoke", parts[1]));
                if (parts[0] == "revoke" && end)
                {
                    EndAllocations?.Invoke(parts[1]);
                }

                break;
            case "revoke-secret" or "restore-secret":
                SetRevokedSecrets(Changed(Volatile.Read(ref _revokedSecrets), parts[0] == "revoke-secret", parts[1]));
                if (parts[0] == "revoke-secret" && end)
                {
                    EndSecretAllocations?.Invoke(parts[1]);
                }

                break;
        }
    }

    private static HashSet<string> Changed(HashSet<string> current, bool add, string name)
    {
        var next = new HashSet<string>(current, StringComparer.Ordinal);
        if (add)
        {
            next.Add(name);
        }
        else
        {
            next.Remove(name);
        }

        return next;
    }

    private void SetRevokedSecrets(HashSet<string> secrets)
    {
        Volatile.Write(ref _revokedSecrets, secrets);
        RevokedSecretsChanged?.Invoke(secrets);
    }

    /// <summary>Ids of revoked TURN REST secrets, as last heard.</summary>
    public IReadOnlySet<string> RevokedSecrets => Volatile.Read(ref _revokedSecrets);

    /// <summary>Told the whole set of revoked secret ids whenever it may have changed (credentials made with them stop working).</summary>
    public Action<IReadOnlySet<string>>? RevokedSecretsChanged { get; set; }

    /// <summary>Told the id of a secret whose revocation ends the live allocations made with it.</summary>
    public Action<string>? EndSecretAllocations { get; set; }

    /// <summary>The other nodes of the region as last read from the registry; where a full or draining node sends clients.</summary>
    public NodeDirectory Directory { get; } = new();

    /// <summary>This node's report as last published (null before the first heartbeat that reached Redis).</summary>
    public NodeReport? LastReport { get; private set; }

    /// <summary>Whether the last heartbeat reached Redis.</summary>
    public bool IsConnected => Volatile.Read(ref _connected) == 1;

    /// <summary>Heartbeats that reached Redis since start.</summary>
    public long Heartbeats => Interlocked.Read(ref _heartbeats);

    public int AllocationsElsewhere(string username) => Volatile.Read(ref _elsewhere).GetValueOrDefault(username);

    /// <summary>Starts the heartbeat loop; returns at once (Redis may be down: the loop keeps trying).</summary>
    public void Start() => _loop = RunAsync(_stop.Token);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (_redis is { IsConnected: true } redis)
        {
            try
            {
                // A node that stops cleanly gives its quota back at once instead of at the end of its lease.
                IDatabase db = redis.GetDatabase();
                await db.KeyDeleteAsync([_ownKey, _ownNodeKey]).ConfigureAwait(false);
                await db.SetRemoveAsync(_nodesKey, _options.NodeId).ConfigureAwait(false);
            }
            catch (RedisException)
            {
            }
        }

        if (_redis is not null)
        {
            await _redis.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private RedisKey UsersKey(string node) => $"turn:{_options.Region}:users:{node}";

    private RedisKey NodeKey(string node) => $"turn:{_options.Region}:node:{node}";

    private async Task RunAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_options.Heartbeat);
        do
        {
            try
            {
                if (!await HeartbeatAsync().ConfigureAwait(false))
                {
                    LostConnection("not connected");
                    continue;
                }

                if (Interlocked.Exchange(ref _connected, 1) != 1)
                {
                    Connected(_logger, _options.NodeId, _options.Region);
                }

                Interlocked.Increment(ref _heartbeats);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
            {
                LostConnection(ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false));
    }

    /// <summary>Fail open: quotas fall back to this node's own allocations until Redis is back.</summary>
    private void LostConnection(string reason)
    {
        if (Interlocked.Exchange(ref _connected, 0) != 0)
        {
            Unreachable(_logger, reason);
        }

        Volatile.Write(ref _elsewhere, new Dictionary<string, int>(StringComparer.Ordinal));
        Directory.Clear();
    }

    /// <summary>One heartbeat: publishes this node's counts under its lease and reads the others'; false when not connected.</summary>
    private async Task<bool> HeartbeatAsync()
    {
        ConnectionMultiplexer redis = _redis ??= await ConnectionMultiplexer.ConnectAsync(ConfigurationFor(_options.Configuration)).ConfigureAwait(false);
        if (!redis.IsConnected)
        {
            return false;
        }

        if (!_subscribed)
        {
            await redis.GetSubscriber().SubscribeAsync(_revocationChannel, (_, message) => OnRevocationMessage(message)).ConfigureAwait(false);
            _subscribed = true;
        }

        IDatabase db = redis.GetDatabase();
        Dictionary<string, int>? own = _localCounts();
        NodeReport report = _report();
        HashEntry[] entries = own is null ? [] : [.. own.Where(e => e.Value > 0).Select(e => new HashEntry(e.Key, e.Value))];
        ITransaction publish = db.CreateTransaction();
        _ = publish.KeyDeleteAsync([_ownKey, _ownNodeKey]);
        if (entries.Length > 0)
        {
            _ = publish.HashSetAsync(_ownKey, entries);
        }

        // The lease: a node that stops heartbeating drops out of every count, and of the registry, once it runs out.
        _ = publish.HashSetAsync(_ownNodeKey, ClusterNode.ToHash(report, Interlocked.Read(ref _heartbeats) + 1));
        _ = publish.KeyExpireAsync(_ownNodeKey, _options.Lease);
        _ = publish.KeyExpireAsync(_ownKey, _options.Lease);
        _ = publish.SetAddAsync(_nodesKey, _options.NodeId);
        await publish.ExecuteAsync().ConfigureAwait(false);
        LastReport = report;

        // Every other node's registry entry and counts, asked for at once (one round trip, pipelined).
        string[] ids = [.. (await db.SetMembersAsync(_nodesKey).ConfigureAwait(false)).Select(n => n.ToString()).Where(id => id != _options.NodeId)];
        Task<HashEntry[]>[] nodes = [.. ids.Select(id => db.HashGetAllAsync(NodeKey(id)))];
        Task<HashEntry[]>[] counts = own is null ? [] : [.. ids.Select(id => db.HashGetAllAsync(UsersKey(id)))];
        await Task.WhenAll(nodes.Concat(counts)).ConfigureAwait(false);

        var elsewhere = new Dictionary<string, int>(StringComparer.Ordinal);
        var others = new List<ClusterNode>(ids.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            if (ClusterNode.FromHash(ids[i], nodes[i].Result) is not { } node)
            {
                // Its lease ran out: it is gone, and so are its counts.
                await db.SetRemoveAsync(_nodesKey, ids[i]).ConfigureAwait(false);
                continue;
            }

            others.Add(node);
            foreach (HashEntry entry in counts.Length > 0 ? counts[i].Result : [])
            {
                if (entry.Value.TryParse(out int count) && count > 0)
                {
                    string user = entry.Name.ToString();
                    elsewhere[user] = elsewhere.GetValueOrDefault(user) + count;
                }
            }
        }

        Volatile.Write(ref _elsewhere, elsewhere);
        Directory.Update(others);

        await AdoptNonceKeyAsync(db).ConfigureAwait(false);

        // Revocations made while this node was away from Redis (or whose announcement it missed).
        RedisValue[] revoked = await db.SetMembersAsync(_revokedKey).ConfigureAwait(false);
        Volatile.Write(ref _revoked, new HashSet<string>(revoked.Select(r => r.ToString()), StringComparer.Ordinal));
        var secrets = new HashSet<string>((await db.SetMembersAsync(_revokedSecretsKey).ConfigureAwait(false)).Select(r => r.ToString()),
            StringComparer.Ordinal);
        if (!secrets.SetEquals(Volatile.Read(ref _revokedSecrets)))
        {
            SetRevokedSecrets(secrets);
        }
        return true;
    }

    /// <summary>Reads the region's nonce key, making one (32 random bytes) when there is none, and hands it on when it is new.</summary>
    private async Task AdoptNonceKeyAsync(IDatabase db)
    {
        if (NonceKeyChanged is not { } adopt)
        {
            return;
        }

        byte[]? key = await db.StringGetAsync(_nonceKey).ConfigureAwait(false);
        if (key is null)
        {
            // Only the first node to get here makes it; the others read what it made.
            await db.StringSetAsync(_nonceKey, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32), when: When.NotExists).ConfigureAwait(false);
            key = await db.StringGetAsync(_nonceKey).ConfigureAwait(false);
        }

        if (key is { Length: >= 16 } && !key.AsSpan().SequenceEqual(_lastNonceKey))
        {
            _lastNonceKey = key;
            adopt(key);
        }
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Cluster: node {Node} of region {Region} connected to Redis")]
    private static partial void Connected(ILogger logger, string node, string region);

    [LoggerMessage(EventId = 401, Level = LogLevel.Warning,
        Message = "Cluster: Redis unreachable ({Reason}); relaying goes on, quotas count this node's allocations only until it is back")]
    private static partial void Unreachable(ILogger logger, string reason);
}

/// <summary>What a revocation names: a username (or the user id of TURN REST usernames), or a TURN REST secret by its id.</summary>
public enum RevocationTarget
{
    User,
    Secret,
}

/// <summary>Where the cluster state lives and how this node takes part (--redis, --node-id, --region, --cluster-lease).</summary>
public sealed record RedisClusterOptions(string Configuration, string NodeId, string Region, TimeSpan Lease, TimeSpan Heartbeat);
