using System.Buffers;
using System.Buffers.Text;
using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;
using Turn.Stun;

namespace Turn.Relay.Auth;

/// <summary>
/// One immutable snapshot of the credential sources of a realm: static users (kept as derived keys only) and TURN
/// REST API shared secrets (draft-uberti-behave-turn-rest-00). A reload builds a new snapshot and swaps it in
/// (<see cref="LongTermAuthenticator.Credentials"/>). Lookups allocate nothing.
/// </summary>
public sealed class LongTermCredentials
{
    /// <summary>Length of a REST password: base64 of a 20-byte HMAC-SHA1.</summary>
    internal const int RestPasswordLength = 28;

    /// <summary>A REST expiry timestamp of more digits would not fit a long; such a username is not a REST one.</summary>
    private const int MaxTimestampDigits = 18;

    private readonly FrozenDictionary<string, StaticUser> _users;
    private readonly FrozenDictionary<string, StaticUser>.AlternateLookup<ReadOnlySpan<char>> _usersByName;
    private readonly FrozenDictionary<UserHashKey, StaticUser> _usersByHash;
    private readonly byte[][] _restSecrets;
    private readonly string[] _restSecretIds;
    private readonly byte _restSeparator;
    private readonly byte[] _realmUtf8;
    private readonly byte[] _preparedRealmUtf8;

    /// <param name="realm">RFC 8656 §5: the realm of this credential set.</param>
    /// <param name="users">Static users: name and password. The passwords are not kept.</param>
    /// <param name="restSecrets">TURN REST API shared secrets, all tried (rotation).</param>
    /// <param name="restUsernameSeparator">Between expiry and user id in a REST username; ASCII, not a digit.</param>
    /// <param name="usernameAnonymity">See <see cref="LongTermAuthOptions.UsernameAnonymity"/>.</param>
    public LongTermCredentials(
        string realm,
        IEnumerable<KeyValuePair<string, string>> users,
        IEnumerable<string> restSecrets,
        char restUsernameSeparator = ':',
        bool? usernameAnonymity = null)
    {
        ArgumentNullException.ThrowIfNull(realm);
        ArgumentNullException.ThrowIfNull(users);
        ArgumentNullException.ThrowIfNull(restSecrets);

        // RFC 8489 §14.9: REALM is fewer than 128 characters; RFC 8656 §5: a realm is required.
        _realmUtf8 = Encoding.UTF8.GetBytes(realm);
        if (realm.Length == 0 || !TextValue.IsValidText(_realmUtf8, StunConstants.MaxTextCharacters)
            || _realmUtf8.Length > StunConstants.MaxTextBytes)
        {
            throw new ArgumentException("Realm must be 1 to 127 characters (RFC 8489 §14.9).", nameof(realm));
        }

        if (restUsernameSeparator is > '\x7F' or (>= '0' and <= '9') || char.IsControl(restUsernameSeparator))
        {
            throw new ArgumentException("RestUsernameSeparator must be a printable ASCII character other than a digit.",
                nameof(restUsernameSeparator));
        }

        Realm = realm;
        _preparedRealmUtf8 = Encoding.UTF8.GetBytes(StunCredentials.OpaqueString(realm));
        _restSeparator = (byte)restUsernameSeparator;

        var byName = new Dictionary<string, StaticUser>(StringComparer.Ordinal);
        foreach (var (name, password) in users)
        {
            // RFC 8489 §14.3: a USERNAME is fewer than 509 bytes when sent.
            if (string.IsNullOrEmpty(name) || Encoding.UTF8.GetByteCount(name) >= 509)
            {
                throw new ArgumentException("Users: every user name must be 1 to 508 bytes of UTF-8 (RFC 8489 §14.3).", nameof(users));
            }

            if (string.IsNullOrEmpty(password))
            {
                throw new ArgumentException($"Users: the password of '{name}' is empty.", nameof(users));
            }

            if (!byName.TryAdd(name, new StaticUser(name, realm, password)))
            {
                throw new ArgumentException($"Users: '{name}' is listed twice.", nameof(users));
            }
        }

        _users = byName.ToFrozenDictionary(StringComparer.Ordinal);
        _usersByName = _users.GetAlternateLookup<ReadOnlySpan<char>>();

        var secrets = new List<byte[]>();
        foreach (string secret in restSecrets)
        {
            if (string.IsNullOrEmpty(secret))
            {
                throw new ArgumentException("RestSecrets: a shared secret is empty.", nameof(restSecrets));
            }

            secrets.Add(Encoding.UTF8.GetBytes(secret));
        }

        _restSecrets = [.. secrets];
        _restSecretIds = [.. restSecrets.Select(SecretId)];

        SupportsUserHash = _users.Count > 0 && (usernameAnonymity ?? _restSecrets.Length == 0);
        var byHash = new Dictionary<UserHashKey, StaticUser>();
        if (SupportsUserHash)
        {
            foreach (StaticUser user in _users.Values)
            {
                // Two names hashing alike would take SHA-256 collisions; first one wins if it ever happened.
                byHash.TryAdd(UserHashKey.Read(user.UserHash), user);
            }
        }

        _usersByHash = byHash.ToFrozenDictionary();
    }

