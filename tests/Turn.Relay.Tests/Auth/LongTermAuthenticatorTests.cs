using System.Text;
using Microsoft.Extensions.Time.Testing;
using Turn.Relay.Auth;
using Turn.Stun;

namespace Turn.Relay.Tests.Auth;

/// <summary>The server side of RFC 8489 §9.2.4, in the order of checklist items 38-48, with real messages.</summary>
public class LongTermAuthenticatorTests
{
    private const string Realm = "example.org";
    private const string RestSecret = "north-america-secret";
    private const string RestUsername = "4102444800:alice";

    private static readonly PasswordAlgorithm[] ServerList = [PasswordAlgorithm.Sha256, PasswordAlgorithm.Md5];

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero));

    private LongTermAuthenticator Authenticator(LongTermAuthOptions? options = null) => LongTermAuthenticator.Create(
        options ?? new LongTermAuthOptions { Realm = Realm, Users = ["alice:wonderland", "bob:builder"], RestSecrets = [RestSecret] },
        _time);

    private static AuthRequest Md5Request(Challenge challenge, string username, string password) => new()
    {
        Username = username,
        Realm = challenge.Realm,
        Nonce = challenge.Nonce,
        Key = AuthRequest.LongTermKey(username, challenge.Realm, password, PasswordAlgorithm.Md5),
    };

    private static AuthRequest Sha256Request(Challenge challenge, string username, string password) => new()
    {
        Username = username,
        Realm = challenge.Realm,
        Nonce = challenge.Nonce,
        Algorithms = ServerList,
        Algorithm = PasswordAlgorithm.Sha256,
        Key = AuthRequest.LongTermKey(username, challenge.Realm, password, PasswordAlgorithm.Sha256),
        Integrity = RequestIntegrity.MessageIntegritySha256,
    };

    /// <summary>
    /// RFC 8489 §9.2.4 (checklist 38, 40-42): a request without integrity gets 401 with REALM, a nonce that starts
    /// with the cookie and the "Password algorithms" bit (Errata 6290: "AAAB"), PASSWORD-ALGORITHMS SHA-256, MD5, and
    /// no USERNAME, USERHASH or integrity.
    /// </summary>
    [Fact]
    public void Rfc8489_S9_2_4_request_without_integrity_is_challenged_with_realm_nonce_and_algorithms()
    {
        Challenge challenge = AuthHarness.Challenge(Authenticator());

        Assert.Equal(StunErrorCode.Unauthenticated, challenge.ErrorCode);
        Assert.Equal(Realm, challenge.Realm);
        Assert.StartsWith("obMatJos2AAAB", challenge.Nonce, StringComparison.Ordinal);
        Assert.True(PasswordAlgorithmsValue.SequenceEqual(challenge.PasswordAlgorithms, ServerList));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(challenge.Message, out StunMessageReader reader));
        Assert.False(reader.HasMessageIntegrity || reader.HasMessageIntegritySha256);
        Assert.False(reader.TryGetAttribute(StunAttributeType.Username, out _));
        Assert.False(reader.TryGetAttribute(StunAttributeType.UserHash, out _));
    }

    /// <summary>RFC 8489 §9.2.4 (checklist 43): integrity without USERNAME/USERHASH, REALM or NONCE is a 400 without a challenge.</summary>
    [Theory]
    [InlineData("username")]
    [InlineData("realm")]
    [InlineData("nonce")]
    [InlineData("short-userhash")]
    public void Rfc8489_S9_2_4_integrity_without_username_realm_or_nonce_is_400(string missing)
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        AuthRequest request = Md5Request(challenge, "alice", "wonderland");
        request = missing switch
        {
            "username" => request with { Username = null },
            "realm" => request with { Realm = null },
            "nonce" => request with { Nonce = null },
            _ => request with { Username = null, UserHash = new byte[16] },
        };

        AuthOutcome outcome = AuthHarness.Run(authenticator, request.Build());

        Assert.Equal(AuthStatus.BadRequest, outcome.Status);
        Assert.Equal(StunErrorCode.BadRequest, AuthHarness.ErrorCode(outcome.Response));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(outcome.Response, out StunMessageReader reader));
        Assert.False(reader.TryGetAttribute(StunAttributeType.Nonce, out _));
        Assert.False(reader.HasMessageIntegrity || reader.HasMessageIntegritySha256);
    }

    /// <summary>
    /// RFC 8489 §9.2.4, §9.2.1 (checklist 44, bid-down protection): with the "Password algorithms" bit in the nonce,
    /// one attribute without the other, a list that differs from ours (an attacker stripping SHA-256, or reordering)
    /// or a choice outside the list is a 400.
    /// </summary>
    [Theory]
    [InlineData("algorithms-only")]
    [InlineData("algorithm-only")]
    [InlineData("list-stripped-to-md5")]
    [InlineData("list-reordered")]
    [InlineData("choice-not-in-list")]
    public void Rfc8489_S9_2_4_password_algorithm_bid_down_is_400(string tampering)
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        AuthRequest request = Sha256Request(challenge, "alice", "wonderland");
        request = tampering switch
        {
            "algorithms-only" => request with { Algorithm = null },
            "algorithm-only" => request with { Algorithms = null },
            "list-stripped-to-md5" => request with
            {
                Algorithms = [PasswordAlgorithm.Md5],
                Algorithm = PasswordAlgorithm.Md5,
                Key = AuthRequest.LongTermKey("alice", Realm, "wonderland", PasswordAlgorithm.Md5),
            },
            "list-reordered" => request with { Algorithms = [PasswordAlgorithm.Md5, PasswordAlgorithm.Sha256] },
            _ => request with { Algorithm = (PasswordAlgorithm)0x0003 },
        };

        Assert.Equal(AuthStatus.BadRequest, AuthHarness.Run(authenticator, request.Build()).Status);
    }

    /// <summary>RFC 8489 §9.2.4 (checklist 44, 48): neither attribute means MD5, answered with MESSAGE-INTEGRITY.</summary>
    [Fact]
    public void Rfc8489_S9_2_4_md5_without_algorithm_attributes_authenticates_and_signs_with_message_integrity()
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        byte[] key = AuthRequest.LongTermKey("alice", Realm, "wonderland", PasswordAlgorithm.Md5);

        AuthOutcome outcome = AuthHarness.Run(authenticator, Md5Request(challenge, "alice", "wonderland").Build());

        Assert.Equal(AuthStatus.Authenticated, outcome.Status);
        Assert.Equal("alice", outcome.Username);
        Assert.Equal("alice"u8.ToArray(), outcome.UsernameUtf8);
        Assert.True(outcome.IsStaticUser);
        Assert.Equal(PasswordAlgorithm.Md5, outcome.Algorithm);
        Assert.Equal(key, outcome.Key);
        Assert.Equal(ResponseIntegrity.MessageIntegrity, outcome.ResponseIntegrity);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(outcome.Response, out StunMessageReader response));
        Assert.True(response.VerifyMessageIntegrity(key));
        Assert.False(response.HasMessageIntegritySha256);
        Assert.True(response.VerifyFingerprint());
        Assert.False(response.TryGetAttribute(StunAttributeType.Realm, out _));
        Assert.False(response.TryGetAttribute(StunAttributeType.Nonce, out _));
    }

    /// <summary>
    /// RFC 8489 §9.2.4, §18.5.1.2 (checklist 33, 48): PASSWORD-ALGORITHMS echoed, PASSWORD-ALGORITHM SHA-256 and
    /// MESSAGE-INTEGRITY-SHA256: the 32-byte SHA-256 key, and the answer signed with MESSAGE-INTEGRITY-SHA256.
    /// </summary>
    [Fact]
    public void Rfc8489_S9_2_4_sha256_negotiated_authenticates_and_signs_with_message_integrity_sha256()
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        byte[] key = AuthRequest.LongTermKey("bob", Realm, "builder", PasswordAlgorithm.Sha256);

        AuthOutcome outcome = AuthHarness.Run(authenticator, Sha256Request(challenge, "bob", "builder").Build());

        Assert.Equal(AuthStatus.Authenticated, outcome.Status);
        Assert.Equal("bob", outcome.Username);
        Assert.Equal(PasswordAlgorithm.Sha256, outcome.Algorithm);
        Assert.Equal(32, outcome.Key!.Length);
        Assert.Equal(key, outcome.Key);
        Assert.Equal(ResponseIntegrity.MessageIntegritySha256, outcome.ResponseIntegrity);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(outcome.Response, out StunMessageReader response));
        Assert.True(response.VerifyMessageIntegritySha256(key));
        Assert.False(response.HasMessageIntegrity);
    }

    /// <summary>
    /// RFC 8489 §9.2.4 (checklist 48): choosing MD5 through the negotiation still gets MESSAGE-INTEGRITY-SHA256 (only
    /// a request "processed as though PASSWORD-ALGORITHM were MD5" gets MESSAGE-INTEGRITY).
    /// </summary>
    [Fact]
    public void Rfc8489_S9_2_4_negotiated_md5_is_answered_with_message_integrity_sha256()
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        AuthRequest request = Md5Request(challenge, "alice", "wonderland") with
        {
            Algorithms = ServerList,
            Algorithm = PasswordAlgorithm.Md5,
        };

        AuthOutcome outcome = AuthHarness.Run(authenticator, request.Build());

        Assert.Equal(AuthStatus.Authenticated, outcome.Status);
        Assert.Equal(PasswordAlgorithm.Md5, outcome.Algorithm);
        Assert.Equal(ResponseIntegrity.MessageIntegritySha256, outcome.ResponseIntegrity);
    }

    /// <summary>RFC 8489 §9.2.4 (checklist 45, 46, 51): invalid credentials are a 401 with REALM, NONCE and PASSWORD-ALGORITHMS.</summary>
    [Theory]
    [InlineData("unknown-user", AuthStatus.UnknownUser)]
    [InlineData("wrong-password", AuthStatus.IntegrityMismatch)]
    [InlineData("wrong-realm", AuthStatus.WrongRealm)]
    [InlineData("truncated-sha256", AuthStatus.IntegrityMismatch)]
    [InlineData("not-a-rest-timestamp", AuthStatus.UnknownUser)]
    [InlineData("rest-timestamp-overflow", AuthStatus.UnknownUser)]
    public void Rfc8489_S9_2_4_invalid_credentials_are_401_with_a_challenge(string scenario, AuthStatus expected)
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        AuthRequest request = scenario switch
        {
            "unknown-user" => Md5Request(challenge, "mallory", "wonderland"),
            "wrong-password" => Md5Request(challenge, "alice", "looking-glass"),
            "wrong-realm" => Md5Request(challenge with { Realm = "example.net" }, "alice", "wonderland"),
            // RFC 8489 §14.6: TURN does not allow truncating MESSAGE-INTEGRITY-SHA256.
            "truncated-sha256" => Sha256Request(challenge, "alice", "wonderland") with { Integrity = RequestIntegrity.TruncatedMessageIntegritySha256 },
            "not-a-rest-timestamp" => Md5Request(challenge, "soon:alice", "whatever"),
            _ => Md5Request(challenge, "99999999999999999999:alice", "whatever"),
        };

        AuthOutcome outcome = AuthHarness.Run(authenticator, request.Build());

        Assert.Equal(expected, outcome.Status);
        Challenge answer = Auth.Challenge.Read(outcome.Response);
        Assert.Equal(StunErrorCode.Unauthenticated, answer.ErrorCode);
        Assert.Equal(Realm, answer.Realm);
        Assert.StartsWith("obMatJos2", answer.Nonce, StringComparison.Ordinal);
        Assert.True(PasswordAlgorithmsValue.SequenceEqual(answer.PasswordAlgorithms, ServerList));
    }

    /// <summary>
    /// draft-uberti-behave-turn-rest-00 (checklist 153, 154): "expiry:id" with base64(HMAC-SHA1(secret, username)) as
    /// the password authenticates with the key MD5(username:realm:password), or SHA-256.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TurnRest_username_with_the_secrets_password_authenticates(bool sha256)
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        string password = LongTermCredentials.ComputeRestPassword(RestSecret, RestUsername);
        AuthRequest request = sha256 ? Sha256Request(challenge, RestUsername, password) : Md5Request(challenge, RestUsername, password);

        AuthOutcome outcome = AuthHarness.Run(authenticator, request.Build());

        Assert.Equal(AuthStatus.Authenticated, outcome.Status);
        Assert.Equal(RestUsername, outcome.Username);
        Assert.False(outcome.IsStaticUser);
        Assert.Equal(request.Key, outcome.Key);
    }

    /// <summary>Checklist 154: a REST password made with a secret we do not have fails the integrity check: 401.</summary>
    [Fact]
    public void TurnRest_password_from_an_unknown_secret_is_401()
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        string password = LongTermCredentials.ComputeRestPassword("someone-elses-secret", RestUsername);

        AuthOutcome outcome = AuthHarness.Run(authenticator, Md5Request(challenge, RestUsername, password).Build());

        Assert.Equal(AuthStatus.IntegrityMismatch, outcome.Status);
        Assert.Equal(StunErrorCode.Unauthenticated, AuthHarness.ErrorCode(outcome.Response));
    }

    /// <summary>
    /// A revoked TURN REST secret (a cluster's revocation, by the secret's id) no longer authenticates: credentials
    /// made with it get 401 as a wrong password does, those of the other secret still authenticate, and lifting the
    /// revocation lets the first back in. The id is the first 8 bytes of SHA-256 of the secret, in hex.
    /// </summary>
    [Fact]
    public void TurnRest_credentials_of_a_revoked_secret_are_401_and_the_other_secret_still_works()
    {
        const string Leaked = "leaked-secret";
        LongTermAuthenticator authenticator = Authenticator(new LongTermAuthOptions { Realm = Realm, RestSecrets = [Leaked, RestSecret] });
        string leakedId = LongTermCredentials.SecretId(Leaked);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Leaked)))[..16], leakedId);
        Assert.Equal(leakedId, authenticator.Credentials.RestSecretId(0));

        AuthStatus Try(string secret)
        {
            Challenge challenge = AuthHarness.Challenge(authenticator);
            string password = LongTermCredentials.ComputeRestPassword(secret, RestUsername);
            return AuthHarness.Run(authenticator, Md5Request(challenge, RestUsername, password).Build()).Status;
        }

        Assert.Equal(AuthStatus.Authenticated, Try(Leaked));
        authenticator.RevokedSecrets = new HashSet<string>([leakedId]);
        Assert.Equal(AuthStatus.IntegrityMismatch, Try(Leaked));
        Assert.Equal(AuthStatus.Authenticated, Try(RestSecret));
        authenticator.RevokedSecrets = new HashSet<string>();
        Assert.Equal(AuthStatus.Authenticated, Try(Leaked));
    }

    /// <summary>Checklist 154, 155: the timestamp is an expiry time; one second past it the username is refused (401).</summary>
    [Fact]
    public void TurnRest_username_past_its_expiry_is_401()
    {
        LongTermAuthenticator authenticator = Authenticator();
        long expiry = _time.GetUtcNow().ToUnixTimeSeconds() + 60;
        string username = expiry.ToString(System.Globalization.CultureInfo.InvariantCulture) + ":carol";
        string password = LongTermCredentials.ComputeRestPassword(RestSecret, username);

        Challenge challenge = AuthHarness.Challenge(authenticator);
        Assert.Equal(AuthStatus.Authenticated, AuthHarness.Run(authenticator, Md5Request(challenge, username, password).Build()).Status);

        _time.Advance(TimeSpan.FromSeconds(60));
        challenge = AuthHarness.Challenge(authenticator);
        Assert.Equal(AuthStatus.Authenticated, AuthHarness.Run(authenticator, Md5Request(challenge, username, password).Build()).Status);

        _time.Advance(TimeSpan.FromSeconds(1));
        challenge = AuthHarness.Challenge(authenticator);
        AuthOutcome outcome = AuthHarness.Run(authenticator, Md5Request(challenge, username, password).Build());
        Assert.Equal(AuthStatus.ExpiredCredentials, outcome.Status);
        Assert.Equal(StunErrorCode.Unauthenticated, Auth.Challenge.Read(outcome.Response).ErrorCode);
    }

    /// <summary>
    /// Secret rotation (coturn: several static-auth-secret values): credentials from either secret work; after the
    /// old secret is removed (a new credential snapshot), only the new one does.
    /// </summary>
    [Fact]
    public void TurnRest_rotation_accepts_every_configured_secret_and_drops_a_removed_one()
    {
        var options = new LongTermAuthOptions { Realm = Realm, RestSecrets = ["old-secret", "new-secret"] };
        LongTermAuthenticator authenticator = Authenticator(options);
        string oldPassword = LongTermCredentials.ComputeRestPassword("old-secret", RestUsername);
        string newPassword = LongTermCredentials.ComputeRestPassword("new-secret", RestUsername);

        Challenge challenge = AuthHarness.Challenge(authenticator);
        Assert.Equal(AuthStatus.Authenticated, AuthHarness.Run(authenticator, Md5Request(challenge, RestUsername, oldPassword).Build()).Status);
        Assert.Equal(AuthStatus.Authenticated, AuthHarness.Run(authenticator, Sha256Request(challenge, RestUsername, newPassword).Build()).Status);

        authenticator.Credentials = LongTermCredentials.Create(options with { RestSecrets = ["new-secret"] });

        Assert.Equal(AuthStatus.IntegrityMismatch, AuthHarness.Run(authenticator, Md5Request(challenge, RestUsername, oldPassword).Build()).Status);
        Assert.Equal(AuthStatus.Authenticated, AuthHarness.Run(authenticator, Md5Request(challenge, RestUsername, newPassword).Build()).Status);
    }

    /// <summary>Static users are looked up first; REST secrets still serve every other name when both are configured.</summary>
    [Fact]
    public void Static_users_and_rest_secrets_work_side_by_side()
    {
        // A timestamp-only name is a valid REST username too (checklist 153: the user id is optional).
        const string shadowed = "4102444800";
        var options = new LongTermAuthOptions { Realm = Realm, Users = [shadowed + ":static-password"], RestSecrets = [RestSecret] };
        LongTermAuthenticator authenticator = Authenticator(options);
        Challenge challenge = AuthHarness.Challenge(authenticator);

        AuthOutcome asStatic = AuthHarness.Run(authenticator, Md5Request(challenge, shadowed, "static-password").Build());
        Assert.Equal(AuthStatus.Authenticated, asStatic.Status);
        Assert.True(asStatic.IsStaticUser);

        // The static entry shadows the REST derivation for that exact name.
        string restPassword = LongTermCredentials.ComputeRestPassword(RestSecret, shadowed);
        Assert.Equal(AuthStatus.IntegrityMismatch, AuthHarness.Run(authenticator, Md5Request(challenge, shadowed, restPassword).Build()).Status);

        AuthOutcome asRest = AuthHarness.Run(authenticator,
            Md5Request(challenge, RestUsername, LongTermCredentials.ComputeRestPassword(RestSecret, RestUsername)).Build());
        Assert.Equal(AuthStatus.Authenticated, asRest.Status);
        Assert.False(asRest.IsStaticUser);
    }

    /// <summary>
    /// RFC 8489 §9.2.4 (checklist 47), coturn --stale-nonce: valid credentials with a nonce past its lifetime get
    /// 438 with a new valid NONCE, REALM and PASSWORD-ALGORITHMS; the new nonce then works.
    /// </summary>
    [Fact]
    public void Rfc8489_S9_2_4_nonce_past_its_lifetime_is_438_with_a_fresh_nonce()
    {
        LongTermAuthenticator authenticator = Authenticator(new LongTermAuthOptions
        {
            Realm = Realm,
            Users = ["alice:wonderland"],
            NonceLifetime = TimeSpan.FromSeconds(300),
        });
        Challenge challenge = AuthHarness.Challenge(authenticator);
        byte[] request = Md5Request(challenge, "alice", "wonderland").Build();

        _time.Advance(TimeSpan.FromSeconds(299));
        Assert.Equal(AuthStatus.Authenticated, AuthHarness.Run(authenticator, request).Status);

        _time.Advance(TimeSpan.FromSeconds(1));
        AuthOutcome stale = AuthHarness.Run(authenticator, request);
        Assert.Equal(AuthStatus.StaleNonce, stale.Status);
        Challenge renewed = Auth.Challenge.Read(stale.Response);
        Assert.Equal(StunErrorCode.StaleNonce, renewed.ErrorCode);
        Assert.Equal(Realm, renewed.Realm);
        Assert.NotEqual(challenge.Nonce, renewed.Nonce);
        Assert.True(PasswordAlgorithmsValue.SequenceEqual(renewed.PasswordAlgorithms, ServerList));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(stale.Response, out StunMessageReader reader));
        Assert.False(reader.HasMessageIntegrity || reader.HasMessageIntegritySha256);

        Assert.Equal(AuthStatus.Authenticated, AuthHarness.Run(authenticator, Md5Request(renewed, "alice", "wonderland").Build()).Status);
    }

    /// <summary>RFC 8489 §9.2.4 (checklist 47): the nonce check comes after the integrity check: a stale nonce with a wrong password is 401.</summary>
    [Fact]
    public void Rfc8489_S9_2_4_stale_nonce_with_bad_integrity_is_401_not_438()
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        _time.Advance(TimeSpan.FromSeconds(600));

        Assert.Equal(AuthStatus.IntegrityMismatch, AuthHarness.Run(authenticator, Md5Request(challenge, "alice", "nope").Build()).Status);
        Assert.Equal(AuthStatus.StaleNonce, AuthHarness.Run(authenticator, Md5Request(challenge, "alice", "wonderland").Build()).Status);
    }

    /// <summary>
    /// RFC 8489 §9.2.4 (checklist 39): a nonce is bound to the source IP and port it was issued to; from another port
    /// or address it is not valid (answered 438 with a nonce for the new source).
    /// </summary>
    [Theory]
    [InlineData("192.0.2.1", 32854)]
    [InlineData("192.0.2.2", 32853)]
    [InlineData("2001:db8::1", 32853)]
    public void Rfc8489_S9_2_4_nonce_from_another_source_is_not_valid(string ip, int port)
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator, AuthRequest.Client);
        byte[] request = Md5Request(challenge, "alice", "wonderland").Build();
        FiveTuple elsewhere = AuthRequest.Tuple(ip, port);

        AuthOutcome outcome = AuthHarness.Run(authenticator, request, elsewhere);

        Assert.Equal(AuthStatus.StaleNonce, outcome.Status);
        Challenge renewed = Auth.Challenge.Read(outcome.Response);
        Assert.Equal(NonceValidation.Valid, authenticator.Nonces.Validate(Encoding.ASCII.GetBytes(renewed.Nonce), elsewhere.Client));
        Assert.Equal(AuthStatus.Authenticated, AuthHarness.Run(authenticator, request, AuthRequest.Client).Status);
    }

    /// <summary>
    /// RFC 8489 §9.2.1, §9.2.4: the MAC covers the nonce cookie, so clearing the "Password algorithms" bit to dodge
    /// the negotiation (then sending MD5 without PASSWORD-ALGORITHM(S)) makes the nonce invalid.
    /// </summary>
    [Fact]
    public void Rfc8489_S9_2_1_clearing_the_password_algorithms_bit_invalidates_the_nonce()
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        string stripped = "obMatJos2AAAA" + challenge.Nonce[NonceCookie.Length..];

        AuthOutcome outcome = AuthHarness.Run(authenticator, Md5Request(challenge with { Nonce = stripped }, "alice", "wonderland").Build());

        Assert.Equal(AuthStatus.StaleNonce, outcome.Status);
    }

    /// <summary>
    /// Nodes sharing NonceSecret accept each other's nonces (a load balancer may switch nodes); a node with another
    /// secret does not (438, after integrity).
    /// </summary>
    [Fact]
    public void Nonces_are_accepted_by_every_node_sharing_the_nonce_secret()
    {
        var options = new LongTermAuthOptions { Realm = Realm, Users = ["alice:wonderland"], NonceSecret = "0123456789abcdef-shared" };
        LongTermAuthenticator first = Authenticator(options);
        LongTermAuthenticator second = Authenticator(options);
        LongTermAuthenticator stranger = Authenticator(options with { NonceSecret = "another-0123456789abcdef" });
        byte[] request = Md5Request(AuthHarness.Challenge(first), "alice", "wonderland").Build();

        Assert.Equal(AuthStatus.Authenticated, AuthHarness.Run(second, request).Status);
        Assert.Equal(AuthStatus.StaleNonce, AuthHarness.Run(stranger, request).Status);
    }

    /// <summary>
    /// RFC 8489 §9.2.4, §14.4 (checklist 36, 42): with static users only, USERHASH is honoured and the nonce carries
    /// both feature bits ("AAAD"); the result names the user the hash stands for.
    /// </summary>
    [Fact]
    public void Rfc8489_S14_4_userhash_authenticates_a_static_user()
    {
        LongTermAuthenticator authenticator = Authenticator(new LongTermAuthOptions { Realm = Realm, Users = ["alice:wonderland"] });
        Challenge challenge = AuthHarness.Challenge(authenticator);
        Assert.StartsWith("obMatJos2AAAD", challenge.Nonce, StringComparison.Ordinal);
        byte[] userHash = new byte[StunConstants.UserHashLength];
        StunCredentials.ComputeUserHash("alice", Realm, userHash);
        AuthRequest request = Sha256Request(challenge, "alice", "wonderland") with { Username = null, UserHash = userHash };

        AuthOutcome outcome = AuthHarness.Run(authenticator, request.Build());

        Assert.Equal(AuthStatus.Authenticated, outcome.Status);
        Assert.Equal("alice", outcome.Username);
        Assert.Equal("alice"u8.ToArray(), outcome.UsernameUtf8);
    }

    /// <summary>
    /// Checklist 42: with REST secrets configured the "Username anonymity" bit is not claimed by default (a REST
    /// username cannot be found from its hash), and USERHASH is refused with 401.
    /// </summary>
    [Fact]
    public void Rfc8489_S9_2_4_username_anonymity_is_off_by_default_when_rest_secrets_are_configured()
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        Assert.StartsWith("obMatJos2AAAB", challenge.Nonce, StringComparison.Ordinal);
        byte[] userHash = new byte[StunConstants.UserHashLength];
        StunCredentials.ComputeUserHash("alice", Realm, userHash);
        AuthRequest request = Md5Request(challenge, "alice", "wonderland") with { Username = null, UserHash = userHash };

        Assert.Equal(AuthStatus.UnknownUser, AuthHarness.Run(authenticator, request.Build()).Status);

        LongTermAuthenticator forced = Authenticator(new LongTermAuthOptions
        {
            Realm = Realm,
            Users = ["alice:wonderland"],
            RestSecrets = [RestSecret],
            UsernameAnonymity = true,
        });
        Assert.StartsWith("obMatJos2AAAD", AuthHarness.Challenge(forced).Nonce, StringComparison.Ordinal);
    }

    /// <summary>
    /// RFC 5769 §2.4 (checklist 32, 34): the long-term request of the test vector verifies through the static user
    /// "マトリックス"/"TheMatrIX" in realm example.org. Its nonce is not one of ours, so once the integrity has passed
    /// the answer is 438; with another password it stops at the integrity check (401).
    /// </summary>
    [Fact]
    public void Rfc5769_S2_4_long_term_vector_verifies_through_the_credential_source()
    {
        var vector = Turn.Stun.Tests.SpecFiles.Vector("rfc5769-2.4-long-term-request");
        byte[] message = Turn.Stun.Tests.SpecFiles.Hex(vector, "hex");
        var credentials = vector.GetProperty("credentials");
        string username = credentials.GetProperty("username").GetString()!;
        string password = credentials.GetProperty("password").GetString()!;
        string realm = credentials.GetProperty("realm").GetString()!;

        LongTermAuthenticator right = Authenticator(new LongTermAuthOptions { Realm = realm, Users = [$"{username}:{password}"] });
        LongTermAuthenticator wrong = Authenticator(new LongTermAuthOptions { Realm = realm, Users = [$"{username}:TheMatrix"] });

        Assert.Equal(AuthStatus.StaleNonce, AuthHarness.Run(right, message).Status);
        Assert.Equal(AuthStatus.IntegrityMismatch, AuthHarness.Run(wrong, message).Status);
    }

    /// <summary>
    /// RFC 8489 Appendix B.1 as corrected by Errata 6268 (checklist 29, 33, 36): USERHASH, PASSWORD-ALGORITHM SHA-256
    /// and MESSAGE-INTEGRITY-SHA256 verify through the USERHASH table and the SHA-256 key (then 438: foreign nonce).
    /// </summary>
    [Fact]
    public void Rfc8489_B1_userhash_vector_verifies_through_the_credential_source()
    {
        var vector = Turn.Stun.Tests.SpecFiles.Vector("rfc8489-B.1-errata-6268-corrected");
        byte[] message = Turn.Stun.Tests.SpecFiles.Hex(vector, "hex");
        var credentials = vector.GetProperty("credentials");
        string user = $"{credentials.GetProperty("username").GetString()}:{credentials.GetProperty("password").GetString()}";
        string realm = credentials.GetProperty("realm").GetString()!;

        LongTermAuthenticator anonymous = Authenticator(new LongTermAuthOptions { Realm = realm, Users = [user] });
        LongTermAuthenticator named = Authenticator(new LongTermAuthOptions { Realm = realm, Users = [user], UsernameAnonymity = false });

        Assert.Equal(AuthStatus.StaleNonce, AuthHarness.Run(anonymous, message).Status);
        Assert.Equal(AuthStatus.UnknownUser, AuthHarness.Run(named, message).Status);
    }

    /// <summary>
    /// Checklist 153-155 with the shared examples: every password recomputes; the 2020 usernames are expired today (401
    /// even with the right password); the 2100 one authenticates, with exactly the listed MD5 key.
    /// </summary>
    [Fact]
    public void TurnRest_shared_examples()
    {
        foreach (var example in Turn.Stun.Tests.SpecFiles.Root.GetProperty("turn_rest_api").GetProperty("examples").EnumerateArray())
        {
            string secret = example.GetProperty("secret").GetString()!;
            string username = example.GetProperty("username").GetString()!;
            string password = example.GetProperty("password").GetString()!;
            Assert.Equal(password, LongTermCredentials.ComputeRestPassword(secret, username));

            string realm = example.TryGetProperty("realm", out var r) ? r.GetString()! : Realm;
            var options = new LongTermAuthOptions { Realm = realm, RestSecrets = [secret] };
            // "Now" is the real clock here: the 2020 examples must be refused by a server running today.
            LongTermAuthenticator authenticator = LongTermAuthenticator.Create(options, TimeProvider.System);
            Challenge challenge = AuthHarness.Challenge(authenticator);
            AuthRequest request = Md5Request(challenge, username, password);
            if (example.TryGetProperty("long_term_md5_key_hex", out var keyHex))
            {
                byte[] listedKey = Convert.FromHexString(keyHex.GetString()!);
                Assert.Equal(listedKey, request.Key);
                request = request with { Key = listedKey };
            }

            bool expired = DateTimeOffset.Parse(example.GetProperty("expiry_utc").GetString()!, System.Globalization.CultureInfo.InvariantCulture)
                < DateTimeOffset.UtcNow;
            AuthOutcome outcome = AuthHarness.Run(authenticator, request.Build());
            Assert.Equal(expired ? AuthStatus.ExpiredCredentials : AuthStatus.Authenticated, outcome.Status);
            if (!expired)
            {
                Assert.Equal(request.Key, outcome.Key);
            }
        }
    }

    /// <summary>
    /// The hot path: once warm, authenticating a static user (MD5 and SHA-256) and a REST username allocates nothing
    /// on the managed heap (spans, stackalloc, inline key).
    /// </summary>
    [Theory]
    [InlineData("alice", false)]
    [InlineData("alice", true)]
    [InlineData(RestUsername, false)]
    public void Authenticate_allocates_nothing_once_warm(string username, bool sha256)
    {
        LongTermAuthenticator authenticator = Authenticator();
        Challenge challenge = AuthHarness.Challenge(authenticator);
        string password = username == RestUsername ? LongTermCredentials.ComputeRestPassword(RestSecret, username) : "wonderland";
        byte[] request = (sha256 ? Sha256Request(challenge, username, password) : Md5Request(challenge, username, password)).Build();
        FiveTuple tuple = AuthRequest.Client;

        int authenticated = AuthenticateMany(authenticator, request, tuple, 10);
        long before = GC.GetAllocatedBytesForCurrentThread();
        authenticated += AuthenticateMany(authenticator, request, tuple, 200);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(210, authenticated);
        Assert.Equal(0, allocated);
    }

    private static int AuthenticateMany(LongTermAuthenticator authenticator, byte[] request, FiveTuple tuple, int count)
    {
        int authenticated = 0;
        for (int i = 0; i < count; i++)
        {
            StunMessageReader.TryParse(request, out StunMessageReader reader);
            if (authenticator.Authenticate(reader, tuple, out AuthResult result) == AuthStatus.Authenticated && result.Key.Length > 0)
            {
                authenticated++;
            }
        }

        return authenticated;
    }
}
