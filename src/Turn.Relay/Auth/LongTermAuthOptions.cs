using System.Text;

namespace Turn.Relay.Auth;

/// <summary>
/// Configuration of the long-term credential mechanism (RFC 8489 §9.2) with static users and TURN REST API shared
/// secrets (draft-uberti-behave-turn-rest-00). Checked once by <see cref="LongTermCredentials.Create"/> and
/// <see cref="LongTermAuthenticator.Create"/>; a bad value fails there with a message naming the key.
/// </summary>
public sealed record LongTermAuthOptions
{
    /// <summary>RFC 8656 §5, RFC 8489 §9.2.4: names the credential set; the provider's domain name (coturn --realm).</summary>
    public string Realm { get; init; } = "";

    /// <summary>
    /// Static users as "name:password" (coturn --user); the name ends at the first ':'. Only the derived keys are
    /// kept after loading.
    /// </summary>
    public IReadOnlyList<string> Users { get; init; } = [];

    /// <summary>
    /// TURN REST API shared secrets (coturn --static-auth-secret, repeatable for rotation): every one is tried.
    /// </summary>
    public IReadOnlyList<string> RestSecrets { get; init; } = [];

    /// <summary>Between the expiry timestamp and the user id of a REST username (coturn --rest-api-separator).</summary>
    public char RestUsernameSeparator { get; init; } = ':';

    /// <summary>How long a nonce stays valid (coturn --stale-nonce, default 600 s); 1 s to 365 days.</summary>
    public TimeSpan NonceLifetime { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>
    /// The HMAC key of the stateless nonces, at least 16 characters; nodes behind one load balancer share it so any
    /// node accepts another's nonce. Null: a random key per process.
    /// </summary>
    public string? NonceSecret { get; init; }

    /// <summary>
    /// Whether static users may send USERHASH instead of USERNAME (RFC 8489 §9.2.4 "Username anonymity" bit). Null
    /// (default): on when static users are configured and no REST secrets, since a REST username cannot be recovered
    /// from its hash and a client that sees the bit may choose to hash. True: on whenever static users exist.
    /// </summary>
    public bool? UsernameAnonymity { get; init; }

    // Records print every property; passwords and secrets must never reach a log (DESIGN.md "Secrets").
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Realm = ").Append(Realm)
            .Append(", Users = ").Append(Users.Count).Append(" configured")
            .Append(", RestSecrets = ").Append(RestSecrets.Count).Append(" configured")
            .Append(", RestUsernameSeparator = ").Append(RestUsernameSeparator)
            .Append(", NonceLifetime = ").Append(NonceLifetime)
            .Append(", NonceSecret = ").Append(NonceSecret is null ? "(random per process)" : "(set)")
            .Append(", UsernameAnonymity = ").Append(UsernameAnonymity?.ToString() ?? "(auto)");
        return true;
    }
}