    public string Realm { get; }

    /// <summary>REALM as sent in challenges and compared with requests (RFC 8489 §9.2.4).</summary>
    public ReadOnlySpan<byte> RealmUtf8 => _realmUtf8;

    public int StaticUserCount => _users.Count;

    public int RestSecretCount => _restSecrets.Length;

    /// <summary>The id of REST secret <paramref name="index"/> (see <see cref="SecretId"/>).</summary>
    public string RestSecretId(int index) => _restSecretIds[index];

    /// <summary>
    /// The id of a TURN REST shared secret, by which it is revoked without being written anywhere: the first 8 bytes of
    /// SHA-256 of its UTF-8 form, in lower-case hex (16 characters).
    /// </summary>
    public static string SecretId(string secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)).AsSpan(0, 8));
    }

    /// <summary>Whether USERHASH is looked up for static users, so nonces carry the "Username anonymity" bit.</summary>
    public bool SupportsUserHash { get; }

    /// <summary>
    /// RFC 8489 §9.2.4, Errata 6290: the nonce cookie's features. "Password algorithms" always, since every challenge
    /// carries PASSWORD-ALGORITHMS; "Username anonymity" only when USERHASH is honoured.
    /// </summary>
    public SecurityFeatures Features =>
        SecurityFeatures.PasswordAlgorithms | (SupportsUserHash ? SecurityFeatures.UsernameAnonymity : SecurityFeatures.None);

    /// <summary>Builds a snapshot from options; throws <see cref="ArgumentException"/> naming the bad key.</summary>
    public static LongTermCredentials Create(LongTermAuthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var users = new List<KeyValuePair<string, string>>(options.Users.Count);
        foreach (string entry in options.Users)
        {
            int colon = entry?.IndexOf(':', StringComparison.Ordinal) ?? -1;
            if (colon <= 0)
            {
                throw new ArgumentException("Users: every entry is \"name:password\".", nameof(options));
            }

            users.Add(new(entry![..colon], entry[(colon + 1)..]));
        }

        return new LongTermCredentials(options.Realm, users, options.RestSecrets, options.RestUsernameSeparator,
            options.UsernameAnonymity);
    }

    /// <summary>draft-uberti-behave-turn-rest-00: password = base64(HMAC-SHA1(secret, username)), both UTF-8.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "The TURN REST API defines the password as HMAC-SHA1.")]
    public static string ComputeRestPassword(string secret, string username)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(username);
        Span<byte> mac = stackalloc byte[HMACSHA1.HashSizeInBytes];
        HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username), mac);
        return Convert.ToBase64String(mac);
    }

    /// <summary>A static user by the USERNAME bytes as received (ordinal match).</summary>
    internal bool TryFindUser(ReadOnlySpan<byte> usernameUtf8, out StaticUser user)
    {
        user = null!;
        if (_users.Count == 0 || usernameUtf8.Length > StunConstants.MaxUsernameBytes)
        {
            return false;
        }

        // UTF-8 never takes fewer bytes than UTF-16 code units, so the byte count bounds the char count.
        Span<char> name = stackalloc char[StunConstants.MaxUsernameBytes];
        if (Utf8.ToUtf16(usernameUtf8, name, out _, out int written, replaceInvalidSequences: false) != OperationStatus.Done)
        {
            return false;
        }

        return _usersByName.TryGetValue(name[..written], out user!);
    }

    /// <summary>RFC 8489 §14.4: a static user by USERHASH, when username anonymity is on.</summary>
    internal bool TryFindUserByHash(ReadOnlySpan<byte> userHash, out StaticUser user)
    {
        user = null!;
        return userHash.Length == StunConstants.UserHashLength
            && _usersByHash.TryGetValue(UserHashKey.Read(userHash), out user!);
    }

    /// <summary>
    /// draft-uberti-behave-turn-rest-00: "&lt;expiry&gt;" or "&lt;expiry&gt;&lt;separator&gt;&lt;user id&gt;".
    /// <see cref="AuthStatus.Authenticated"/> means "worth trying the secrets", not yet authenticated.
    /// </summary>
    internal AuthStatus CheckRestUsername(ReadOnlySpan<byte> username, long nowUnixSeconds)
    {
        if (_restSecrets.Length == 0 || username.Length > StunConstants.MaxUsernameBytes)
        {
            return AuthStatus.UnknownUser;
        }

        int digits = 0;
        while (digits < username.Length && char.IsAsciiDigit((char)username[digits]))
        {
            digits++;
        }

        if (digits == 0 || digits > MaxTimestampDigits || (digits < username.Length && username[digits] != _restSeparator)
            || !Utf8Parser.TryParse(username[..digits], out long expiry, out int consumed) || consumed != digits)
        {
            return AuthStatus.UnknownUser;
        }

        // The timestamp is when the credentials expire, not when they were issued.
        return expiry < nowUnixSeconds ? AuthStatus.ExpiredCredentials : AuthStatus.Authenticated;
    }

    /// <summary>
    /// The long-term key of a REST username under secret <paramref name="secretIndex"/>:
    /// MD5 or SHA-256 of username ":" OpaqueString(realm) ":" base64(HMAC-SHA1(secret, username)), computed on the
    /// stack. The caller checked the username with <see cref="CheckRestUsername"/> (so it is at most 763 bytes).
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "The TURN REST API defines the password as HMAC-SHA1.")]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351", Justification = "RFC 8489 §9.2.2 mandates MD5 for the long-term key.")]
    internal int DeriveRestKey(int secretIndex, ReadOnlySpan<byte> username, PasswordAlgorithm algorithm, Span<byte> key)
    {
        Span<byte> input = stackalloc byte[StunConstants.MaxUsernameBytes + 1 + StunConstants.MaxTextBytes + 1 + RestPasswordLength];
        int length = 0;
        username.CopyTo(input);
        length += username.Length;
        input[length++] = (byte)':';
        _preparedRealmUtf8.CopyTo(input[length..]);
        length += _preparedRealmUtf8.Length;
        input[length++] = (byte)':';

        // The password is base64, plain ASCII: OpaqueString leaves it as it is.
        Span<byte> mac = stackalloc byte[HMACSHA1.HashSizeInBytes];
        HMACSHA1.HashData(_restSecrets[secretIndex], username, mac);
        Base64.EncodeToUtf8(mac, input[length..], out _, out int written);
        length += written;

        int keyLength = algorithm == PasswordAlgorithm.Sha256
            ? SHA256.HashData(input[..length], key)
            : MD5.HashData(input[..length], key);
        CryptographicOperations.ZeroMemory(mac);
        CryptographicOperations.ZeroMemory(input[..length]);
        return keyLength;
    }
}
