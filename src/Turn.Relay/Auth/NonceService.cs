using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Turn.Stun;

namespace Turn.Relay.Auth;

/// <summary>
/// Stateless nonces (RFC 8489 §9.2): "obMatJos2" + 4 characters of Security Features (Errata 6290 bit order) + 28
/// base64url characters of [expiry: 4 bytes, unix seconds, big endian][salt: 5 random bytes][MAC: 12 bytes], 41
/// characters in all (§14.10: fewer than 128). MAC = HMAC-SHA256(key, cookie | expiry | salt | client family |
/// client IP | client port), truncated to 96 bits.
/// </summary>
/// <remarks>
/// Binding the MAC to the client's IP and port means nonces handed to different sources differ and a nonce is
/// useless from anywhere else (§9.2.4: MUST NOT choose the same NONCE for two requests unless they have the same
/// source IP address and port); the salt makes every issued nonce fresh (RFC 8656 §5). Covering the cookie stops a
/// man in the middle from clearing the "Password algorithms" bit (bid-down, §9.2.1). Nothing is stored: nodes that
/// share the key accept each other's nonces. <see cref="Validate"/> allocates nothing; <see cref="Issue(SecurityFeatures, TransportAddress, Span{byte})"/>
/// neither.
/// </remarks>
public sealed class NonceService
{
    /// <summary>Every nonce issued here is this many bytes (ASCII).</summary>
    public const int NonceLength = NonceCookie.Length + EncodedPayloadLength;

    /// <summary>The shortest key accepted for the MAC.</summary>
    public const int MinimumKeyLength = 16;

    private const int ExpiryLength = 4;
    private const int SaltLength = 5;
    private const int MacLength = 12;
    private const int PayloadLength = ExpiryLength + SaltLength + MacLength;
    private const int EncodedPayloadLength = PayloadLength / 3 * 4;
    private const int MaxMacInputLength = NonceCookie.Length + ExpiryLength + SaltLength + 1 + 16 + 2;

    private static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(365);

    /// <summary>
    /// How far ahead of a fresh nonce's expiry one may lie and still be valid: the clocks of a cluster's nodes differ a
    /// little. Further ahead, the nonce was issued before the wall clock jumped back.
    /// </summary>
    public const int MaxClockSkewSeconds = 60;

    private readonly TimeProvider _time;
    // [0] issues and validates; [1], when there, the key before the last UseKey, still accepted so nonces already handed
    // out stay valid. Swapped whole.
    private volatile byte[][] _keys;
    private readonly uint _lifetimeSeconds;

    // The four cookies a nonce of ours can start with, indexed by the two feature bits.
    private readonly byte[][] _cookies;

    /// <summary>Nonces under a random key of this process: other processes do not accept them.</summary>
    public NonceService(TimeProvider timeProvider, TimeSpan lifetime)
        : this(timeProvider, lifetime, RandomNumberGenerator.GetBytes(32))
    {
    }

    /// <param name="timeProvider">The clock expiry is read from.</param>
    /// <param name="lifetime">How long a nonce is valid, whole seconds, 1 s to 365 days (coturn --stale-nonce).</param>
    /// <param name="key">The MAC key, at least <see cref="MinimumKeyLength"/> bytes; share it between nodes.</param>
    public NonceService(TimeProvider timeProvider, TimeSpan lifetime, ReadOnlySpan<byte> key)
    {
        _time = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        if (lifetime < TimeSpan.FromSeconds(1) || lifetime > MaxLifetime)
        {
            throw new ArgumentOutOfRangeException(nameof(lifetime), lifetime, "NonceLifetime must be 1 second to 365 days.");
        }

        if (key.Length < MinimumKeyLength)
        {
            throw new ArgumentException($"NonceSecret must be at least {MinimumKeyLength} bytes.", nameof(key));
        }

        _keys = [key.ToArray()];
        _lifetimeSeconds = (uint)lifetime.TotalSeconds;
        Lifetime = TimeSpan.FromSeconds(_lifetimeSeconds);
        _cookies = new byte[4][];
        for (int features = 0; features < _cookies.Length; features++)
        {
            _cookies[features] = Encoding.ASCII.GetBytes(NonceCookie.Create((SecurityFeatures)features));
        }
    }

    public TimeSpan Lifetime { get; }

    /// <summary>
    /// Issues nonces under <paramref name="key"/> from now on (a key shared by the nodes of a cluster, so a client that
    /// meets another node keeps its nonce). Nonces issued under the key before stay valid until they expire or the key
    /// changes again; the same key again changes nothing.
    /// </summary>
    public void UseKey(ReadOnlySpan<byte> key)
    {
        if (key.Length < MinimumKeyLength)
        {
            throw new ArgumentException($"A nonce key must be at least {MinimumKeyLength} bytes.", nameof(key));
        }

        byte[][] keys = _keys;
        if (!key.SequenceEqual(keys[0]))
        {
            _keys = [key.ToArray(), keys[0]];
        }
    }

