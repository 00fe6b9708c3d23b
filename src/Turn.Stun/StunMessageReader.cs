using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>
/// A validated view of one STUN message over a span; allocates nothing. <see cref="TryParse"/> checks the header and
/// the attribute framing (RFC 8489 §5, §14) and never throws on malformed input.
/// </summary>
/// <remarks>
/// RFC 8489 §9: attributes after MESSAGE-INTEGRITY are ignored except MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, and
/// after MESSAGE-INTEGRITY-SHA256 (without MESSAGE-INTEGRITY) all but FINGERPRINT. FINGERPRINT is the last attribute
/// (§14.7), so anything after it is ignored too. <see cref="Attributes"/> and <see cref="TryGetAttribute"/> apply
/// these rules; <see cref="AllAttributes"/> shows every attribute as framed.
/// </remarks>
public readonly ref struct StunMessageReader
{
    private readonly ReadOnlySpan<byte> _message;

    private StunMessageReader(ReadOnlySpan<byte> message, StunHeader header, int integrity, int integritySha256, int fingerprint)
    {
        _message = message;
        Header = header;
        MessageIntegrityOffset = integrity;
        MessageIntegritySha256Offset = integritySha256;
        FingerprintOffset = fingerprint;
    }

    public StunHeader Header { get; }

    /// <summary>The whole message, header included, exactly as received.</summary>
    public ReadOnlySpan<byte> Bytes => _message;

    /// <summary>Offset of the MESSAGE-INTEGRITY attribute that counts, or -1.</summary>
    public int MessageIntegrityOffset { get; }

    /// <summary>Offset of the MESSAGE-INTEGRITY-SHA256 attribute that counts, or -1.</summary>
    public int MessageIntegritySha256Offset { get; }

    /// <summary>Offset of the FINGERPRINT attribute that counts, or -1.</summary>
    public int FingerprintOffset { get; }

    // A real offset is never inside the header; 0 is what a default reader holds.
    public bool HasMessageIntegrity => MessageIntegrityOffset >= StunConstants.HeaderLength;

    public bool HasMessageIntegritySha256 => MessageIntegritySha256Offset >= StunConstants.HeaderLength;

    public bool HasFingerprint => FingerprintOffset >= StunConstants.HeaderLength;

    /// <summary>The attributes that count under RFC 8489 §9 and §14.7, in order.</summary>
    public AttributeEnumerator Attributes => new(_message, honourIntegrityRules: true);

    /// <summary>Every attribute as framed, including the ones RFC 8489 §9 says to ignore.</summary>
    public AttributeEnumerator AllAttributes => new(_message, honourIntegrityRules: false);

    /// <summary>
    /// Parses a message that must fill <paramref name="message"/> exactly (a datagram, or a frame cut by
    /// <see cref="StunFraming"/>). Both RFC 5389/8489 messages and cookie-less RFC 3489 ones are accepted; see
    /// <see cref="StunHeader.HasMagicCookie"/>.
    /// </summary>
    public static StunParseStatus TryParse(ReadOnlySpan<byte> message, out StunMessageReader reader)
    {
        reader = new StunMessageReader(default, default, -1, -1, -1);
        var status = TryReadHeader(message, out StunHeader header);
        if (status != StunParseStatus.Success)
        {
            return status;
        }

        if (StunConstants.HeaderLength + header.Length != message.Length)
        {
            return StunParseStatus.LengthMismatch;
        }

        int integrity = -1, integritySha256 = -1, fingerprint = -1;
        bool counting = true;
        int offset = StunConstants.HeaderLength;
        while (offset < message.Length)
        {
            // RFC 8489 §14: 4-byte TLV header, value, padding to a multiple of 4; all inside the message.
            if (message.Length - offset < StunConstants.AttributeHeaderLength)
            {
                return StunParseStatus.AttributeOverrun;
            }

            ushort type = BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
            int next = offset + StunConstants.AttributeHeaderLength + Pad4(length);
            if (next > message.Length)
            {
                return StunParseStatus.AttributeOverrun;
            }

            if (counting && CountsAfter(type, integrity, integritySha256))
            {
                switch ((StunAttributeType)type)
                {
                    case StunAttributeType.MessageIntegrity:
                        integrity = offset;
                        break;
                    case StunAttributeType.MessageIntegritySha256:
                        integritySha256 = offset;
                        break;
                    case StunAttributeType.Fingerprint:
                        fingerprint = offset;
                        counting = false;
                        break;
                }
            }

            offset = next;
        }

        reader = new StunMessageReader(message, header, integrity, integritySha256, fingerprint);
        return StunParseStatus.Success;
    }

    /// <summary>Decodes and checks the 20-byte header (RFC 8489 §5); the bytes after it are not looked at.</summary>
    public static StunParseStatus TryReadHeader(ReadOnlySpan<byte> bytes, out StunHeader header)
    {
        header = default;
        if (bytes.Length < StunConstants.HeaderLength)
        {
            return StunParseStatus.TooShort;
        }

        // RFC 8489 §5: the most significant 2 bits of every STUN message are zeroes.
        if ((bytes[0] & 0xC0) != 0)
        {
            return StunParseStatus.NotStun;
        }

        header = StunHeader.Read(bytes);
        if ((header.Length & 3) != 0)
        {
            return StunParseStatus.LengthNotMultipleOfFour;
        }

        return StunParseStatus.Success;
    }

    /// <summary>The first attribute of this type that counts (RFC 8489 §14: later duplicates may be ignored).</summary>
    public bool TryGetAttribute(StunAttributeType type, out StunAttribute attribute) => TryGetAttribute((ushort)type, out attribute);

    public bool TryGetAttribute(ushort type, out StunAttribute attribute)
    {
        foreach (var candidate in Attributes)
        {
            if (candidate.Type == type)
            {
                attribute = candidate;
                return true;
            }
        }

        attribute = default;
        return false;
    }

    /// <summary>The attribute at an offset returned by this reader (e.g. <see cref="MessageIntegrityOffset"/>).</summary>
    public StunAttribute AttributeAt(int offset)
    {
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(_message[offset..]);
        int length = BinaryPrimitives.ReadUInt16BigEndian(_message[(offset + 2)..]);
        return new StunAttribute(type, _message.Slice(offset + StunConstants.AttributeHeaderLength, length), offset);
    }

    /// <summary>RFC 8489 §14.5: false when there is no MESSAGE-INTEGRITY or it does not match the key.</summary>
    public bool VerifyMessageIntegrity(ReadOnlySpan<byte> key) =>
        HasMessageIntegrity && StunIntegrity.VerifyMessageIntegrity(_message, MessageIntegrityOffset, key);

    /// <summary>RFC 8489 §14.6: false when there is no MESSAGE-INTEGRITY-SHA256 or it does not match the key.</summary>
    public bool VerifyMessageIntegritySha256(ReadOnlySpan<byte> key, int minimumLength = StunConstants.MessageIntegritySha256Length) =>
        HasMessageIntegritySha256
        && StunIntegrity.VerifyMessageIntegritySha256(_message, MessageIntegritySha256Offset, key, minimumLength);

    /// <summary>RFC 8489 §14.7: false when there is no FINGERPRINT, it is not last, or it does not match.</summary>
    public bool VerifyFingerprint() => HasFingerprint && StunIntegrity.VerifyFingerprint(_message, FingerprintOffset);

    internal static int Pad4(int length) => (length + 3) & ~3;

    /// <summary>RFC 8489 §9: what still counts once MESSAGE-INTEGRITY(-SHA256) has been seen.</summary>
    internal static bool CountsAfter(ushort type, int integrity, int integritySha256)
    {
        if (integrity >= 0)
        {
            return (type == (ushort)StunAttributeType.MessageIntegritySha256 && integritySha256 < 0)
                || type == (ushort)StunAttributeType.Fingerprint;
        }

        if (integritySha256 >= 0)
        {
            return type == (ushort)StunAttributeType.Fingerprint;
        }

        return true;
    }

    /// <summary>Walks attributes of a message already validated by <see cref="TryParse"/>.</summary>
    public ref struct AttributeEnumerator
    {
        private readonly ReadOnlySpan<byte> _message;
        private readonly bool _honourIntegrityRules;
        private int _next;
        private int _integrity;
        private int _integritySha256;
        private bool _done;

        internal AttributeEnumerator(ReadOnlySpan<byte> message, bool honourIntegrityRules)
        {
            _message = message;
            _honourIntegrityRules = honourIntegrityRules;
            _next = StunConstants.HeaderLength;
            _integrity = -1;
            _integritySha256 = -1;
            _done = message.IsEmpty;
            Current = default;
        }

        public StunAttribute Current { get; private set; }

        public readonly AttributeEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            while (!_done && _next + StunConstants.AttributeHeaderLength <= _message.Length)
            {
                int offset = _next;
                ushort type = BinaryPrimitives.ReadUInt16BigEndian(_message[offset..]);
                int length = BinaryPrimitives.ReadUInt16BigEndian(_message[(offset + 2)..]);
                _next = offset + StunConstants.AttributeHeaderLength + Pad4(length);
                if (_honourIntegrityRules)
                {
                    if (!CountsAfter(type, _integrity, _integritySha256))
                    {
                        continue;
                    }

                    if (type == (ushort)StunAttributeType.MessageIntegrity)
                    {
                        _integrity = offset;
                    }
                    else if (type == (ushort)StunAttributeType.MessageIntegritySha256)
                    {
                        _integritySha256 = offset;
                    }
                    else if (type == (ushort)StunAttributeType.Fingerprint)
                    {
                        _done = true;
                    }
                }

                Current = new StunAttribute(type, _message.Slice(offset + StunConstants.AttributeHeaderLength, length), offset);
                return true;
            }

            _done = true;
            return false;
        }
    }
}
