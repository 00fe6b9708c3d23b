using StackExchange.Redis;
using Turn.Cluster.Redis;

namespace Turn.Server;

/// <summary>
/// <c>turn-server revoke</c>: revokes (or restores) a username or a TURN REST secret on every node of a region through
/// the cluster's Redis, the same as POST /revoke on a node's admin listener, for a signaling backend or an operator
/// without admin access.
/// </summary>
public static class RevokeCommand
{
    public const string Name = "revoke";

    public const string Usage =
        """
        Usage: turn-server revoke --redis CONFIG (--user NAME | --secret SECRET | --secret-id ID) [--region NAME]
                                  [--end-allocations] [--restore]

        Revokes, on every node of the region that shares CONFIG:
          a username: its Allocate and Refresh requests get 403 from then on. NAME is a long-term username, or the user
            id of TURN REST usernames (EXPIRY:NAME);
          a TURN REST shared secret (a leaked one): credentials made with it get 401 from then on, while the other
            secrets keep working. Only its id goes to Redis (the first 16 hex digits of its SHA-256); --secret computes
            it here, --secret-id gives it as the nodes log it at start.

          --redis CONFIG       The cluster's Redis (as the nodes' --redis).
          --user NAME          The username to revoke.
          --secret SECRET      The REST secret to revoke.
          --secret-id ID       The REST secret to revoke, by its id.
          --region NAME        The nodes' --region (default "default").
          --end-allocations    End the live allocations made with it too.
          --restore            Lift an earlier revocation instead.

        """;

    /// <summary>Runs the command; returns the process exit status (0 done, 1 Redis unreachable, 2 bad arguments).</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        string? redis = null, user = null, secret = null, secretId = null, region = "default";
        bool end = false, restore = false;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    await output.WriteAsync(Usage).ConfigureAwait(false);
                    return 0;
                case "--end-allocations":
                    end = true;
                    break;
                case "--restore":
                    restore = true;
                    break;
                case "--redis" or "--user" or "--secret" or "--secret-id" or "--region" when i + 1 < args.Count:
                    string option = args[i];
                    string value = args[++i];
                    _ = option switch
                    {
                        "--redis" => redis = value,
                        "--user" => user = value,
                        "--secret" => secret = value,
                        "--secret-id" => secretId = value,
                        _ => region = value,
                    };
                    break;
                default:
                    await error.WriteLineAsync($"turn-server revoke: unknown or incomplete option '{args[i]}'").ConfigureAwait(false);
                    await error.WriteAsync(Usage).ConfigureAwait(false);
                    return 2;
            }
        }

        if (string.IsNullOrEmpty(redis) || string.IsNullOrEmpty(region) || new[] { user, secret, secretId }.Count(v => !string.IsNullOrEmpty(v)) != 1)
        {
            await error.WriteLineAsync("turn-server revoke: --redis and one of --user, --secret, --secret-id are needed").ConfigureAwait(false);
            return 2;
        }

        if (!string.IsNullOrEmpty(secret))
        {
            secretId = Turn.Relay.Auth.LongTermCredentials.SecretId(secret);
        }

        (RevocationTarget target, string name, string what) = string.IsNullOrEmpty(user)
            ? (RevocationTarget.Secret, secretId!, $"REST secret {secretId}")
            : (RevocationTarget.User, user, user);

        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(RedisClusterState.ConfigurationFor(redis))
            .ConfigureAwait(false);
        if (!connection.IsConnected)
        {
            await error.WriteLineAsync($"turn-server revoke: Redis at '{redis}' is unreachable; nothing changed").ConfigureAwait(false);
            return 1;
        }

        if (restore)
        {
            await RedisClusterState.RestoreAsync(connection, region, target, name).ConfigureAwait(false);
            await output.WriteLineAsync($"restored {what} in region {region}").ConfigureAwait(false);
        }
        else
        {
            await RedisClusterState.RevokeAsync(connection, region, target, name, end).ConfigureAwait(false);
            await output.WriteLineAsync($"revoked {what} in region {region}{(end ? ", live allocations ended" : "")}").ConfigureAwait(false);
        }

        return 0;
    }
}