    /// <summary>Builds a service from options: lifetime and, when set, the shared NonceSecret.</summary>
    public static NonceService Create(LongTermAuthOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.NonceSecret is null
            ? new NonceService(timeProvider, options.NonceLifetime)
            : new NonceService(timeProvider, options.NonceLifetime, Encoding.UTF8.GetBytes(options.NonceSecret));
    }

    /// <summary>Writes a fresh nonce for <paramref name="client"/> (ASCII); returns <see cref="NonceLength"/>.</summary>
    public int Issue(SecurityFeatures features, TransportAddress client, Span<byte> destination)
    {
        if ((int)features is < 0 or > 3)
        {
            throw new ArgumentOutOfRangeException(nameof(features), features, "Only the two features of RFC 8489 §18.1 are defined.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, NonceLength, nameof(destination));
        ReadOnlySpan<byte> cookie = _cookies[(int)features];
        long expiry = Math.Min(NowUnixSeconds() + _lifetimeSeconds, uint.MaxValue);

        Span<byte> payload = stackalloc byte[PayloadLength];
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)expiry);
        RandomNumberGenerator.Fill(payload.Slice(ExpiryLength, SaltLength));
        ComputeMac(_keys[0], cookie, payload[..(ExpiryLength + SaltLength)], client, payload[(ExpiryLength + SaltLength)..]);

        cookie.CopyTo(destination);
        Base64Url.EncodeToUtf8(payload, destination[NonceCookie.Length..], out _, out int written);
        return NonceCookie.Length + written;
    }

    /// <summary>The same as a string, for logs and tests.</summary>
    public string Issue(SecurityFeatures features, TransportAddress client)
    {
        Span<byte> nonce = stackalloc byte[NonceLength];
        int length = Issue(features, client, nonce);
        return Encoding.ASCII.GetString(nonce[..length]);
    }

    /// <summary>
    /// Checks a NONCE value as received against the request's client address. Allocates nothing. The MAC is
    /// checked before the expiry, so <see cref="NonceValidation.Stale"/> is only said of our own nonces.
    /// </summary>
    public NonceValidation Validate(ReadOnlySpan<byte> nonce, TransportAddress client)
    {
        if (nonce.Length != NonceLength || !NonceCookie.TryParse(nonce, out _))
        {
            return NonceValidation.Invalid;
        }

        Span<byte> payload = stackalloc byte[PayloadLength];
        if (Base64Url.DecodeFromUtf8(nonce[NonceCookie.Length..], payload, out _, out int written) != System.Buffers.OperationStatus.Done
            || written != PayloadLength)
        {
            return NonceValidation.Invalid;
        }

        Span<byte> mac = stackalloc byte[MacLength];
        byte[][] keys = _keys;
        bool matched = false;
        for (int i = 0; i < keys.Length && !matched; i++)
        {
            ComputeMac(keys[i], nonce[..NonceCookie.Length], payload[..(ExpiryLength + SaltLength)], client, mac);
            matched = CryptographicOperations.FixedTimeEquals(mac, payload[(ExpiryLength + SaltLength)..]);
        }

        if (!matched)
        {
            return NonceValidation.Invalid;
        }

        // Expired, or issued before the wall clock jumped back (it would otherwise live on for the size of the jump): the
        // client is given a fresh one (438).
        long expiry = BinaryPrimitives.ReadUInt32BigEndian(payload);
        long now = NowUnixSeconds();
        return now >= expiry || expiry - now > _lifetimeSeconds + MaxClockSkewSeconds ? NonceValidation.Stale : NonceValidation.Valid;
    }

    private long NowUnixSeconds() => _time.GetUtcNow().ToUnixTimeSeconds();

    private static void ComputeMac(byte[] key, ReadOnlySpan<byte> cookie, ReadOnlySpan<byte> expiryAndSalt, TransportAddress client, Span<byte> mac)
    {
        Span<byte> input = stackalloc byte[MaxMacInputLength];
        cookie.CopyTo(input);
        int length = cookie.Length;
        expiryAndSalt.CopyTo(input[length..]);
        length += expiryAndSalt.Length;
        input[length++] = (byte)client.Family;
        length += client.WriteAddressBytes(input[length..]);
        BinaryPrimitives.WriteUInt16BigEndian(input[length..], client.Port);
        length += 2;

        Span<byte> full = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, input[..length], full);
        full[..MacLength].CopyTo(mac);
    }
}
