using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Turn.Stun;

/// <summary>
/// Builds one STUN message into a caller-owned span; allocates nothing. The header Length always matches what has
/// been appended. When the buffer is too small an append returns false, writes nothing and
/// <see cref="HasOverflowed"/> stays true, so a caller may append several attributes and check once.
/// </summary>
public ref struct StunMessageWriter
{
    private readonly Span<byte> _buffer;
    private int _length;
    private bool _overflowed;

    /// <param name="buffer">Where the message is written; at least 20 bytes.</param>
    /// <param name="type">Method and class.</param>
    /// <param name="transactionId">RFC 8489 §6.3.1.1: a response copies the request's transaction id.</param>
    /// <param name="cookie">The magic cookie, or for a response to an RFC 3489 client, its first 32 id bits.</param>
    public StunMessageWriter(Span<byte> buffer, StunMessageType type, TransactionId transactionId,
        uint cookie = StunConstants.MagicCookie)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buffer.Length, StunConstants.HeaderLength, nameof(buffer));
        _buffer = buffer;
        BinaryPrimitives.WriteUInt16BigEndian(buffer, type.Value);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], cookie);
        transactionId.WriteTo(buffer[8..]);
        _length = StunConstants.HeaderLength;
        _overflowed = false;
    }

    /// <summary>Bytes written so far: a complete message at any point.</summary>
    public readonly int Length => _length;

    public readonly bool HasOverflowed => _overflowed;

    public readonly ReadOnlySpan<byte> WrittenSpan => _buffer[.._length];

    /// <summary>
    /// Appends an attribute header and zeroed padding and hands back its value span to fill in
    /// (RFC 8489 §14: padding MUST be zero on sending).
    /// </summary>
    public bool TryAddAttribute(ushort type, int valueLength, out Span<byte> value)
    {
        int total = StunConstants.AttributeHeaderLength + StunMessageReader.Pad4(valueLength);
        if (valueLength is < 0 or > ushort.MaxValue || total > _buffer.Length - _length
            || _length + total - StunConstants.HeaderLength > ushort.MaxValue)
        {
            _overflowed = true;
            value = default;
            return false;
        }

        Span<byte> attribute = _buffer.Slice(_length, total);
        BinaryPrimitives.WriteUInt16BigEndian(attribute, type);
        BinaryPrimitives.WriteUInt16BigEndian(attribute[2..], (ushort)valueLength);
        attribute[(StunConstants.AttributeHeaderLength + valueLength)..].Clear();
        value = attribute.Slice(StunConstants.AttributeHeaderLength, valueLength);
        _length += total;
        SetLengthField(_length);
        return true;
    }

    public bool TryAddAttribute(StunAttributeType type, int valueLength, out Span<byte> value) =>
        TryAddAttribute((ushort)type, valueLength, out value);

    public bool AddAttribute(ushort type, scoped ReadOnlySpan<byte> value)
    {
        if (!TryAddAttribute(type, value.Length, out Span<byte> destination))
        {
            return false;
        }

        value.CopyTo(destination);
        return true;
    }

    public bool AddAttribute(StunAttributeType type, scoped ReadOnlySpan<byte> value) => AddAttribute((ushort)type, value);

    /// <summary>A 32-bit value such as LIFETIME or CONNECTION-ID.</summary>
    public bool AddUInt32(StunAttributeType type, uint value)
    {
        if (!TryAddAttribute(type, 4, out Span<byte> destination))
        {
            return false;
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, value);
        return true;
    }

    /// <summary>A UTF-8 text attribute (USERNAME, REALM, NONCE, SOFTWARE, ALTERNATE-DOMAIN), encoded in place.</summary>
    public bool AddText(StunAttributeType type, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int byteCount = Encoding.UTF8.GetByteCount(text);
        if (!TryAddAttribute(type, byteCount, out Span<byte> destination))
        {
            return false;
        }

        Encoding.UTF8.GetBytes(text, destination);
        return true;
    }

    /// <summary>RFC 8489 §14.8: ERROR-CODE with the recommended reason phrase unless one is given.</summary>
    public bool AddErrorCode(int code, string? reason = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(code, 300);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(code, 699);
        reason ??= StunErrorCode.DefaultReason(code);
        int reasonBytes = Encoding.UTF8.GetByteCount(reason);
        if (!TryAddAttribute(StunAttributeType.ErrorCode, 4 + reasonBytes, out Span<byte> value))
        {
            return false;
        }

        ErrorCodeValue.WriteHeader(value, code);
        Encoding.UTF8.GetBytes(reason, value[4..]);
        return true;
    }

    /// <summary>RFC 8489 §14.13: the comprehension-required types the request carried and the server did not know.</summary>
    public bool AddUnknownAttributes(scoped ReadOnlySpan<ushort> types)
    {
        if (!TryAddAttribute(StunAttributeType.UnknownAttributes, types.Length * 2, out Span<byte> value))
        {
            return false;
        }

        for (int i = 0; i < types.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(value[(i * 2)..], types[i]);
        }

        return true;
    }

    /// <summary>MAPPED-ADDRESS or ALTERNATE-SERVER: family, port and address in the clear (RFC 8489 §14.1, §14.15).</summary>
    public bool AddAddress(StunAttributeType type, TransportAddress address)
    {
        if (!TryAddAttribute(type, AddressValue.GetLength(address), out Span<byte> value))
        {
            return false;
        }

        AddressValue.Write(value, address);
        return true;
    }

    /// <summary>XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS (RFC 8489 §14.2, RFC 8656 §18.3, §18.5).</summary>
    public bool AddXorAddress(StunAttributeType type, TransportAddress address)
    {
        if (!TryAddAttribute(type, AddressValue.GetLength(address), out Span<byte> value))
        {
            return false;
        }

        XorAddressValue.Write(value, address, TransactionIdSpan);
        return true;
    }

    /// <summary>RFC 8489 §14.5: HMAC-SHA1 over the message so far with Length covering the new attribute.</summary>
    public bool AddMessageIntegrity(scoped ReadOnlySpan<byte> key) =>
        AddIntegrity(StunAttributeType.MessageIntegrity, StunConstants.MessageIntegrityLength, key, sha256: false);

    /// <summary>RFC 8489 §14.6: HMAC-SHA256, optionally truncated to 16-28 bytes where the usage allows it.</summary>
    public bool AddMessageIntegritySha256(scoped ReadOnlySpan<byte> key, int length = StunConstants.MessageIntegritySha256Length)
    {
        if (!StunIntegrity.IsValidSha256Length(length))
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4.");
        }

        return AddIntegrity(StunAttributeType.MessageIntegritySha256, length, key, sha256: true);
    }

    /// <summary>RFC 8489 §14.7: CRC-32 XOR 0x5354554E; must be the last attribute appended.</summary>
    public bool AddFingerprint()
    {
        int prefixLength = _length;
        if (!TryAddAttribute(StunAttributeType.Fingerprint, StunConstants.FingerprintLength, out Span<byte> value))
        {
            return false;
        }

        uint fingerprint = StunIntegrity.ComputeFingerprint(_buffer[..prefixLength], _length - StunConstants.HeaderLength);
        BinaryPrimitives.WriteUInt32BigEndian(value, fingerprint);
        return true;
    }

    private readonly ReadOnlySpan<byte> TransactionIdSpan => _buffer.Slice(8, TransactionId.Length);

    private bool AddIntegrity(StunAttributeType type, int length, scoped ReadOnlySpan<byte> key, bool sha256)
    {
        int prefixLength = _length;
        if (!TryAddAttribute(type, length, out Span<byte> value))
        {
            return false;
        }

        // The Length field already counts the new attribute, which is what §14.5/§14.6 require of the hashed header.
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        int macLength = sha256 ? HMACSHA256.HashSizeInBytes : HMACSHA1.HashSizeInBytes;
        StunIntegrity.ComputeHmac(_buffer[..prefixLength], key, sha256, mac[..macLength]);
        mac[..length].CopyTo(value);
        return true;
    }

    private readonly void SetLengthField(int totalLength) =>
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[2..], (ushort)(totalLength - StunConstants.HeaderLength));
}
