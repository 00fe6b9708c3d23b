using System.Security.Cryptography;
using Turn.Stun;

namespace Turn.Relay.Auth;

/// <summary>
/// The server side of the long-term credential mechanism (RFC 8489 §9.2.4), checks in the RFC's order: integrity
/// present, the attributes it needs, the PASSWORD-ALGORITHM(S) bid-down checks, realm, user, integrity, and only then
/// the nonce. Static users are looked up first, then TURN REST API usernames against every shared secret.
/// </summary>
/// <remarks>
/// <see cref="Authenticate"/> allocates nothing on the managed heap, for static users and REST usernames alike: keys
/// are derived on the stack and held inline in <see cref="AuthResult"/>, the username is a span. Thread-safe: the
/// credentials are an immutable snapshot swapped whole by <see cref="Credentials"/>. Through
/// <see cref="ITurnAuthenticator"/> (what the TURN handlers call) a REST username costs one string per request,
/// since <see cref="RequestKey.Username"/> is a string; a static user's name is the cached one.
/// </remarks>
public sealed class LongTermAuthenticator : ITurnAuthenticator
{
    // RFC 8489 §9.2.4: the order is the server's preference; SHA-256 first.
    private static readonly PasswordAlgorithm[] ServerAlgorithms = [PasswordAlgorithm.Sha256, PasswordAlgorithm.Md5];

    private readonly TimeProvider _time;
    private readonly long[] _outcomes = new long[Enum.GetValues<AuthStatus>().Length];
    private LongTermCredentials _credentials;
    private volatile IReadOnlySet<string> _revokedSecrets = new HashSet<string>(StringComparer.Ordinal);

    public LongTermAuthenticator(LongTermCredentials credentials, NonceService nonces, TimeProvider timeProvider)
    {
        _credentials = credentials ?? throw new ArgumentNullException(nameof(credentials));
        Nonces = nonces ?? throw new ArgumentNullException(nameof(nonces));
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
    }

    /// <summary>The PASSWORD-ALGORITHMS list every challenge carries and every echo must equal: SHA-256, MD5.</summary>
    public static ReadOnlySpan<PasswordAlgorithm> PasswordAlgorithms => ServerAlgorithms;

    /// <summary>The current credential snapshot; setting it (configuration reload) affects the next request.</summary>
    public LongTermCredentials Credentials
    {
        get => Volatile.Read(ref _credentials);
        set => Volatile.Write(ref _credentials, value ?? throw new ArgumentNullException(nameof(value)));
    }

    public NonceService Nonces { get; }

