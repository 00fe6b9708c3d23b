using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Turn.Stun.Tests;

/// <summary>
/// Malformed input is rejected with the right <see cref="StunParseStatus"/> and never makes the codec throw
/// (RFC 8489 §5, §6.3, §9, §14; RFC 8656 §12.4, §12.6).
/// </summary>
public class MalformedInputTests
{
    private static readonly byte[] Key = "malformed-input-key"u8.ToArray();

    private static readonly TransactionId Id = TransactionId.Read("0123456789ab"u8);

    private static readonly StunAttributeType[] TextTypes =
        [StunAttributeType.Username, StunAttributeType.Realm, StunAttributeType.Nonce, StunAttributeType.Software, StunAttributeType.AlternateDomain];

    /// <summary>The size of <see cref="Valid"/>: 20 + 12 + 8 + 12 + 24 + 8.</summary>
    private const int ValidLength = 84;

    /// <summary>A valid message with padding after SOFTWARE, MESSAGE-INTEGRITY and FINGERPRINT.</summary>
    private static byte[] Valid() => StunWire.Write((ref StunMessageWriter w) =>
    {
        Assert.True(w.AddText(StunAttributeType.Software, "abcde"));
        Assert.True(w.AddText(StunAttributeType.Username, "user"));
        Assert.True(w.AddXorAddress(StunAttributeType.XorMappedAddress, TransportAddress.FromIPv4([192, 0, 2, 1], 32853)));
        Assert.True(w.AddMessageIntegrity(Key));
        Assert.True(w.AddFingerprint());
    }, Id);

    // ---------------------------------------------------------------- header and framing (RFC 8489 §5, §6.3, §14)

    /// <summary>RFC 8489 §5: an empty buffer has no header; the reader handed back is empty and claims nothing.</summary>
    [Fact]
    public void Rfc8489_S5_empty_buffer_is_too_short()
    {
        Assert.Equal(StunParseStatus.TooShort, StunMessageReader.TryReadHeader([], out _));
        Assert.Equal(StunParseStatus.TooShort, StunMessageReader.TryParse([], out StunMessageReader reader));
        AssertEmpty(reader);
        AssertEmpty(default);
    }

