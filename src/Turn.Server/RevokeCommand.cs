using StackExchange.Redis;
using Turn.Cluster.Redis;

namespace Turn.Server;

/// <summary>
/// <c>turn-server revoke</c>: revokes (or restores) a username on every node of a region through the cluster's Redis,
/// the same as POST /revoke on a node's admin listener, for a signaling backend or an operator without admin access.
/// </summary>
public static class RevokeCommand
{
    public const string Name = "revoke";

    public const string Usage =
        """
        Usage: turn-server revoke --redis CONFIG --user NAME [--region NAME] [--end-allocations] [--restore]

        Revokes a username on every node of the region that shares CONFIG: its Allocate and Refresh requests get 403 from
        then on. NAME is a long-term username, or the user id of TURN REST usernames (EXPIRY:NAME).

          --redis CONFIG       The cluster's Redis (as the nodes' --redis).
          --user NAME          The username to revoke.
          --region NAME        The nodes' --region (default "default").
          --end-allocations    End the user's live allocations too.
          --restore            Lift an earlier revocation instead.

        """;

    /// <summary>Runs the command; returns the process exit status (0 done, 1 Redis unreachable, 2 bad arguments).</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        string? redis = null, user = null, region = "default";
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
                case "--redis" or "--user" or "--region" when i + 1 < args.Count:
                    string option = args[i];
                    string value = args[++i];
                    _ = option switch
                    {
                        "--redis" => redis = value,
                        "--user" => user = value,
                        _ => region = value,
                    };
                    break;
                default:
                    await error.WriteLineAsync($"turn-server revoke: unknown or incomplete option '{args[i]}'").ConfigureAwait(false);
                    await error.WriteAsync(Usage).ConfigureAwait(false);
                    return 2;
            }
        }

        if (string.IsNullOrEmpty(redis) || string.IsNullOrEmpty(user) || string.IsNullOrEmpty(region))
        {
            await error.WriteLineAsync("turn-server revoke: --redis and --user are needed").ConfigureAwait(false);
            return 2;
        }

        await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(RedisClusterState.ConfigurationFor(redis))
            .ConfigureAwait(false);
        if (!connection.IsConnected)
        {
            await error.WriteLineAsync($"turn-server revoke: Redis at '{redis}' is unreachable; nothing changed").ConfigureAwait(false);
            return 1;
        }

        if (restore)
        {
            await RedisClusterState.RestoreAsync(connection, region, user).ConfigureAwait(false);
            await output.WriteLineAsync($"restored {user} in region {region}").ConfigureAwait(false);
        }
        else
        {
            await RedisClusterState.RevokeAsync(connection, region, user, end).ConfigureAwait(false);
            await output.WriteLineAsync($"revoked {user} in region {region}{(end ? ", live allocations ended" : "")}").ConfigureAwait(false);
        }

        return 0;
    }
}