    /// <summary>
    /// Ids of TURN REST secrets that no longer authenticate (<see cref="LongTermCredentials.SecretId"/>): credentials
    /// minted with one of them get 401 as if the password were wrong. Set whole (a cluster's revocations).
    /// </summary>
    public IReadOnlySet<string> RevokedSecrets
    {
        get => _revokedSecrets;
        set => _revokedSecrets = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>
    /// How many TURN requests the engine authenticated with this outcome (failures by reason for the metrics;
    /// <see cref="AuthStatus.Challenge"/> is the normal first round trip of every client, not a failure).
    /// </summary>
    public long Outcomes(AuthStatus status) => Interlocked.Read(ref _outcomes[(int)status]);

    /// <summary>Credentials and nonces from options; throws <see cref="ArgumentException"/> naming a bad key.</summary>
    public static LongTermAuthenticator Create(LongTermAuthOptions options, TimeProvider timeProvider) =>
        new(LongTermCredentials.Create(options), NonceService.Create(options, timeProvider), timeProvider);

    /// <summary>
    /// Runs RFC 8489 §9.2.4 on a request. On <see cref="AuthStatus.Authenticated"/>, <paramref name="result"/> holds
    /// the user, key and signing rule; otherwise it is default and the status says which error to answer.
    /// </summary>
    public AuthStatus Authenticate(scoped in StunMessageReader request, scoped in FiveTuple tuple, out AuthResult result)
    {
        result = default;
        LongTermCredentials credentials = Credentials;

        // RFC 8489 §9.2.4 (checklist 38): no MESSAGE-INTEGRITY(-SHA256): 401 with REALM and a fresh NONCE.
        if (!request.HasMessageIntegrity && !request.HasMessageIntegritySha256)
        {
            return AuthStatus.Challenge;
        }

        ReadOnlySpan<byte> username = default, userHash = default, realm = default, nonce = default;
        ReadOnlySpan<byte> algorithms = default, algorithm = default;
        bool hasUsername = false, hasUserHash = false, hasRealm = false, hasNonce = false;
        bool hasAlgorithms = false, hasAlgorithm = false;
        foreach (StunAttribute attribute in request.Attributes)
        {
            // RFC 8489 §14: the first of duplicates counts, as TryGetAttribute does.
            switch (attribute.KnownType)
            {
                case StunAttributeType.Username when !hasUsername:
                    username = attribute.Value;
                    hasUsername = true;
                    break;
                case StunAttributeType.UserHash when !hasUserHash:
                    userHash = attribute.Value;
                    hasUserHash = true;
                    break;
                case StunAttributeType.Realm when !hasRealm:
                    realm = attribute.Value;
                    hasRealm = true;
                    break;
                case StunAttributeType.Nonce when !hasNonce:
                    nonce = attribute.Value;
                    hasNonce = true;
                    break;
                case StunAttributeType.PasswordAlgorithms when !hasAlgorithms:
                    algorithms = attribute.Value;
                    hasAlgorithms = true;
                    break;
                case StunAttributeType.PasswordAlgorithm when !hasAlgorithm:
                    algorithm = attribute.Value;
                    hasAlgorithm = true;
                    break;
            }
        }

        // RFC 8489 §9.2.4 (checklist 43): integrity without USERNAME/USERHASH, REALM or NONCE: 400, no integrity.
        // USERNAME wins when both are present; a USERHASH that is not 32 bytes is malformed (§14.4).
        if ((!hasUsername && (!hasUserHash || userHash.Length != StunConstants.UserHashLength)) || !hasRealm || !hasNonce)
        {
            return AuthStatus.BadRequest;
        }

        // RFC 8489 §9.2.4 (checklist 44): bid-down protection of the password algorithm negotiation.
        if (!TrySelectAlgorithm(nonce, hasAlgorithms, algorithms, hasAlgorithm, algorithm,
                out PasswordAlgorithm passwordAlgorithm, out ResponseIntegrity responseIntegrity))
        {
            return AuthStatus.BadRequest;
        }

        // RFC 8489 §9.2.4: another realm's credentials are not valid here: 401 with our REALM.
        if (!realm.SequenceEqual(credentials.RealmUtf8))
        {
            return AuthStatus.WrongRealm;
        }

        Span<byte> key = stackalloc byte[LongTermKeyBuffer.Length];
        int keyLength;
        string? secretId = null;
        StaticUser? user = null;
        bool found = hasUsername
            ? credentials.TryFindUser(username, out user)
            : credentials.SupportsUserHash && credentials.TryFindUserByHash(userHash, out user);
        if (found)
        {
            // RFC 8489 §9.2.4 (checklist 46): MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY.
            ReadOnlySpan<byte> userKey = user!.GetKey(passwordAlgorithm);
            if (!VerifyIntegrity(request, userKey))
            {
                return AuthStatus.IntegrityMismatch;
            }

            userKey.CopyTo(key);
            keyLength = userKey.Length;
            if (!hasUsername)
            {
                username = user.NameUtf8;
            }
        }
        else
        {
            // RFC 8489 §9.2.4 (checklist 45): an unknown user (a USERHASH cannot name a REST user) is a 401.
            if (!hasUsername)
            {
                return AuthStatus.UnknownUser;
            }

            // draft-uberti-behave-turn-rest-00 (checklist 153-155): an unexpired "<expiry>[:<id>]" username whose
            // password is base64(HMAC-SHA1(secret, username)) for some configured secret. Each secret gives another
            // key; the one under which the integrity verifies is the right one.
            AuthStatus rest = credentials.CheckRestUsername(username, _time.GetUtcNow().ToUnixTimeSeconds());
            if (rest != AuthStatus.Authenticated)
            {
                return rest;
            }

            keyLength = 0;
            IReadOnlySet<string> revoked = _revokedSecrets;
            for (int secret = 0; secret < credentials.RestSecretCount; secret++)
            {
                if (revoked.Count > 0 && revoked.Contains(credentials.RestSecretId(secret)))
                {
                    continue;
                }

                int length = credentials.DeriveRestKey(secret, username, passwordAlgorithm, key);
                if (VerifyIntegrity(request, key[..length]))
                {
                    keyLength = length;
                    secretId = credentials.RestSecretId(secret);
                    break;
                }
            }

            if (keyLength == 0)
            {
                CryptographicOperations.ZeroMemory(key);
                return AuthStatus.IntegrityMismatch;
            }
        }

        // RFC 8489 §9.2.4 (checklist 47): only a request whose integrity verified learns that its nonce is stale.
        // A nonce that is not ours, or was issued to another client address, gets the same 438 as an expired one:
        // the sender holds valid credentials, so the quickest way forward is a fresh nonce, not a new challenge.
        if (Nonces.Validate(nonce, tuple.Client) != NonceValidation.Valid)
        {
            CryptographicOperations.ZeroMemory(key);
            return AuthStatus.StaleNonce;
        }

        result = new AuthResult(username, user, key[..keyLength], passwordAlgorithm, responseIntegrity, secretId);
        CryptographicOperations.ZeroMemory(key);
        return AuthStatus.Authenticated;
    }

    /// <summary>
    /// The engine's view: the finer <see cref="AuthStatus"/> folded into the four answers, and the result copied
    /// into a <see cref="RequestKey"/> (signed with MESSAGE-INTEGRITY-SHA256 when the request used PASSWORD-ALGORITHM).
    /// </summary>
    AuthenticationStatus ITurnAuthenticator.Authenticate(in StunMessageReader request, in FiveTuple tuple, out RequestKey key)
    {
        AuthStatus status = Authenticate(request, tuple, out AuthResult result);
        Interlocked.Increment(ref _outcomes[(int)status]);
        key = status == AuthStatus.Authenticated
            ? new RequestKey(result.GetUsername(), result.Key, result.ResponseIntegrity == ResponseIntegrity.MessageIntegritySha256, result.SecretId)
            : default;
        return status switch
        {
            AuthStatus.Authenticated => AuthenticationStatus.Authenticated,
            AuthStatus.BadRequest => AuthenticationStatus.BadRequest,
            AuthStatus.StaleNonce => AuthenticationStatus.StaleNonce,
            _ => AuthenticationStatus.Unauthenticated,
        };
    }

    /// <summary>
    /// RFC 8489 §9.2.4: REALM, a fresh NONCE bound to the client's address and PASSWORD-ALGORITHMS, for a 401 or
    /// 438, never USERNAME, USERHASH or integrity. Append after ERROR-CODE; allocates nothing. A buffer too small
    /// shows in <see cref="StunMessageWriter.HasOverflowed"/>.
    /// </summary>
    public void AddChallenge(ref StunMessageWriter writer, in FiveTuple tuple)
    {
        LongTermCredentials credentials = Credentials;
        writer.AddAttribute(StunAttributeType.Realm, credentials.RealmUtf8);
        if (writer.TryAddAttribute(StunAttributeType.Nonce, NonceService.NonceLength, out Span<byte> nonce))
        {
            Nonces.Issue(credentials.Features, tuple.Client, nonce);
        }

        writer.AddPasswordAlgorithms(ServerAlgorithms);
    }

    private static bool VerifyIntegrity(in StunMessageReader request, ReadOnlySpan<byte> key) =>
        request.HasMessageIntegritySha256
            ? request.VerifyMessageIntegritySha256(key) // TURN does not allow truncation: the full 32 bytes.
            : request.VerifyMessageIntegrity(key);

    /// <summary>
    /// RFC 8489 §9.2.4: with the "Password algorithms" bit in the nonce, neither attribute means MD5; otherwise both
    /// must be present, PASSWORD-ALGORITHMS must equal the list we send, and PASSWORD-ALGORITHM must be in it.
    /// </summary>
    private static bool TrySelectAlgorithm(
        ReadOnlySpan<byte> nonce, bool hasAlgorithms, ReadOnlySpan<byte> algorithms, bool hasAlgorithm,
        ReadOnlySpan<byte> algorithm, out PasswordAlgorithm selected, out ResponseIntegrity responseIntegrity)
    {
        selected = PasswordAlgorithm.Md5;
        responseIntegrity = ResponseIntegrity.MessageIntegrity;
        PasswordAlgorithm chosen;
        ReadOnlySpan<byte> parameters;
        if (NonceCookie.TryParse(nonce, out SecurityFeatures features) && (features & SecurityFeatures.PasswordAlgorithms) != 0)
        {
            if (!hasAlgorithms && !hasAlgorithm)
            {
                return true;
            }

            if (!hasAlgorithms || !hasAlgorithm
                || !PasswordAlgorithmsValue.SequenceEqual(algorithms, ServerAlgorithms)
                || !PasswordAlgorithmsValue.TryReadSingle(algorithm, out chosen, out parameters)
                || !parameters.IsEmpty
                || !PasswordAlgorithmsValue.Contains(algorithms, chosen))
            {
                return false;
            }
        }
        else if (hasAlgorithm)
        {
            // Not one of our nonces (it will earn a 438 once the integrity verifies), or a client that names the
            // algorithm without the negotiation, as RFC 8489 Appendix B.1 does: PASSWORD-ALGORITHM picks the key.
            if (!PasswordAlgorithmsValue.TryReadSingle(algorithm, out chosen, out parameters) || !parameters.IsEmpty
                || chosen is not (PasswordAlgorithm.Md5 or PasswordAlgorithm.Sha256))
            {
                return false;
            }
        }
        else
        {
            return true;
        }

        selected = chosen;
        responseIntegrity = ResponseIntegrity.MessageIntegritySha256;
        return true;
    }
}