    /// <summary>
    /// Checklist 3, RFC 8489 §5, §6.3: every truncation of a valid message is rejected: under 20 bytes TooShort, from 20 bytes on
    /// LengthMismatch (the header Length no longer matches); a stream framer waits for the rest.
    /// </summary>
    [Fact]
    public void Rfc8489_S6_3_every_truncation_is_rejected()
    {
        byte[] message = Valid();
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out _));
        for (int length = 0; length < message.Length; length++)
        {
            StunParseStatus status = StunMessageReader.TryParse(message.AsSpan(0, length), out StunMessageReader reader);
            Assert.Equal(length < StunConstants.HeaderLength ? StunParseStatus.TooShort : StunParseStatus.LengthMismatch, status);
            AssertEmpty(reader);
            Assert.Equal(FrameStatus.Incomplete, StunFraming.TryReadFrame(new ReadOnlySequence<byte>(message, 0, length), out _, out _));
        }
    }

    /// <summary>
    /// Checklist 10, RFC 8489 §14: truncated at any 4-byte boundary with the header Length made to agree, the message parses when
    /// the cut falls between attributes and is AttributeOverrun when it falls inside one (value or padding).
    /// </summary>
    [Fact]
    public void Rfc8489_S14_truncation_inside_an_attribute_is_an_overrun()
    {
        byte[] message = Valid();
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader full));
        var boundaries = new HashSet<int> { StunConstants.HeaderLength };
        foreach (StunAttribute attribute in full.AllAttributes)
        {
            boundaries.Add(attribute.Offset + 4 + ((attribute.Value.Length + 3) & ~3));
        }

        Assert.Equal(6, boundaries.Count);
        for (int length = StunConstants.HeaderLength; length < message.Length; length += 4)
        {
            byte[] cut = message[..length];
            BinaryPrimitives.WriteUInt16BigEndian(cut.AsSpan(2), (ushort)(length - StunConstants.HeaderLength));
            StunParseStatus expected = boundaries.Contains(length) ? StunParseStatus.Success : StunParseStatus.AttributeOverrun;
            Assert.True(expected == StunMessageReader.TryParse(cut, out _), $"cut at {length}: expected {expected}");
        }
    }

    /// <summary>Checklist 1, RFC 8489 §5: the two most significant bits of a STUN message are zero; any other value is not STUN.</summary>
    [Property(MaxTest = 200)]
    public Property Rfc8489_S5_top_bits_set_is_not_stun() =>
        Prop.ForAll(Gen.Choose(0x40, 0xFF).ToArbitrary(), first =>
        {
            byte[] message = Valid();
            message[0] = (byte)first;
            Assert.Equal(StunParseStatus.NotStun, StunMessageReader.TryReadHeader(message, out _));
            Assert.Equal(StunParseStatus.NotStun, StunMessageReader.TryParse(message, out StunMessageReader reader));
            AssertEmpty(reader);
        });

    /// <summary>Checklist 3, RFC 8489 §5: the Length field is always a multiple of 4 (checked before it is compared with the datagram).</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(83)]
    [InlineData(85)]
    [InlineData(0xFFFF)]
    public void Rfc8489_S5_length_not_multiple_of_four(int length)
    {
        byte[] message = Valid();
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)length);
        Assert.Equal(StunParseStatus.LengthNotMultipleOfFour, StunMessageReader.TryReadHeader(message, out _));
        Assert.Equal(StunParseStatus.LengthNotMultipleOfFour, StunMessageReader.TryParse(message, out StunMessageReader reader));
        AssertEmpty(reader);
        Assert.Equal(FrameStatus.Invalid, StunFraming.TryReadFrame(new ReadOnlySequence<byte>(message), out _, out _));
    }

    /// <summary>Checklist 3, RFC 8489 §6.3: 20 + Length must equal the datagram size: larger, smaller and trailing bytes are all rejected.</summary>
    [Theory]
    [InlineData(4, 0)]
    [InlineData(-4, 0)]
    [InlineData(-64, 0)] // Length 0 with attributes present
    [InlineData(0xFFFC - 64, 0)] // the largest Length
    [InlineData(0, 4)]
    [InlineData(0, 1)]
    [InlineData(0, 100)]
    public void Rfc8489_S6_3_length_must_match_the_datagram(int lengthDelta, int trailingBytes)
    {
        byte[] message = [.. Valid(), .. new byte[trailingBytes]];
        int length = BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(2)) + lengthDelta;
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)length);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryReadHeader(message, out StunHeader header));
        Assert.Equal(length, header.Length);
        Assert.Equal(StunParseStatus.LengthMismatch, StunMessageReader.TryParse(message, out StunMessageReader reader));
        AssertEmpty(reader);
    }

    /// <summary>
    /// Checklist 10, RFC 8489 §14: an attribute whose value (with its padding) runs past the end of the message is an overrun,
    /// whether it is the first attribute or follows good ones.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0x80, 0x22, 0x00, 0x05, 0x61, 0x62, 0x63, 0x64 })] // 5 bytes + 3 padding in 4
    [InlineData(new byte[] { 0x80, 0x22, 0x00, 0x08, 0x61, 0x62, 0x63, 0x64 })] // 8 bytes in 4
    [InlineData(new byte[] { 0x80, 0x22, 0xFF, 0xFF, 0x61, 0x62, 0x63, 0x64 })] // 65535 bytes in 4
    [InlineData(new byte[] { 0x00, 0x13, 0x00, 0x01 })] // 1 byte + 3 padding in 0
    [InlineData(new byte[] { 0x00, 0x0D, 0x00, 0x04, 0, 0, 0, 60, 0x00, 0x13, 0x00, 0x01 })] // second attribute overruns
    [InlineData(new byte[] { 0x00, 0x0D, 0x00, 0x04, 0, 0, 0, 60, 0x00, 0x13, 0x00, 0x04 })] // second value missing
    public void Rfc8489_S14_attribute_running_past_the_end_is_an_overrun(byte[] attributes)
    {
        byte[] message = Header(attributes.Length, StunConstants.MagicCookie);
        message = [.. message, .. attributes];
        Assert.Equal(StunParseStatus.AttributeOverrun, StunMessageReader.TryParse(message, out StunMessageReader reader));
        AssertEmpty(reader);
    }

    /// <summary>
    /// RFC 8489 §5 (and RFC 3489 §11.1): without the magic cookie the message still parses as a classic STUN message;
    /// <see cref="StunHeader.HasMagicCookie"/> is false and bytes 4-7 are kept.
    /// </summary>
    [Theory]
    [InlineData(0x00000000u)]
    [InlineData(0x2112A443u)]
    [InlineData(0xDEADBEEFu)]
    public void Rfc8489_S5_wrong_magic_cookie_parses_as_rfc3489(uint cookie)
    {
        byte[] buffer = new byte[64];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), Id, cookie);
        Assert.True(writer.AddAddress(StunAttributeType.MappedAddress, TransportAddress.FromIPv4([10, 0, 0, 1], 1234)));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(writer.WrittenSpan, out StunMessageReader reader));
        Assert.False(reader.Header.HasMagicCookie);
        Assert.Equal(cookie, reader.Header.Cookie);
        Assert.Equal(Id, reader.Header.TransactionId);
        Assert.True(reader.TryGetAttribute(StunAttributeType.MappedAddress, out StunAttribute mapped));
        Assert.True(AddressValue.TryRead(mapped.Value, out TransportAddress address));
        Assert.Equal(1234, address.Port);
    }

    // ---------------------------------------------------------------- integrity and fingerprint (RFC 8489 §14.5-§14.7)

    /// <summary>RFC 8489 §14.5: a MESSAGE-INTEGRITY that is not 20 bytes is malformed and never verifies.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(19)]
    [InlineData(21)]
    [InlineData(32)]
    public void Rfc8489_S14_5_message_integrity_of_wrong_length(int length)
    {
        byte[] message = WithIntegrityOfLength(StunAttributeType.MessageIntegrity, length, sha256: false);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.HasMessageIntegrity);
        StunAttribute mi = reader.AttributeAt(reader.MessageIntegrityOffset);
        Assert.False(StunAttributeValidator.IsWellFormed(mi.Type, mi.Value));
        Assert.False(reader.VerifyMessageIntegrity(Key));
    }

    /// <summary>Checklist 28, RFC 8489 §14.5: the same construction at 20 bytes does verify (so the cases above fail for their length).</summary>
    [Fact]
    public void Rfc8489_S14_5_message_integrity_construction_verifies_at_20_bytes()
    {
        byte[] message = WithIntegrityOfLength(StunAttributeType.MessageIntegrity, 20, sha256: false);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.VerifyMessageIntegrity(Key));
    }

    /// <summary>RFC 8489 §14.5: a change to any byte of the MESSAGE-INTEGRITY value makes it fail.</summary>
    [Fact]
    public void Rfc8489_S14_5_message_integrity_with_wrong_value()
    {
        byte[] valid = Valid();
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(valid, out StunMessageReader original));
        int start = original.MessageIntegrityOffset + 4;
        for (int i = 0; i < StunConstants.MessageIntegrityLength; i++)
        {
            byte[] tampered = (byte[])valid.Clone();
            tampered[start + i] ^= 0x80;
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(tampered, out StunMessageReader reader));
            Assert.True(reader.HasMessageIntegrity);
            Assert.False(reader.VerifyMessageIntegrity(Key), $"byte {i} of the HMAC changed");
        }
    }

    /// <summary>RFC 8489 §14.6: MESSAGE-INTEGRITY-SHA256 must be 16-32 bytes in steps of 4; 15, 18, 36 and the like never verify.</summary>
    [Theory]
    [InlineData(0, false)]
    [InlineData(12, false)]
    [InlineData(15, false)]
    [InlineData(18, false)]
    [InlineData(33, false)]
    [InlineData(36, false)]
    [InlineData(16, true)]
    [InlineData(20, true)]
    [InlineData(32, true)]
    public void Rfc8489_S14_6_message_integrity_sha256_lengths(int length, bool valid)
    {
        byte[] message = WithIntegrityOfLength(StunAttributeType.MessageIntegritySha256, length, sha256: true);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.HasMessageIntegritySha256);
        StunAttribute mi = reader.AttributeAt(reader.MessageIntegritySha256Offset);
        Assert.Equal(length, mi.Value.Length);
        Assert.Equal(valid, StunAttributeValidator.IsWellFormed(mi.Type, mi.Value));
        Assert.Equal(valid, reader.VerifyMessageIntegritySha256(Key, minimumLength: 16));
        Assert.Equal(valid && length == 32, reader.VerifyMessageIntegritySha256(Key));
        Assert.False(reader.VerifyMessageIntegritySha256("other"u8, minimumLength: 16));
    }

    /// <summary>RFC 8489 §14.7: a FINGERPRINT with any bit changed fails.</summary>
    [Fact]
    public void Rfc8489_S14_7_fingerprint_with_wrong_value()
    {
        byte[] valid = Valid();
        for (int bit = 0; bit < 32; bit++)
        {
            byte[] tampered = (byte[])valid.Clone();
            tampered[^(1 + (bit / 8))] ^= (byte)(1 << (bit % 8));
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(tampered, out StunMessageReader reader));
            Assert.True(reader.HasFingerprint);
            Assert.False(reader.VerifyFingerprint(), $"bit {bit} of FINGERPRINT changed");
            Assert.True(reader.VerifyMessageIntegrity(Key)); // FINGERPRINT is outside what MESSAGE-INTEGRITY covers
        }
    }

    /// <summary>
    /// RFC 8489 §14.7: FINGERPRINT must be the last attribute. One followed by another attribute does not verify, and
    /// what follows it is ignored by <see cref="StunMessageReader.Attributes"/> but shown by AllAttributes.
    /// </summary>
    [Fact]
    public void Rfc8489_S14_7_fingerprint_not_last()
    {
        byte[] message = StunWire.Write((ref StunMessageWriter w) =>
        {
            Assert.True(w.AddLifetime(600));
            Assert.True(w.AddFingerprint());
            Assert.True(w.AddText(StunAttributeType.Software, "after"));
        }, Id);

        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.HasFingerprint);
        Assert.Equal(28, reader.FingerprintOffset);
        Assert.False(reader.VerifyFingerprint());
        Assert.False(reader.TryGetAttribute(StunAttributeType.Software, out _));
        Assert.Equal([StunAttributeType.Lifetime, StunAttributeType.Fingerprint], Types(reader.Attributes));
        Assert.Equal([StunAttributeType.Lifetime, StunAttributeType.Fingerprint, StunAttributeType.Software], Types(reader.AllAttributes));
    }

    /// <summary>
    /// RFC 8489 §14.7: a FINGERPRINT followed by another attribute does not verify even when its CRC is right for the
    /// whole message's Length (the receiver would otherwise accept attributes no FINGERPRINT covers).
    /// </summary>
    [Fact]
    public void Rfc8489_S14_7_fingerprint_not_last_fails_even_with_a_matching_crc()
    {
        byte[] buffer = new byte[64];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), Id);
        Assert.True(writer.AddLifetime(600));
        int offset = writer.Length;
        Assert.True(writer.TryAddAttribute(StunAttributeType.Fingerprint, 4, out _));
        Assert.True(writer.AddText(StunAttributeType.Software, "after"));
        byte[] message = writer.WrittenSpan.ToArray();
        uint crc = StunWire.Crc32(message.AsSpan(0, offset)) ^ StunConstants.FingerprintXor;
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(offset + 4), crc);
        Assert.Equal(crc, StunIntegrity.ComputeFingerprint(message.AsSpan(0, offset), message.Length - StunConstants.HeaderLength));

        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(offset, reader.FingerprintOffset);
        Assert.False(reader.VerifyFingerprint());
        Assert.False(StunIntegrity.VerifyFingerprint(message, offset));
    }

    /// <summary>RFC 8489 §14.7: a FINGERPRINT that is not 4 bytes is malformed and never verifies, even when last.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(8)]
    public void Rfc8489_S14_7_fingerprint_of_wrong_length(int length)
    {
        byte[] buffer = new byte[64];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), Id);
        Assert.True(writer.AddLifetime(600));
        int offset = writer.Length;
        Assert.True(writer.TryAddAttribute(StunAttributeType.Fingerprint, length, out Span<byte> value));
        uint crc = StunWire.Crc32(buffer.AsSpan(0, offset)) ^ StunConstants.FingerprintXor;
        Span<byte> crcBytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crcBytes, crc);
        crcBytes[..Math.Min(4, length)].CopyTo(value);
        byte[] message = writer.WrittenSpan.ToArray();

        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.HasFingerprint);
        StunAttribute fingerprint = reader.AttributeAt(reader.FingerprintOffset);
        Assert.False(StunAttributeValidator.IsWellFormed(fingerprint.Type, fingerprint.Value));
        Assert.False(reader.VerifyFingerprint());
    }

    // ---------------------------------------------------------------- what counts (RFC 8489 §9, §14)

    /// <summary>
    /// Checklist 26, RFC 8489 §9, §14.5-§14.7: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count, after
    /// MESSAGE-INTEGRITY-SHA256 only FINGERPRINT, after FINGERPRINT nothing. Attributes and TryGetAttribute skip the
    /// rest; AllAttributes shows them; the integrity attributes still verify over the bytes as received.
    /// </summary>
    [Fact]
    public void Rfc8489_S9_attributes_after_message_integrity_are_ignored()
    {
        byte[] message = StunWire.Write((ref StunMessageWriter w) =>
        {
            Assert.True(w.AddText(StunAttributeType.Username, "user"));
            Assert.True(w.AddMessageIntegrity(Key));
            Assert.True(w.AddText(StunAttributeType.Software, "ignored"));
            Assert.True(w.AddMessageIntegrity("second"u8));
            Assert.True(w.AddMessageIntegritySha256(Key));
            Assert.True(w.AddLifetime(1));
            Assert.True(w.AddMessageIntegritySha256("second"u8));
            Assert.True(w.AddFingerprint());
        }, Id);

        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(
            [StunAttributeType.Username, StunAttributeType.MessageIntegrity, StunAttributeType.MessageIntegritySha256, StunAttributeType.Fingerprint],
            Types(reader.Attributes));
        Assert.Equal(
            [StunAttributeType.Username, StunAttributeType.MessageIntegrity, StunAttributeType.Software, StunAttributeType.MessageIntegrity,
             StunAttributeType.MessageIntegritySha256, StunAttributeType.Lifetime, StunAttributeType.MessageIntegritySha256, StunAttributeType.Fingerprint],
            Types(reader.AllAttributes));
        Assert.False(reader.TryGetAttribute(StunAttributeType.Software, out _));
        Assert.False(reader.TryGetAttribute(StunAttributeType.Lifetime, out _));
        Assert.True(reader.TryGetAttribute(StunAttributeType.Username, out _));
        Assert.Equal(28, reader.MessageIntegrityOffset);
        Assert.True(reader.TryGetAttribute(StunAttributeType.MessageIntegrity, out StunAttribute mi));
        Assert.Equal(28, mi.Offset);
        Assert.True(reader.TryGetAttribute(StunAttributeType.MessageIntegritySha256, out StunAttribute mi256));
        Assert.Equal(reader.MessageIntegritySha256Offset, mi256.Offset);
        Assert.Equal(28 + 24 + 12 + 24, mi256.Offset);
        Assert.True(reader.VerifyMessageIntegrity(Key));
        Assert.True(reader.VerifyMessageIntegritySha256(Key));
        Assert.True(reader.VerifyFingerprint());
    }

    /// <summary>Checklist 26, RFC 8489 §9, §14.6: after MESSAGE-INTEGRITY-SHA256 (without MESSAGE-INTEGRITY) only FINGERPRINT counts, MESSAGE-INTEGRITY too is ignored.</summary>
    [Fact]
    public void Rfc8489_S9_attributes_after_message_integrity_sha256_are_ignored()
    {
        byte[] message = StunWire.Write((ref StunMessageWriter w) =>
        {
            Assert.True(w.AddText(StunAttributeType.Realm, "example.org"));
            Assert.True(w.AddMessageIntegritySha256(Key));
            Assert.True(w.AddMessageIntegrity(Key));
            Assert.True(w.AddText(StunAttributeType.Nonce, "ignored"));
            Assert.True(w.AddFingerprint());
            Assert.True(w.AddText(StunAttributeType.Software, "after the end"));
        }, Id);

        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal([StunAttributeType.Realm, StunAttributeType.MessageIntegritySha256, StunAttributeType.Fingerprint], Types(reader.Attributes));
        Assert.Equal(6, Types(reader.AllAttributes).Count);
        Assert.False(reader.HasMessageIntegrity);
        Assert.False(reader.VerifyMessageIntegrity(Key));
        Assert.False(reader.TryGetAttribute(StunAttributeType.MessageIntegrity, out _));
        Assert.False(reader.TryGetAttribute(StunAttributeType.Nonce, out _));
        Assert.False(reader.TryGetAttribute(StunAttributeType.Software, out _));
        Assert.True(reader.VerifyMessageIntegritySha256(Key));
        Assert.True(reader.HasFingerprint);
        Assert.False(reader.VerifyFingerprint()); // not the last attribute
    }

    /// <summary>
    /// Checklist 11, RFC 8489 §14: with duplicate attributes the first one is the one that counts (TryGetAttribute returns it);
    /// AllAttributes and Attributes show both. A second FINGERPRINT makes the first one not last.
    /// </summary>
    [Fact]
    public void Rfc8489_S14_duplicates_first_one_counts()
    {
        byte[] message = StunWire.Write((ref StunMessageWriter w) =>
        {
            Assert.True(w.AddText(StunAttributeType.Username, "first"));
            Assert.True(w.AddLifetime(1));
            Assert.True(w.AddText(StunAttributeType.Username, "second"));
            Assert.True(w.AddLifetime(2));
            Assert.True(w.AddFingerprint());
            Assert.True(w.AddFingerprint());
        }, Id);

        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute(StunAttributeType.Username, out StunAttribute username));
        Assert.Equal("first", Encoding.UTF8.GetString(username.Value));
        Assert.True(reader.TryGetAttribute(StunAttributeType.Lifetime, out StunAttribute lifetime));
        Assert.True(UInt32Value.TryRead(lifetime.Value, out uint seconds));
        Assert.Equal(1u, seconds);
        Assert.Equal(5, Types(reader.Attributes).Count);
        Assert.Equal(6, Types(reader.AllAttributes).Count);
        Assert.Equal(StunConstants.HeaderLength + 12 + 8 + 12 + 8, reader.FingerprintOffset);
        Assert.False(reader.VerifyFingerprint());
    }

    /// <summary>
    /// Checklist 9, 30, RFC 8489 §14: padding bytes may hold anything and are ignored on receipt; integrity and FINGERPRINT are over
    /// the bytes as received, so they verify with the padding the sender chose and fail once it is changed.
    /// </summary>
    [Property(MaxTest = 200)]
    public Property Rfc8489_S14_padding_of_any_value_is_ignored() =>
        Prop.ForAll(Gens.Of(Gens.Bytes(3), Gen.Choose(1, 3), Gens.Bytes(2)).ToArbitrary(), t =>
        {
            (byte[] padding, int textLength, byte[] unknownPadding) = t;
            string text = "abc"[..textLength];
            byte[] buffer = new byte[256];
            var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), Id);
            Assert.True(writer.AddText(StunAttributeType.Software, text));
            padding.AsSpan(0, 4 - textLength).CopyTo(buffer.AsSpan(writer.Length - (4 - textLength)));
            Assert.True(writer.AddAttribute((ushort)0x8F00, [1, 2]));
            unknownPadding.CopyTo(buffer, writer.Length - 2);
            Assert.True(writer.AddLifetime(77));
            Assert.True(writer.AddMessageIntegrity(Key));
            Assert.True(writer.AddFingerprint());
            byte[] message = writer.WrittenSpan.ToArray();

            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
            Assert.True(reader.TryGetAttribute(StunAttributeType.Software, out StunAttribute software));
            Assert.Equal(text, Encoding.UTF8.GetString(software.Value));
            Assert.True(StunAttributeValidator.IsWellFormed(software.Type, software.Value));
            Assert.True(reader.TryGetAttribute(0x8F00, out StunAttribute unknown));
            Assert.Equal(new byte[] { 1, 2 }, unknown.Value.ToArray());
            Assert.True(reader.TryGetAttribute(StunAttributeType.Lifetime, out StunAttribute lifetime));
            Assert.True(UInt32Value.TryRead(lifetime.Value, out uint seconds));
            Assert.Equal(77u, seconds);
            Assert.True(reader.VerifyMessageIntegrity(Key));
            Assert.True(reader.VerifyFingerprint());

            byte[] repadded = (byte[])message.Clone();
            repadded[StunConstants.HeaderLength + 4 + textLength] ^= 0x01;
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(repadded, out StunMessageReader changed));
            Assert.True(changed.TryGetAttribute(StunAttributeType.Software, out StunAttribute same));
            Assert.Equal(text, Encoding.UTF8.GetString(same.Value));
            Assert.False(changed.VerifyMessageIntegrity(Key));
            Assert.False(changed.VerifyFingerprint());
        });

    // ---------------------------------------------------------------- ChannelData (RFC 8656 §12.4, §12.6)

    /// <summary>RFC 8656 §12.4: fewer than the 4 header bytes is not a ChannelData message.</summary>
    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x40 })]
    [InlineData(new byte[] { 0x40, 0x00 })]
    [InlineData(new byte[] { 0x40, 0x00, 0x00 })]
    public void Rfc8656_S12_4_short_datagram_is_rejected(byte[] packet)
    {
        Assert.False(ChannelData.TryParse(packet, out _, out ReadOnlySpan<byte> data));
        Assert.True(data.IsEmpty);
    }

    /// <summary>Checklist 113, RFC 8656 §12.6: a datagram shorter than 4 + Length is discarded; exactly 4 + Length is fine.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(1500)]
    [InlineData(65535)]
    public void Rfc8656_S12_6_length_past_the_end_is_rejected(int length)
    {
        byte[] packet = new byte[4 + length];
        ChannelData.WriteHeader(packet, 0x4123, length);
        Assert.False(ChannelData.TryParse(packet.AsSpan(0, packet.Length - 1), out _, out _));
        Assert.True(ChannelData.TryParse(packet, out ushort channel, out ReadOnlySpan<byte> data));
        Assert.Equal(0x4123, channel);
        Assert.Equal(length, data.Length);
    }

    /// <summary>Checklist 115, RFC 8656 §12, §12.6: only channels 0x4000-0x4FFF are valid; 0x5000-0xFFFF are reserved and the rest not channels.</summary>
    [Fact]
    public void Rfc8656_S12_6_only_channels_0x4000_to_0x4FFF_parse()
    {
        byte[] packet = new byte[8];
        for (int channel = 0; channel <= 0xFFFF; channel++)
        {
            ChannelData.WriteHeader(packet, (ushort)channel, 4);
            bool valid = channel is >= 0x4000 and <= 0x4FFF;
            Assert.Equal(valid, ChannelData.IsValidChannel((ushort)channel));
            Assert.Equal(valid, ChannelData.TryParse(packet, out _, out _));
            Assert.Equal(valid ? PacketKind.ChannelData : PacketKind.Other, channel >= 0x4000 ? PacketClassifier.Classify(packet) : PacketKind.Other);
        }
    }

    /// <summary>Checklist 113, RFC 8656 §12.4: a ChannelData message may carry no data at all.</summary>
    [Fact]
    public void Rfc8656_S12_4_zero_length_is_valid()
    {
        Assert.True(ChannelData.TryParse([0x4F, 0xFF, 0x00, 0x00], out ushort channel, out ReadOnlySpan<byte> data));
        Assert.Equal(0x4FFF, channel);
        Assert.True(data.IsEmpty);
    }

    /// <summary>RFC 8656 §12.5, §12.6: bytes after the data (padding, over UDP optional) are ignored whatever their value.</summary>
    [Property(MaxTest = 200)]
    public Property Rfc8656_S12_6_trailing_padding_is_ignored() =>
        Prop.ForAll(Gens.Of(Gens.VariableBytes(200), Gens.VariableBytes(7), Gen.Choose(0x4000, 0x4FFF)).ToArbitrary(), t =>
        {
            (byte[] payload, byte[] trailing, int channel) = t;
            byte[] packet = new byte[4 + payload.Length + trailing.Length];
            ChannelData.WriteHeader(packet, (ushort)channel, payload.Length);
            payload.CopyTo(packet, 4);
            trailing.CopyTo(packet, 4 + payload.Length);
            Assert.True(ChannelData.TryParse(packet, out ushort readChannel, out ReadOnlySpan<byte> data));
            Assert.Equal(channel, readChannel);
            Assert.Equal(payload, data.ToArray());
        });

    // ---------------------------------------------------------------- nothing throws

    /// <summary>Checklist 135, RFC 8489 §6.3, RFC 8656 §12.6: arbitrary bytes never make any part of the codec throw.</summary>
    [Property(MaxTest = 1000)]
    public Property Rfc8489_S6_3_Rfc8656_S12_6_arbitrary_bytes_never_throw() =>
        Prop.ForAll(Gen.OneOf(Gens.VariableBytes(300), Gens.Bytes(20), Gens.Bytes(24)).ToArbitrary(), bytes => Exercise(bytes));

    /// <summary>
    /// RFC 8489 §6.3, §14: a valid 20-byte header with the magic cookie followed by arbitrary bytes (Length made to
    /// fit), and random TLV lists, so parsing goes deep; nothing throws and what parses keeps its invariants.
    /// </summary>
    [Property(MaxTest = 1000)]
    public Property Rfc8489_S14_arbitrary_attributes_after_a_valid_header_never_throw() =>
        Prop.ForAll(Gens.Of(Gen.OneOf(RandomTail, TlvList), Gens.Bytes(16), Gen.Frequency((9, Gen.Constant(0)), (1, Gen.Elements(-4, 4, 1)))).ToArbitrary(), t =>
        {
            (byte[] body, byte[] header, int lengthDelta) = t;
            byte[] message = new byte[StunConstants.HeaderLength + body.Length];
            message[0] = (byte)(header[0] & 0x03);
            message[1] = header[1];
            BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)(body.Length + lengthDelta));
            BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(4), StunConstants.MagicCookie);
            header.AsSpan(4, 12).CopyTo(message.AsSpan(8));
            body.CopyTo(message, StunConstants.HeaderLength);
            StunParseStatus status = Exercise(message);
            if (lengthDelta == 0 && body.Length % 4 == 0)
            {
                Assert.True(status is StunParseStatus.Success or StunParseStatus.AttributeOverrun);
            }
        });

    /// <summary>RFC 8489 §14.5-§14.7: valid messages with integrity and fingerprint, with random bytes changed, never throw.</summary>
    [Property(MaxTest = 1000)]
    public Property Rfc8489_S14_5_S14_7_mutated_valid_messages_never_throw() =>
        Prop.ForAll(Gens.Of(Gens.Of(Gen.Choose(0, ValidLength - 1), Gens.Byte), Gens.Of(Gen.Choose(0, ValidLength - 1), Gens.Byte)).ToArbitrary(), t =>
        {
            ((int first, byte firstValue), (int second, byte secondValue)) = t;
            byte[] message = Valid();
            Assert.Equal(ValidLength, message.Length);
            message[first] = firstValue;
            message[second] = secondValue;
            Exercise(message);
        });

    private static readonly Gen<byte[]> RandomTail = Gens.VariableBytes(200).Select(b => b[..(b.Length & ~3)]);

    private static readonly ushort[] InterestingTypes =
        [.. Enum.GetValues<StunAttributeType>().Select(t => (ushort)t), 0x0000, 0x0010, 0x7FFF, 0x8005, 0xFFFF];

    /// <summary>One TLV with a length the type usually has (or any), a value shaped like an address or code, and random padding.</summary>
    private static readonly Gen<byte[]> Tlv =
        from type in Gen.Frequency((4, Gen.Elements(InterestingTypes)), (1, Gens.UInt16))
        from length in Gen.Frequency((4, Gen.Elements(0, 1, 2, 4, 8, 12, 16, 20, 24, 32)), (1, Gen.Choose(0, 80)))
        from value in Gens.Bytes(length)
        from family in Gen.Elements<byte>(1, 2, 0, 3)
        from shaped in Gens.Bool
        from padding in Gens.Bytes((4 - (length & 3)) & 3)
        select BuildTlv(type, value, shaped ? family : (byte?)null, padding);

    private static readonly Gen<byte[]> TlvList = Tlv.ListOf().Where(l => l.Count <= 12).Select(l => l.SelectMany(b => b).ToArray());

    private static byte[] BuildTlv(ushort type, byte[] value, byte? family, byte[] padding)
    {
        value = (byte[])value.Clone();
        if (family is byte f && value.Length >= 4)
        {
            value[0] = 0;
            value[1] = f;      // an address family, so the address readers get past the family check
            value[2] &= 0x07;  // a plausible error class
            value[3] %= 100;   // and number
        }

        byte[] tlv = new byte[4 + value.Length + padding.Length];
        BinaryPrimitives.WriteUInt16BigEndian(tlv, type);
        BinaryPrimitives.WriteUInt16BigEndian(tlv.AsSpan(2), (ushort)value.Length);
        value.CopyTo(tlv, 4);
        padding.CopyTo(tlv, 4 + value.Length);
        return tlv;
    }

    /// <summary>Runs every reader of the codec over <paramref name="bytes"/> and checks what it reports hangs together.</summary>
    private static StunParseStatus Exercise(byte[] bytes)
    {
        _ = PacketClassifier.Classify(bytes);
        _ = StunMessageReader.TryReadHeader(bytes, out _);
        if (ChannelData.TryParse(bytes, out ushort channel, out ReadOnlySpan<byte> channelData))
        {
            Assert.True(ChannelData.IsValidChannel(channel));
            Assert.True(channelData.Length <= bytes.Length - 4);
        }

        FrameStatus frame = StunFraming.TryReadFrame(new ReadOnlySequence<byte>(bytes), out PacketKind kind, out int frameLength);
        if (frame == FrameStatus.Complete)
        {
            Assert.InRange(frameLength, 4, bytes.Length);
        }

        int split = bytes.Length / 2;
        FrameStatus segmented = StunFraming.TryReadFrame(
            Segments.Create(bytes.AsMemory(0, split), ReadOnlyMemory<byte>.Empty, bytes.AsMemory(split)), out PacketKind segmentedKind, out int segmentedLength);
        Assert.Equal(frame, segmented);
        Assert.Equal(kind, segmentedKind);
        Assert.Equal(frameLength, segmentedLength);

        StunParseStatus status = StunMessageReader.TryParse(bytes, out StunMessageReader reader);
        if (status != StunParseStatus.Success)
        {
            AssertEmpty(reader);
            return status;
        }

        Assert.Equal(bytes.Length, StunConstants.HeaderLength + reader.Header.Length);
        Assert.Equal(0, reader.Header.Length % 4);
        if (bytes[0] <= 3)
        {
            Assert.Equal(FrameStatus.Complete, frame);
            Assert.Equal(bytes.Length, frameLength);
        }
        else
        {
            // RFC 7983: a stream demultiplexes STUN by first byte 0-3 (methods up to 0x0FF); TryParse only needs
            // the top two bits zero (RFC 8489 §5), so a higher method parses but is not framed on a stream.
            Assert.Equal(FrameStatus.Invalid, frame);
        }
        TransactionId id = reader.Header.TransactionId;
        _ = reader.Header.Type.ToString();

        int next = StunConstants.HeaderLength;
        var all = new List<int>();
        foreach (StunAttribute attribute in reader.AllAttributes)
        {
            Assert.Equal(next, attribute.Offset);
            next += 4 + ((attribute.Value.Length + 3) & ~3);
            Assert.True(next <= bytes.Length);
            all.Add(attribute.Offset);
            ExerciseAttribute(attribute, id, bytes);
        }

        Assert.Equal(bytes.Length, next);
        var counted = new List<int>();
        foreach (StunAttribute attribute in reader.Attributes)
        {
            counted.Add(attribute.Offset);
            Assert.True(reader.TryGetAttribute(attribute.Type, out StunAttribute first));
            Assert.True(first.Offset <= attribute.Offset);
            Assert.Equal(attribute.Type, first.Type);
        }

        Assert.True(counted.All(all.Contains), "Attributes must be a subset of AllAttributes");
        CheckOffset(reader.MessageIntegrityOffset, StunAttributeType.MessageIntegrity, counted, bytes);
        CheckOffset(reader.MessageIntegritySha256Offset, StunAttributeType.MessageIntegritySha256, counted, bytes);
        CheckOffset(reader.FingerprintOffset, StunAttributeType.Fingerprint, counted, bytes);

        _ = reader.VerifyMessageIntegrity(Key);
        _ = reader.VerifyMessageIntegrity([]);
        _ = reader.VerifyMessageIntegritySha256(Key);
        _ = reader.VerifyMessageIntegritySha256(Key, minimumLength: 16);
        _ = reader.VerifyFingerprint();
        for (int offset = -1; offset <= bytes.Length + 1; offset++)
        {
            _ = StunIntegrity.VerifyMessageIntegrity(bytes, offset, Key);
            _ = StunIntegrity.VerifyMessageIntegritySha256(bytes, offset, Key, minimumLength: 16);
            _ = StunIntegrity.VerifyFingerprint(bytes, offset);
        }

        return status;
    }

    private static void CheckOffset(int offset, StunAttributeType type, List<int> counted, byte[] bytes)
    {
        if (offset < 0)
        {
            return;
        }

        Assert.Contains(offset, counted);
        Assert.Equal((ushort)type, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(offset)));
    }

    private static void ExerciseAttribute(StunAttribute attribute, TransactionId id, byte[] message)
    {
        ReadOnlySpan<byte> value = attribute.Value;
        bool wellFormed = StunAttributeValidator.IsWellFormed(attribute.Type, value);
        _ = StunAttributeTypes.IsKnown(attribute.Type);
        _ = attribute.IsComprehensionRequired;

        bool address = AddressValue.TryRead(value, out TransportAddress plain);
        bool xor = XorAddressValue.TryRead(value, id, out TransportAddress xored);
        Assert.Equal(address, xor);
        Assert.Equal(address, XorAddressValue.TryRead(value, message.AsSpan(8, 12), out _));
        if (address)
        {
            _ = plain.ToString();
            _ = xored.ToIPEndPoint();
        }

        foreach (StunAttributeType textType in TextTypes)
        {
            _ = TextValue.IsValid(textType, value);
        }

        _ = NonceCookie.TryParse(value, out _);
        _ = ErrorCodeValue.TryRead(value, out _, out _);
        _ = AddressErrorCodeValue.TryRead(value, out _, out _, out _);
        if (UnknownAttributesValue.IsValid(value))
        {
            for (int i = 0; i < UnknownAttributesValue.Count(value); i++)
            {
                Assert.True(UnknownAttributesValue.Contains(value, UnknownAttributesValue.Get(value, i)));
            }
        }

        _ = PasswordAlgorithmsValue.IsValid(value);
        _ = PasswordAlgorithmsValue.TryReadSingle(value, out _, out _);
        _ = PasswordAlgorithmsValue.Contains(value, PasswordAlgorithm.Sha256);
        _ = PasswordAlgorithmsValue.SequenceEqual(value, [PasswordAlgorithm.Md5, PasswordAlgorithm.Sha256]);
        var entries = new PasswordAlgorithmsValue.Enumerator(value);
        while (entries.MoveNext())
        {
            _ = entries.CurrentParameters.Length;
        }

        _ = ChannelNumberValue.TryRead(value, out _);
        _ = UInt32Value.TryRead(value, out _);
        _ = AddressFamilyValue.TryRead(value, out _);
        _ = EvenPortValue.TryRead(value, out _);
        _ = RequestedTransportValue.TryRead(value, out _);
        _ = ReservationTokenValue.TryRead(value, out _);
        _ = IcmpValue.TryRead(value, out _, out _, out _);

        // The validator and the typed readers agree on the shape of the value.
        switch (attribute.KnownType)
        {
            case StunAttributeType.MappedAddress or StunAttributeType.AlternateServer or StunAttributeType.XorMappedAddress
                or StunAttributeType.XorPeerAddress or StunAttributeType.XorRelayedAddress:
                Assert.Equal(address, wellFormed);
                break;
            case StunAttributeType.ErrorCode:
                Assert.Equal(ErrorCodeValue.TryRead(value, out _, out _), wellFormed);
                break;
            case StunAttributeType.Lifetime or StunAttributeType.ConnectionId or StunAttributeType.Fingerprint:
                Assert.Equal(UInt32Value.TryRead(value, out _), wellFormed);
                break;
            case StunAttributeType.Icmp:
                Assert.Equal(IcmpValue.TryRead(value, out _, out _, out _), wellFormed);
                break;
            case StunAttributeType.EvenPort:
                Assert.Equal(EvenPortValue.TryRead(value, out _), wellFormed);
                break;
            default:
                if (!StunAttributeTypes.IsKnown(attribute.Type))
                {
                    Assert.True(wellFormed, "unknown types are not judged by the validator");
                }

                break;
        }
    }

    /// <summary>A reader from a failed parse (or default) holds nothing and claims no integrity attributes.</summary>
    private static void AssertEmpty(StunMessageReader reader)
    {
        Assert.True(reader.Bytes.IsEmpty);
        Assert.Empty(Types(reader.Attributes));
        Assert.Empty(Types(reader.AllAttributes));
        Assert.False(reader.TryGetAttribute(StunAttributeType.Username, out _));
        Assert.False(reader.HasMessageIntegrity);
        Assert.False(reader.HasMessageIntegritySha256);
        Assert.False(reader.HasFingerprint);
        Assert.False(reader.VerifyMessageIntegrity(Key));
        Assert.False(reader.VerifyMessageIntegritySha256(Key));
        Assert.False(reader.VerifyFingerprint());
    }

    private static List<StunAttributeType> Types(StunMessageReader.AttributeEnumerator attributes)
    {
        var types = new List<StunAttributeType>();
        foreach (StunAttribute attribute in attributes)
        {
            types.Add(attribute.KnownType);
        }

        return types;
    }

    private static byte[] Header(int length, uint cookie)
    {
        byte[] header = new byte[StunConstants.HeaderLength];
        BinaryPrimitives.WriteUInt16BigEndian(header, 0x0001);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)length);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), cookie);
        Id.WriteTo(header.AsSpan(8));
        return header;
    }

    /// <summary>
    /// USERNAME then an integrity attribute of <paramref name="length"/> bytes holding the true HMAC (truncated, or
    /// followed by zeros), computed as the verifier would: Length ending at the attribute's value.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "RFC 8489 §14.5 mandates HMAC-SHA1.")]
    private static byte[] WithIntegrityOfLength(StunAttributeType type, int length, bool sha256)
    {
        byte[] buffer = new byte[128];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), Id);
        Assert.True(writer.AddText(StunAttributeType.Username, "user"));
        int offset = writer.Length;
        Assert.True(writer.TryAddAttribute(type, length, out Span<byte> value));
        value.Clear();
        byte[] prefix = buffer[..offset];
        BinaryPrimitives.WriteUInt16BigEndian(prefix.AsSpan(2), (ushort)(offset + 4 + length - StunConstants.HeaderLength));
        byte[] mac = sha256 ? HMACSHA256.HashData(Key, prefix) : HMACSHA1.HashData(Key, prefix);
        mac.AsSpan(0, Math.Min(mac.Length, length)).CopyTo(value);
        return writer.WrittenSpan.ToArray();
    }
}
