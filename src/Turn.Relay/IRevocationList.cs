namespace Turn.Relay;

/// <summary>
/// Usernames whose credentials were revoked (in a cluster: on any node). A revoked user gets no new allocation and no
/// refresh. Read on every Allocate and Refresh, so it answers from memory.
/// </summary>
public interface IRevocationList
{
    bool IsRevoked(string username);
}

/// <summary>How a revoked name matches a request's USERNAME: exactly, or as the user id of a TURN REST username ("expiry:user").</summary>
public static class RevokedNames
{
    public static bool Matches(IReadOnlySet<string> revoked, string username)
    {
        ArgumentNullException.ThrowIfNull(revoked);
        ArgumentNullException.ThrowIfNull(username);
        if (revoked.Count == 0)
        {
            return false;
        }

        if (revoked.Contains(username))
        {
            return true;
        }

        int colon = username.IndexOf(':', StringComparison.Ordinal);
        return colon >= 0 && revoked.Contains(username[(colon + 1)..]);
    }
}
