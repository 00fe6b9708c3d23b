using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Turn.Stun.Tests;

/// <summary>
/// Round trips through the codec: every attribute is appended with <see cref="StunMessageWriter"/>, the message is
/// parsed with <see cref="StunMessageReader.TryParse"/> and the value is read back with its typed reader. The write
/// buffer is dirtied (0xFF) first, so zero padding and zero RFFU/reserved bits are checked on the wire each time
/// (RFC 8489 §14: padding MUST be zero when sent).
/// </summary>
public class AttributeRoundTripProperties
{
    private const int Runs = 200;

    // ---------------------------------------------------------------- addresses

    /// <summary>RFC 8489 §14.1 MAPPED-ADDRESS and §14.15 ALTERNATE-SERVER: family, port, address in the clear.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_1_S14_15_plain_address_attributes_round_trip() =>
        Prop.ForAll(
            Gens.Of(Gens.TransportAddress, Gen.Elements(StunAttributeType.MappedAddress, StunAttributeType.AlternateServer)).ToArbitrary(),
            t =>
            {
                (TransportAddress address, StunAttributeType type) = t;
                byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddAddress(type, address)));
                byte[] value = StunWire.ReadSingle(message, type);

                Assert.Equal(address.Family == StunAddressFamily.IPv4 ? 8 : 20, value.Length);
                Assert.Equal(0, value[0]);
                Assert.Equal((byte)address.Family, value[1]);
                Assert.Equal(address.Port, BinaryPrimitives.ReadUInt16BigEndian(value.AsSpan(2)));
                Assert.True(AddressValue.TryRead(value, out TransportAddress read));
                Assert.Equal(address, read);
                Assert.Equal(address, TransportAddress.FromIPEndPoint(read.ToIPEndPoint()));
            });

    /// <summary>
    /// Checklist 22, RFC 8489 §14.2 XOR-MAPPED-ADDRESS, RFC 8656 §18.3 XOR-PEER-ADDRESS, §18.5 XOR-RELAYED-ADDRESS: the port XOR the
    /// top of the magic cookie, IPv4 XOR the cookie, IPv6 XOR the cookie and the transaction id; any transaction id.
    /// </summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_2_Rfc8656_S18_3_S18_5_xor_address_attributes_round_trip() =>
        Prop.ForAll(
            Gens.Of(Gens.TransportAddress, Gens.TransactionId,
                Gen.Elements(StunAttributeType.XorMappedAddress, StunAttributeType.XorPeerAddress, StunAttributeType.XorRelayedAddress)).ToArbitrary(),
            t =>
            {
                (TransportAddress address, TransactionId id, StunAttributeType type) = t;
                byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddXorAddress(type, address)), id);
                byte[] value = StunWire.ReadSingle(message, type);

                // The wire bytes, computed independently of the codec.
                byte[] mask = new byte[16];
                BinaryPrimitives.WriteUInt32BigEndian(mask, StunConstants.MagicCookie);
                id.WriteTo(mask.AsSpan(4));
                byte[] plain = new byte[16];
                int length = address.WriteAddressBytes(plain);
                Assert.Equal(4 + length, value.Length);
                Assert.Equal(0, value[0]);
                Assert.Equal((byte)address.Family, value[1]);
                Assert.Equal(address.Port ^ 0x2112, BinaryPrimitives.ReadUInt16BigEndian(value.AsSpan(2)));
                for (int i = 0; i < length; i++)
                {
                    Assert.Equal((byte)(plain[i] ^ mask[i]), value[4 + i]);
                }

                Assert.Equal(id, ReadTransactionId(message));
                Assert.True(XorAddressValue.TryRead(value, id, out TransportAddress read));
                Assert.Equal(address, read);
                Assert.True(XorAddressValue.TryRead(value, message.AsSpan(8, TransactionId.Length), out TransportAddress readFromSpan));
                Assert.Equal(address, readFromSpan);
            });

    /// <summary>RFC 8489 §14.2: IPv6 is masked with the transaction id, so decoding under another id gives another address.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_2_ipv6_xor_address_depends_on_the_transaction_id() =>
        Prop.ForAll(
            Gens.Of(Gens.IPv6Address, Gens.TransactionId, Gens.TransactionId).ToArbitrary(),
            t =>
            {
                (TransportAddress address, TransactionId id, TransactionId other) = t;
                byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddXorAddress(StunAttributeType.XorPeerAddress, address)), id);
                byte[] value = StunWire.ReadSingle(message, StunAttributeType.XorPeerAddress);
                Assert.True(XorAddressValue.TryRead(value, other, out TransportAddress read));
                Assert.Equal(id == other, read == address);
                Assert.Equal(address.Port, read.Port);
            });

    // ---------------------------------------------------------------- text

    /// <summary>
    /// RFC 8489 §14.3 USERNAME, §14.9 REALM, §14.10 NONCE, §14.14 SOFTWARE, §14.16 ALTERNATE-DOMAIN: UTF-8 text of
    /// fewer than 128 characters (USERNAME: fewer than 509 bytes) comes back unchanged and is judged valid.
    /// </summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_3_S14_9_S14_10_S14_14_S14_16_text_attributes_round_trip() =>
        Prop.ForAll(
            Gens.Of(Gens.Text(StunConstants.MaxTextCharacters),
                Gen.Elements(StunAttributeType.Username, StunAttributeType.Realm, StunAttributeType.Nonce,
                    StunAttributeType.Software, StunAttributeType.AlternateDomain)).ToArbitrary(),
            t =>
            {
                (string text, StunAttributeType type) = t;
                byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddText(type, text)));
                byte[] value = StunWire.ReadSingle(message, type);
                Assert.Equal(Encoding.UTF8.GetBytes(text), value);
                Assert.Equal(text, Encoding.UTF8.GetString(value));
                Assert.True(TextValue.IsValid(type, value));
                if (type == StunAttributeType.Username)
                {
                    Assert.True(value.Length < 509, "RFC 8489 §14.3: fewer than 509 bytes when sent");
                }
            });

    /// <summary>Checklist 23, RFC 8489 §14.9-§14.16: 127 characters is the most a REALM/NONCE/SOFTWARE/ALTERNATE-DOMAIN may hold.</summary>
    [Theory]
    [InlineData(StunAttributeType.Realm)]
    [InlineData(StunAttributeType.Nonce)]
    [InlineData(StunAttributeType.Software)]
    [InlineData(StunAttributeType.AlternateDomain)]
    public void Rfc8489_S14_9_text_limit_is_fewer_than_128_characters(StunAttributeType type)
    {
        // Four-byte characters: 127 of them are 508 bytes, within the byte limit, so only the character count decides.
        string longest = string.Concat(Enumerable.Repeat("\U0001F600", 127));
        Assert.True(TextValue.IsValid(type, Encoding.UTF8.GetBytes(longest)));
        Assert.False(TextValue.IsValid(type, Encoding.UTF8.GetBytes(longest + "a")));
        Assert.True(TextValue.IsValid(type, Encoding.UTF8.GetBytes(new string('a', 127))));
        Assert.False(TextValue.IsValid(type, Encoding.UTF8.GetBytes(new string('a', 128))));
        Assert.False(TextValue.IsValid(type, [0x61, 0xC3])); // truncated UTF-8 sequence
    }

    /// <summary>Checklist 23, RFC 8489 §14.3: USERNAME is sent in fewer than 509 bytes; this codec accepts up to 763 bytes on receipt.</summary>
    [Fact]
    public void Rfc8489_S14_3_username_limits()
    {
        string sent = new('u', 508);
        byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddText(StunAttributeType.Username, sent)));
        Assert.Equal(Encoding.ASCII.GetBytes(sent), StunWire.ReadSingle(message, StunAttributeType.Username));
        Assert.True(TextValue.IsValid(StunAttributeType.Username, Encoding.ASCII.GetBytes(new string('u', 763))));
        Assert.False(TextValue.IsValid(StunAttributeType.Username, Encoding.ASCII.GetBytes(new string('u', 764))));
        Assert.False(TextValue.IsValid(StunAttributeType.Username, [0xFF]));
    }

    // ---------------------------------------------------------------- opaque values

    /// <summary>RFC 8489 §14.4: USERHASH is a 32-byte SHA-256 value carried as is.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_4_USERHASH_round_trips() =>
        Prop.ForAll(Gens.Bytes(32).ToArbitrary(), hash =>
        {
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddAttribute(StunAttributeType.UserHash, hash)));
            Assert.Equal(hash, StunWire.ReadSingle(message, StunAttributeType.UserHash));
            Assert.False(StunAttributeValidator.IsWellFormed((ushort)StunAttributeType.UserHash, hash.AsSpan(1)));
        });

    /// <summary>
    /// RFC 8656 §18.4 DATA: any bytes, empty included; the value comes back exactly and the 0-3 padding bytes after
    /// it are zero on the wire (RFC 8489 §14).
    /// </summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8656_S18_4_DATA_round_trips_with_zero_padding() =>
        Prop.ForAll(Gens.VariableBytes(600).ToArbitrary(), data =>
        {
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddAttribute(StunAttributeType.Data, data)), capacity: 1024);
            Assert.Equal(data, StunWire.ReadSingle(message, StunAttributeType.Data));
            Assert.Equal(StunConstants.HeaderLength + 4 + ((data.Length + 3) & ~3), message.Length);
        });

    /// <summary>Checklist 9, RFC 8489 §14 / RFC 8656 §18.4: DATA of lengths 0-8 gets 0, 3, 2, 1 padding bytes, all zero.</summary>
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 3)]
    [InlineData(2, 2)]
    [InlineData(3, 1)]
    [InlineData(4, 0)]
    [InlineData(5, 3)]
    [InlineData(6, 2)]
    [InlineData(7, 1)]
    [InlineData(8, 0)]
    public void Rfc8489_S14_DATA_padding_is_zero_for_every_remainder(int length, int padding)
    {
        byte[] data = Enumerable.Range(1, length).Select(i => (byte)(0xA0 + i)).ToArray();
        byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddAttribute(StunAttributeType.Data, data)));
        Assert.Equal(StunConstants.HeaderLength + 4 + length + padding, message.Length);
        Assert.Equal(length, BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(22)));
        Assert.All(message[(24 + length)..], b => Assert.Equal(0, b));
        Assert.Equal(data, StunWire.ReadSingle(message, StunAttributeType.Data));
    }

    /// <summary>Checklist 128, RFC 8656 §18.9: DONT-FRAGMENT has no value at all.</summary>
    [Fact]
    public void Rfc8656_S18_9_DONT_FRAGMENT_is_empty()
    {
        byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddAttribute(StunAttributeType.DontFragment, [])));
        Assert.Equal(24, message.Length);
        Assert.Empty(StunWire.ReadSingle(message, StunAttributeType.DontFragment));
        Assert.False(StunAttributeValidator.IsWellFormed((ushort)StunAttributeType.DontFragment, [0]));
    }

    // ---------------------------------------------------------------- integrity

    /// <summary>
    /// Checklist 28, RFC 8489 §14.5: MESSAGE-INTEGRITY is HMAC-SHA1 over the message up to the attribute with Length covering it;
    /// it verifies under its key (any length, longer than the HMAC block too) and fails under any other key.
    /// </summary>
    [Property(MaxTest = Runs)]
    [SuppressMessage("Security", "CA5350", Justification = "RFC 8489 §14.5 mandates HMAC-SHA1.")]
    public Property Rfc8489_S14_5_MESSAGE_INTEGRITY_verifies_under_its_key_only() =>
        Prop.ForAll(Gens.Of(Gens.VariableBytes(100), Gens.Text(20), Gens.TransactionId).ToArbitrary(), t =>
        {
            (byte[] key, string username, TransactionId id) = t;
            byte[] message = StunWire.Write((ref StunMessageWriter w) =>
            {
                Assert.True(w.AddText(StunAttributeType.Username, username));
                Assert.True(w.AddMessageIntegrity(key));
            }, id);

            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
            Assert.True(reader.HasMessageIntegrity);
            Assert.Equal(message.Length - 24, reader.MessageIntegrityOffset);
            StunAttribute mi = reader.AttributeAt(reader.MessageIntegrityOffset);
            Assert.Equal(StunConstants.MessageIntegrityLength, mi.Value.Length);
            Assert.Equal(HMACSHA1.HashData(key, message.AsSpan(0, reader.MessageIntegrityOffset)), mi.Value.ToArray());
            Assert.True(StunAttributeValidator.IsWellFormed(mi.Type, mi.Value));
            Assert.True(reader.VerifyMessageIntegrity(key));
            Assert.False(reader.VerifyMessageIntegrity(OtherKey(key)));
            Assert.False(reader.HasMessageIntegritySha256);
            Assert.False(reader.VerifyMessageIntegritySha256(key));
        });

    /// <summary>
    /// RFC 8489 §14.6: MESSAGE-INTEGRITY-SHA256 is HMAC-SHA256, possibly truncated to 16, 20, 24 or 28 bytes; every
    /// allowed length verifies when the usage accepts that length, and a truncated one fails when 32 is required.
    /// </summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_6_MESSAGE_INTEGRITY_SHA256_verifies_at_every_allowed_length() =>
        Prop.ForAll(Gens.Of(Gens.VariableBytes(100), Gen.Elements(16, 20, 24, 28, 32), Gens.TransactionId).ToArbitrary(), t =>
        {
            (byte[] key, int length, TransactionId id) = t;
            byte[] message = StunWire.Write((ref StunMessageWriter w) =>
            {
                Assert.True(w.AddText(StunAttributeType.Realm, "example.org"));
                Assert.True(w.AddMessageIntegritySha256(key, length));
            }, id);

            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
            Assert.True(reader.HasMessageIntegritySha256);
            Assert.False(reader.HasMessageIntegrity);
            StunAttribute mi = reader.AttributeAt(reader.MessageIntegritySha256Offset);
            Assert.Equal(length, mi.Value.Length);
            Assert.Equal(message.Length - 4 - length, mi.Offset);
            Assert.Equal(HMACSHA256.HashData(key, message.AsSpan(0, mi.Offset))[..length], mi.Value.ToArray());
            Assert.True(StunAttributeValidator.IsWellFormed(mi.Type, mi.Value));
            Assert.True(reader.VerifyMessageIntegritySha256(key, minimumLength: length));
            Assert.True(reader.VerifyMessageIntegritySha256(key, minimumLength: 16));
            Assert.Equal(length == 32, reader.VerifyMessageIntegritySha256(key));
            Assert.False(reader.VerifyMessageIntegritySha256(OtherKey(key), minimumLength: 16));
        });

    /// <summary>RFC 8489 §14.6: the writer refuses lengths that are not 16-32 in steps of 4.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(12)]
    [InlineData(15)]
    [InlineData(18)]
    [InlineData(33)]
    [InlineData(36)]
    public void Rfc8489_S14_6_writer_refuses_invalid_sha256_lengths(int length)
    {
        byte[] buffer = new byte[128];
        Assert.Throws<ArgumentOutOfRangeException>(() =>
        {
            var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), default);
            _ = writer.AddMessageIntegritySha256([1, 2, 3], length);
        });
        Assert.False(StunIntegrity.IsValidSha256Length(length));
    }

    /// <summary>
    /// RFC 8489 §14.7: FINGERPRINT is CRC-32 (ITU-T V.42) of the message before it, XOR 0x5354554E, with Length
    /// covering it; checked against an independent bitwise CRC-32.
    /// </summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_7_FINGERPRINT_verifies() =>
        Prop.ForAll(Gens.Of(Gens.VariableBytes(300), Gens.TransactionId, Gens.Bool).ToArbitrary(), t =>
        {
            (byte[] data, TransactionId id, bool withIntegrity) = t;
            byte[] message = StunWire.Write((ref StunMessageWriter w) =>
            {
                Assert.True(w.AddAttribute(StunAttributeType.Data, data));
                if (withIntegrity)
                {
                    Assert.True(w.AddMessageIntegrity("key"u8));
                }

                Assert.True(w.AddFingerprint());
            }, id, capacity: 1024);

            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
            Assert.True(reader.HasFingerprint);
            Assert.Equal(message.Length - 8, reader.FingerprintOffset);
            uint expected = StunWire.Crc32(message.AsSpan(0, reader.FingerprintOffset)) ^ 0x5354554E;
            Assert.Equal(expected, BinaryPrimitives.ReadUInt32BigEndian(message.AsSpan(message.Length - 4)));
            Assert.True(StunAttributeValidator.IsWellFormed((ushort)StunAttributeType.Fingerprint, message.AsSpan(message.Length - 4)));
            Assert.True(reader.VerifyFingerprint());
            Assert.Equal(withIntegrity, reader.HasMessageIntegrity);
            Assert.Equal(withIntegrity, reader.VerifyMessageIntegrity("key"u8));
        });

    /// <summary>The CRC-32 the FINGERPRINT checks rely on (RFC 8489 §14.7 cites ITU-T V.42): check value of "123456789".</summary>
    [Fact]
    public void Rfc8489_S14_7_reference_crc32_check_value() =>
        Assert.Equal(0xCBF43926u, StunWire.Crc32("123456789"u8));

    // ---------------------------------------------------------------- codes and lists

    /// <summary>Checklist 17, RFC 8489 §14.8: ERROR-CODE class (3-6) and number (0-99) and a reason phrase of fewer than 128 characters.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_8_ERROR_CODE_round_trips() =>
        Prop.ForAll(Gens.Of(Gen.Choose(300, 699), Gens.Text(StunConstants.MaxReasonPhraseCharacters).OrNull()).ToArbitrary(), t =>
        {
            (int code, string? reason) = t;
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddErrorCode(code, reason)));
            byte[] value = StunWire.ReadSingle(message, StunAttributeType.ErrorCode);
            Assert.Equal(new byte[] { 0, 0, (byte)(code / 100), (byte)(code % 100) }, value[..4]);
            Assert.True(ErrorCodeValue.TryRead(value, out int readCode, out ReadOnlySpan<byte> readReason));
            Assert.Equal(code, readCode);
            Assert.Equal(reason ?? StunErrorCode.DefaultReason(code), Encoding.UTF8.GetString(readReason));
        });

    /// <summary>RFC 8656 §18.12: ADDRESS-ERROR-CODE carries the family, then class/number and reason as ERROR-CODE.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8656_S18_12_ADDRESS_ERROR_CODE_round_trips() =>
        Prop.ForAll(
            Gens.Of(Gen.Elements(StunAddressFamily.IPv4, StunAddressFamily.IPv6), Gen.Choose(300, 699),
                Gens.Text(StunConstants.MaxReasonPhraseCharacters).OrNull()).ToArbitrary(),
            t =>
            {
                (StunAddressFamily family, int code, string? reason) = t;
                byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddAddressErrorCode(family, code, reason)));
                byte[] value = StunWire.ReadSingle(message, StunAttributeType.AddressErrorCode);
                Assert.Equal(new byte[] { (byte)family, 0, (byte)(code / 100), (byte)(code % 100) }, value[..4]);
                Assert.True(AddressErrorCodeValue.TryRead(value, out StunAddressFamily readFamily, out int readCode, out ReadOnlySpan<byte> readReason));
                Assert.Equal(family, readFamily);
                Assert.Equal(code, readCode);
                Assert.Equal(reason ?? StunErrorCode.DefaultReason(code), Encoding.UTF8.GetString(readReason));
            });

    /// <summary>Checklist 130, RFC 8489 §14.11: PASSWORD-ALGORITHMS is a list of (algorithm, parameter length 0) entries, order kept.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_11_PASSWORD_ALGORITHMS_round_trips() =>
        Prop.ForAll(Gens.UInt16.Select(v => (PasswordAlgorithm)v).ArrayOf().Where(a => a.Length is > 0 and <= 40).ToArbitrary(), algorithms =>
        {
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddPasswordAlgorithms(algorithms)));
            byte[] value = StunWire.ReadSingle(message, StunAttributeType.PasswordAlgorithms);
            Assert.Equal(4 * algorithms.Length, value.Length);
            Assert.True(PasswordAlgorithmsValue.IsValid(value));
            Assert.True(PasswordAlgorithmsValue.SequenceEqual(value, algorithms));
            Assert.False(PasswordAlgorithmsValue.SequenceEqual(value, algorithms.AsSpan(0, algorithms.Length - 1)));
            var entries = new PasswordAlgorithmsValue.Enumerator(value);
            var read = new List<PasswordAlgorithm>();
            while (entries.MoveNext())
            {
                Assert.True(entries.CurrentParameters.IsEmpty);
                read.Add(entries.Current);
            }

            Assert.True(entries.IsWellFormed);
            Assert.Equal(algorithms, read);
            Assert.All(algorithms, a => Assert.True(PasswordAlgorithmsValue.Contains(value, a)));
        });

    /// <summary>Checklist 130, RFC 8489 §14.12: PASSWORD-ALGORITHM is one entry: algorithm and an empty parameter list for MD5/SHA-256.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_12_PASSWORD_ALGORITHM_round_trips() =>
        Prop.ForAll(Gen.OneOf(Gen.Elements(PasswordAlgorithm.Md5, PasswordAlgorithm.Sha256), Gens.UInt16.Select(v => (PasswordAlgorithm)v)).ToArbitrary(), algorithm =>
        {
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddPasswordAlgorithm(algorithm)));
            byte[] value = StunWire.ReadSingle(message, StunAttributeType.PasswordAlgorithm);
            Assert.Equal(4, value.Length);
            Assert.True(PasswordAlgorithmsValue.TryReadSingle(value, out PasswordAlgorithm read, out ReadOnlySpan<byte> parameters));
            Assert.Equal(algorithm, read);
            Assert.True(parameters.IsEmpty);
        });

    /// <summary>RFC 8489 §14.13: UNKNOWN-ATTRIBUTES is a list of 16-bit types (an odd count leaves 2 padding bytes).</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_13_UNKNOWN_ATTRIBUTES_round_trips() =>
        Prop.ForAll(Gens.UInt16.ArrayOf().Where(a => a.Length <= 60).ToArbitrary(), types =>
        {
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddUnknownAttributes(types)));
            byte[] value = StunWire.ReadSingle(message, StunAttributeType.UnknownAttributes);
            Assert.True(UnknownAttributesValue.IsValid(value));
            Assert.Equal(types.Length, UnknownAttributesValue.Count(value));
            for (int i = 0; i < types.Length; i++)
            {
                Assert.Equal(types[i], UnknownAttributesValue.Get(value, i));
                Assert.True(UnknownAttributesValue.Contains(value, types[i]));
            }
        });

    // ---------------------------------------------------------------- fixed-size TURN values

    /// <summary>RFC 8656 §18.1: CHANNEL-NUMBER is the number and 16 RFFU bits sent as zero.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8656_S18_1_CHANNEL_NUMBER_round_trips() =>
        Prop.ForAll(Gens.UInt16.ToArbitrary(), channel =>
        {
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddChannelNumber(channel)));
            byte[] value = StunWire.ReadSingle(message, StunAttributeType.ChannelNumber);
            Assert.Equal(new byte[] { (byte)(channel >> 8), (byte)channel, 0, 0 }, value);
            Assert.True(ChannelNumberValue.TryRead(value, out ushort read));
            Assert.Equal(channel, read);
        });

    /// <summary>
    /// RFC 8656 §18.2 LIFETIME (seconds), RFC 6062 §6.2.1 CONNECTION-ID and the RFC 5780 §7.2 CHANGE-REQUEST flags:
    /// one 32-bit number.
    /// </summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8656_S18_2_Rfc6062_S6_2_LIFETIME_and_CONNECTION_ID_round_trip() =>
        Prop.ForAll(
            Gens.Of(Gens.UInt32, Gen.Elements(StunAttributeType.Lifetime, StunAttributeType.ConnectionId, StunAttributeType.ChangeRequest)).ToArbitrary(),
            t =>
            {
                (uint number, StunAttributeType type) = t;
                byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(type switch
                {
                    StunAttributeType.Lifetime => w.AddLifetime(number),
                    StunAttributeType.ConnectionId => w.AddConnectionId(number),
                    _ => w.AddUInt32(type, number),
                }));
                byte[] value = StunWire.ReadSingle(message, type);
                Assert.Equal(number, BinaryPrimitives.ReadUInt32BigEndian(value));
                Assert.True(UInt32Value.TryRead(value, out uint read));
                Assert.Equal(number, read);
            });

    /// <summary>
    /// Checklist 128, RFC 8656 §18.6 REQUESTED-ADDRESS-FAMILY and §18.11 ADDITIONAL-ADDRESS-FAMILY: a family byte and 24 RFFU bits
    /// sent as zero; any family byte comes back (whether it is supported is policy).
    /// </summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8656_S18_6_S18_11_address_family_attributes_round_trip() =>
        Prop.ForAll(
            Gens.Of(Gen.OneOf(Gen.Elements(StunAddressFamily.IPv4, StunAddressFamily.IPv6), Gens.Byte.Select(b => (StunAddressFamily)b)),
                Gen.Elements(StunAttributeType.RequestedAddressFamily, StunAttributeType.AdditionalAddressFamily)).ToArbitrary(),
            t =>
            {
                (StunAddressFamily family, StunAttributeType type) = t;
                byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddAddressFamily(type, family)));
                byte[] value = StunWire.ReadSingle(message, type);
                Assert.Equal(new byte[] { (byte)family, 0, 0, 0 }, value);
                Assert.True(AddressFamilyValue.TryRead(value, out StunAddressFamily read));
                Assert.Equal(family, read);
            });

    /// <summary>Checklist 128, RFC 8656 §18.7: EVEN-PORT is one byte, R in the top bit and RFFU bits zero, then 3 padding bytes.</summary>
    [Theory]
    [InlineData(true, 0x80)]
    [InlineData(false, 0x00)]
    public void Rfc8656_S18_7_EVEN_PORT_round_trips(bool reserve, byte wire)
    {
        byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddEvenPort(reserve)));
        Assert.Equal(28, message.Length);
        byte[] value = StunWire.ReadSingle(message, StunAttributeType.EvenPort);
        Assert.Equal(new[] { wire }, value);
        Assert.True(EvenPortValue.TryRead(value, out bool read));
        Assert.Equal(reserve, read);
        Assert.True(EvenPortValue.TryRead([(byte)(wire | 0x7F)], out bool withRffu));
        Assert.Equal(reserve, withRffu); // RFFU bits are ignored on receipt
    }

    /// <summary>Checklist 128, RFC 8656 §18.8: REQUESTED-TRANSPORT is an IANA protocol number and 24 RFFU bits sent as zero.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8656_S18_8_REQUESTED_TRANSPORT_round_trips() =>
        Prop.ForAll(Gen.OneOf(Gen.Elements(RequestedTransportValue.Udp, RequestedTransportValue.Tcp), Gens.Byte).ToArbitrary(), protocol =>
        {
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddRequestedTransport(protocol)));
            byte[] value = StunWire.ReadSingle(message, StunAttributeType.RequestedTransport);
            Assert.Equal(new byte[] { protocol, 0, 0, 0 }, value);
            Assert.True(RequestedTransportValue.TryRead(value, out byte read));
            Assert.Equal(protocol, read);
        });

    /// <summary>RFC 8656 §18.10: RESERVATION-TOKEN is 8 opaque bytes.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8656_S18_10_RESERVATION_TOKEN_round_trips() =>
        Prop.ForAll(Gens.UInt64.ToArbitrary(), token =>
        {
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddReservationToken(token)));
            byte[] value = StunWire.ReadSingle(message, StunAttributeType.ReservationToken);
            Assert.Equal(token, BinaryPrimitives.ReadUInt64BigEndian(value));
            Assert.True(ReservationTokenValue.TryRead(value, out ulong read));
            Assert.Equal(token, read);
        });

    /// <summary>Checklist 128, RFC 8656 §18.13: ICMP is 16 reserved bits (zero), the ICMP type and code, and 32 bits of error data.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8656_S18_13_ICMP_round_trips() =>
        Prop.ForAll(Gens.Of(Gens.Byte, Gens.Byte, Gens.UInt32).ToArbitrary(), t =>
        {
            (byte icmpType, byte icmpCode, uint errorData) = t;
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddIcmp(icmpType, icmpCode, errorData)));
            byte[] value = StunWire.ReadSingle(message, StunAttributeType.Icmp);
            Assert.Equal(new byte[] { 0, 0 }, value[..2]);
            Assert.True(IcmpValue.TryRead(value, out byte readType, out byte readCode, out uint readData));
            Assert.Equal(icmpType, readType);
            Assert.Equal(icmpCode, readCode);
            Assert.Equal(errorData, readData);
        });

    // ---------------------------------------------------------------- unknown types

    /// <summary>
    /// RFC 8489 §14, §6.3.1: a type the codec does not know is kept raw (type and value), and it is
    /// comprehension-required exactly when it is below 0x8000.
    /// </summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_unknown_attribute_types_are_kept_raw() =>
        Prop.ForAll(Gens.Of(Gens.UInt16.Where(t => !StunAttributeTypes.IsKnown(t)), Gens.VariableBytes(64)).ToArbitrary(), t =>
        {
            (ushort type, byte[] value) = t;
            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddAttribute(type, value)));
            Assert.Equal(value, StunWire.ReadSingle(message, type));
            Assert.Equal(type < 0x8000, StunAttributeTypes.IsComprehensionRequired(type));
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
            Assert.True(reader.TryGetAttribute(type, out StunAttribute attribute));
            Assert.Equal(type < 0x8000, attribute.IsComprehensionRequired);
            Assert.Equal(type, (ushort)attribute.KnownType);
        });

    /// <summary>RFC 8489 §14 and §18.3: examples of unknown types on both sides of 0x8000 (0x0010, 0x0021 are reserved by RFC 8656 §18).</summary>
    [Theory]
    [InlineData(0x0000, true)]
    [InlineData(0x0010, true)]
    [InlineData(0x0021, true)]
    [InlineData(0x7FFF, true)]
    [InlineData(0x8005, false)]
    [InlineData(0xC001, false)]
    [InlineData(0xFFFF, false)]
    public void Rfc8489_S14_unknown_type_examples(int type, bool comprehensionRequired)
    {
        Assert.False(StunAttributeTypes.IsKnown((ushort)type));
        byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddAttribute((ushort)type, [1, 2, 3])));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute((ushort)type, out StunAttribute attribute));
        Assert.Equal(comprehensionRequired, attribute.IsComprehensionRequired);
        Assert.Equal(new byte[] { 1, 2, 3 }, attribute.Value.ToArray());
    }

    // ---------------------------------------------------------------- whole messages

    /// <summary>
    /// Checklist 8, RFC 8489 §14: several attributes in one message come back in the order written, each with the value it had
    /// when written alone, each well formed (StunAttributeValidator), with Length the sum of the padded TLVs.
    /// </summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S14_several_attributes_read_back_in_order() =>
        Prop.ForAll(Gens.Of(Gens.AttributeOp.ArrayOf().Where(a => a.Length <= 25), Gens.TransactionId).ToArbitrary(), t =>
        {
            (AttributeOp[] ops, TransactionId id) = t;
            byte[] message = StunWire.Write((ref StunMessageWriter w) =>
            {
                foreach (AttributeOp op in ops)
                {
                    op.Write(ref w);
                }
            }, id, capacity: 32 * 1024);

            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
            Assert.Equal(message.Length - StunConstants.HeaderLength, reader.Header.Length);
            Assert.Equal(id, reader.Header.TransactionId);
            int index = 0;
            int expectedOffset = StunConstants.HeaderLength;
            foreach (StunAttribute attribute in reader.Attributes)
            {
                AttributeOp op = ops[index++];
                byte[] alone = StunWire.ReadSingle(StunWire.Write((ref StunMessageWriter w) => op.Write(ref w), id), op.Type);
                Assert.Equal(op.Type, attribute.Type);
                Assert.Equal(expectedOffset, attribute.Offset);
                Assert.Equal(alone, attribute.Value.ToArray());
                Assert.True(StunAttributeValidator.IsWellFormed(attribute.Type, attribute.Value), op.Name);
                expectedOffset += 4 + ((attribute.Value.Length + 3) & ~3);
            }

            Assert.Equal(ops.Length, index);
            Assert.Equal(message.Length, expectedOffset);
            if (ops.Length > 0)
            {
                Assert.True(reader.TryGetAttribute(ops[0].Type, out StunAttribute first));
                Assert.Equal(StunConstants.HeaderLength, first.Offset);
            }
        });

    /// <summary>
    /// RFC 8489 §14, RFC 8656 §18, RFC 6062 §6.2, RFC 5780 §7: one message holding every attribute type the codec writes, ending
    /// with MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT; all counted, well formed and verified.
    /// </summary>
    [Fact]
    public void Rfc8489_S14_every_attribute_type_in_one_message()
    {
        var id = TransactionId.Read(Enumerable.Range(1, 12).Select(i => (byte)i).ToArray());
        var v4 = TransportAddress.FromIPv4([192, 0, 2, 1], 32853);
        var v6 = TransportAddress.FromIPv6(Enumerable.Range(0x20, 16).Select(i => (byte)i).ToArray(), 3478);
        byte[] key = [9, 8, 7, 6, 5];
        byte[] message = StunWire.Write((ref StunMessageWriter w) =>
        {
            Assert.True(w.AddAddress(StunAttributeType.MappedAddress, v4));
            Assert.True(w.AddAddress(StunAttributeType.AlternateServer, v6));
            Assert.True(w.AddAddress(StunAttributeType.SourceAddress, v4));
            Assert.True(w.AddAddress(StunAttributeType.ChangedAddress, v6));
            Assert.True(w.AddAddress(StunAttributeType.ResponseOrigin, v4));
            Assert.True(w.AddAddress(StunAttributeType.OtherAddress, v6));
            Assert.True(w.AddUInt32(StunAttributeType.ChangeRequest, 0x6));
            Assert.True(w.AddAttribute(StunAttributeType.ResponsePort, [0xC3, 0x50, 0, 0]));
            Assert.True(w.AddAttribute(StunAttributeType.Padding, new byte[7]));
            Assert.True(w.AddXorAddress(StunAttributeType.XorMappedAddress, v6));
            Assert.True(w.AddXorAddress(StunAttributeType.XorPeerAddress, v4));
            Assert.True(w.AddXorAddress(StunAttributeType.XorRelayedAddress, v6));
            Assert.True(w.AddText(StunAttributeType.Username, "user"));
            Assert.True(w.AddText(StunAttributeType.Realm, "example.org"));
            Assert.True(w.AddText(StunAttributeType.Nonce, NonceCookie.Create(SecurityFeatures.PasswordAlgorithms) + "xyz"));
            Assert.True(w.AddText(StunAttributeType.Software, "test"));
            Assert.True(w.AddText(StunAttributeType.AlternateDomain, "turn.example.org"));
            Assert.True(w.AddAttribute(StunAttributeType.UserHash, new byte[32]));
            Assert.True(w.AddErrorCode(StunErrorCode.AllocationQuotaReached));
            Assert.True(w.AddAddressErrorCode(StunAddressFamily.IPv6, StunErrorCode.AddressFamilyNotSupported));
            Assert.True(w.AddPasswordAlgorithms([PasswordAlgorithm.Md5, PasswordAlgorithm.Sha256]));
            Assert.True(w.AddPasswordAlgorithm(PasswordAlgorithm.Sha256));
            Assert.True(w.AddUnknownAttributes([0x7F00, 0x0003, 0x1234]));
            Assert.True(w.AddChannelNumber(0x4001));
            Assert.True(w.AddLifetime(600));
            Assert.True(w.AddAttribute(StunAttributeType.Data, [1, 2, 3, 4, 5]));
            Assert.True(w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, StunAddressFamily.IPv4));
            Assert.True(w.AddAddressFamily(StunAttributeType.AdditionalAddressFamily, StunAddressFamily.IPv6));
            Assert.True(w.AddEvenPort(true));
            Assert.True(w.AddRequestedTransport(RequestedTransportValue.Udp));
            Assert.True(w.AddAttribute(StunAttributeType.DontFragment, []));
            Assert.True(w.AddReservationToken(0x0102030405060708));
            Assert.True(w.AddIcmp(3, 4, 1400));
            Assert.True(w.AddConnectionId(0xDEADBEEF));
            Assert.True(w.AddMessageIntegrity(key));
            Assert.True(w.AddMessageIntegritySha256(key));
            Assert.True(w.AddFingerprint());
        }, id);

        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        var types = new List<StunAttributeType>();
        foreach (StunAttribute attribute in reader.Attributes)
        {
            Assert.True(StunAttributeTypes.IsKnown(attribute.Type));
            Assert.True(StunAttributeValidator.IsWellFormed(attribute.Type, attribute.Value), attribute.KnownType.ToString());
            types.Add(attribute.KnownType);
        }

        // Every known type, the RFC 5780 and RFC 3489 ones included.
        Assert.Equal(Enum.GetValues<StunAttributeType>().Order(), types.Order());
        Assert.Equal(37, types.Count);
        Assert.True(reader.VerifyMessageIntegrity(key));
        Assert.True(reader.VerifyMessageIntegritySha256(key));
        Assert.True(reader.VerifyFingerprint());
        Assert.True(reader.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute peer));
        Assert.True(XorAddressValue.TryRead(peer.Value, reader.Header.TransactionId, out TransportAddress peerAddress));
        Assert.Equal(v4, peerAddress);
        Assert.True(reader.TryGetAttribute(StunAttributeType.Nonce, out StunAttribute nonce));
        Assert.True(NonceCookie.TryParse(nonce.Value, out SecurityFeatures features));
        Assert.Equal(SecurityFeatures.PasswordAlgorithms, features);
    }

    /// <summary>RFC 8489 §5: the header Length always matches what was appended; a full buffer makes the writer return false, write nothing and report the overflow.</summary>
    [Fact]
    public void Rfc8489_S5_writer_reports_overflow_and_keeps_a_complete_message()
    {
        byte[] buffer = new byte[32];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), default);
        Assert.True(writer.AddLifetime(1));
        Assert.False(writer.AddText(StunAttributeType.Software, "too long to fit"));
        Assert.True(writer.HasOverflowed);
        Assert.Equal(28, writer.Length);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(writer.WrittenSpan, out StunMessageReader reader));
        Assert.Equal(8, reader.Header.Length);
    }

    // ---------------------------------------------------------------- header

    /// <summary>
    /// Checklist 4, RFC 8489 §5, Figure 3: for all 4096 methods and 4 classes the 14-bit type encodes and decodes back, the top two
    /// bits stay zero, no two pairs share a type, and the header written and parsed carries the same method and class.
    /// </summary>
    [Fact]
    public void Rfc8489_S5_message_type_round_trips_for_every_method_and_class()
    {
        var seen = new HashSet<ushort>();
        byte[] buffer = new byte[StunConstants.HeaderLength];
        for (int method = 0; method <= StunMessageType.MaxMethod; method++)
        {
            foreach (StunClass cls in Enum.GetValues<StunClass>())
            {
                ushort value = StunMessageType.Encode((StunMethod)method, cls);
                Assert.True(value < 0x4000, $"0x{value:x4} uses the top two bits");
                Assert.True(seen.Add(value), $"0x{value:x4} encoded twice");
                Assert.Equal(new StunMessageType((StunMethod)method, cls), StunMessageType.Decode(value));
                Assert.Equal(new StunMessageType((StunMethod)method, cls), StunMessageType.Decode((ushort)(value | 0xC000)));

                var writer = new StunMessageWriter(buffer, new StunMessageType((StunMethod)method, cls), default);
                Assert.Equal(StunConstants.HeaderLength, writer.Length);
                Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(buffer, out StunMessageReader reader));
                Assert.Equal(value, reader.Header.RawType);
                Assert.Equal((StunMethod)method, reader.Header.Method);
                Assert.Equal(cls, reader.Header.Class);
            }
        }

        Assert.Equal(16384, seen.Count);
    }

    /// <summary>Checklist 4, RFC 8489 §5 Figure 3 and the checklist examples (RFC 8656 §17 methods).</summary>
    [Theory]
    [InlineData(StunMethod.Binding, StunClass.Request, 0x0001)]
    [InlineData(StunMethod.Binding, StunClass.SuccessResponse, 0x0101)]
    [InlineData(StunMethod.Binding, StunClass.ErrorResponse, 0x0111)]
    [InlineData(StunMethod.Allocate, StunClass.Request, 0x0003)]
    [InlineData(StunMethod.Allocate, StunClass.SuccessResponse, 0x0103)]
    [InlineData(StunMethod.Allocate, StunClass.ErrorResponse, 0x0113)]
    [InlineData(StunMethod.Refresh, StunClass.Request, 0x0004)]
    [InlineData(StunMethod.Send, StunClass.Indication, 0x0016)]
    [InlineData(StunMethod.Data, StunClass.Indication, 0x0017)]
    [InlineData(StunMethod.CreatePermission, StunClass.Request, 0x0008)]
    [InlineData(StunMethod.ChannelBind, StunClass.Request, 0x0009)]
    [InlineData(StunMethod.ConnectionAttempt, StunClass.Indication, 0x001C)]
    [InlineData((StunMethod)0x0FFF, StunClass.Request, 0x3EEF)]
    [InlineData((StunMethod)0x0FFF, StunClass.Indication, 0x3EFF)]
    [InlineData((StunMethod)0x0FFF, StunClass.SuccessResponse, 0x3FEF)]
    [InlineData((StunMethod)0x0FFF, StunClass.ErrorResponse, 0x3FFF)]
    public void Rfc8489_S5_message_type_examples(StunMethod method, StunClass cls, int wire)
    {
        Assert.Equal(wire, StunMessageType.Encode(method, cls));
        Assert.Equal(wire, new StunMessageType(method, cls).Value);
        Assert.Equal(new StunMessageType(method, cls), StunMessageType.Decode((ushort)wire));
    }

    /// <summary>RFC 8489 §5: the 96-bit transaction id is written and read back unchanged and compares by value.</summary>
    [Property(MaxTest = Runs)]
    public Property Rfc8489_S5_transaction_id_round_trips_and_compares_by_value() =>
        Prop.ForAll(Gens.Of(Gens.Bytes(12), Gen.Choose(0, 95)).ToArbitrary(), t =>
        {
            (byte[] bytes, int bit) = t;
            var id = TransactionId.Read(bytes);
            byte[] written = new byte[12];
            id.WriteTo(written);
            Assert.Equal(bytes, written);
            Assert.Equal(Convert.ToHexStringLower(bytes), id.ToString());

            var same = TransactionId.Read((byte[])bytes.Clone());
            Assert.True(id == same);
            Assert.False(id != same);
            Assert.True(id.Equals((object)same));
            Assert.Equal(id.GetHashCode(), same.GetHashCode());

            byte[] flipped = (byte[])bytes.Clone();
            flipped[bit / 8] ^= (byte)(1 << (bit % 8));
            var other = TransactionId.Read(flipped);
            Assert.True(id != other);
            Assert.False(id.Equals(other));
            Assert.False(id.Equals((object)bytes));

            byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddLifetime(1)), id);
            Assert.Equal(bytes, message[8..20]);
            Assert.Equal(id, ReadTransactionId(message));
        });

    /// <summary>RFC 8489 §6: fresh transaction ids are random; 1000 of them do not repeat.</summary>
    [Fact]
    public void Rfc8489_S6_new_transaction_ids_do_not_repeat()
    {
        var ids = new HashSet<TransactionId>();
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(ids.Add(TransactionId.NewRandom()));
        }
    }

    private static TransactionId ReadTransactionId(byte[] message)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        return reader.Header.TransactionId;
    }

    /// <summary>A key that differs from <paramref name="key"/> for HMAC (appending zero bytes would not, so flip a bit).</summary>
    private static byte[] OtherKey(byte[] key)
    {
        if (key.Length == 0)
        {
            return [1];
        }

        byte[] other = (byte[])key.Clone();
        other[^1] ^= 0x01;
        return other;
    }
}

/// <summary>Writes the attributes of a test message.</summary>
internal delegate void WriteAttributes(ref StunMessageWriter writer);

/// <summary>One attribute append, for messages built from a random list.</summary>
internal sealed record AttributeOp(string Name, ushort Type, WriteAttributes Write)
{
    public override string ToString() => Name;
}

/// <summary>Helpers shared by the STUN codec tests.</summary>
internal static class StunWire
{
    /// <summary>Writes a message into a buffer dirtied with 0xFF (so unwritten padding or RFFU bits would show).</summary>
    public static byte[] Write(WriteAttributes write, TransactionId transactionId = default, StunMessageType? type = null, int capacity = 2048)
    {
        byte[] buffer = new byte[capacity];
        buffer.AsSpan().Fill(0xFF);
        var writer = new StunMessageWriter(buffer, type ?? new StunMessageType(StunMethod.Binding, StunClass.Request), transactionId);
        write(ref writer);
        Assert.False(writer.HasOverflowed);
        return writer.WrittenSpan.ToArray();
    }

    public static byte[] ReadSingle(byte[] message, StunAttributeType type) => ReadSingle(message, (ushort)type);

    /// <summary>
    /// Parses a message that must hold exactly one attribute of <paramref name="type"/> and checks the framing of
    /// RFC 8489 §14 on the way: Length, zero padding, the validator, the comprehension bit; returns the value.
    /// </summary>
    public static byte[] ReadSingle(byte[] message, ushort type)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(message.Length - StunConstants.HeaderLength, reader.Header.Length);
        Assert.Equal(0, reader.Header.Length % 4);
        Assert.True(reader.Header.HasMagicCookie);

        byte[]? value = null;
        int count = 0;
        foreach (StunAttribute attribute in reader.AllAttributes)
        {
            count++;
            Assert.Equal(type, attribute.Type);
            Assert.Equal(StunConstants.HeaderLength, attribute.Offset);
            value = attribute.Value.ToArray();
        }

        Assert.Equal(1, count);
        Assert.NotNull(value);
        Assert.Equal(value.Length, BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(22)));
        Assert.Equal(StunConstants.HeaderLength + 4 + ((value.Length + 3) & ~3), message.Length);
        Assert.All(message[(24 + value.Length)..], b => Assert.Equal(0, b));
        Assert.True(StunAttributeValidator.IsWellFormed(type, value));
        Assert.True(reader.TryGetAttribute(type, out StunAttribute found));
        Assert.Equal(value, found.Value.ToArray());
        Assert.Equal(type < 0x8000, found.IsComprehensionRequired);
        return value;
    }

    /// <summary>Bitwise CRC-32 (reflected polynomial 0xEDB88320), independent of the codec's table-driven one.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }

        return ~crc;
    }
}

/// <summary>FsCheck generators for STUN values.</summary>
internal static class Gens
{
    public static readonly Gen<byte> Byte = Gen.Choose(0, 255).Select(i => (byte)i);

    public static readonly Gen<bool> Bool = Gen.Elements(true, false);

    public static readonly Gen<ushort> UInt16 = Gen.Frequency(
        (1, Gen.Elements<ushort>(0, 1, 0x7FFF, 0x8000, 0xFFFF)),
        (5, Gen.Choose(0, 0xFFFF).Select(i => (ushort)i)));

    public static readonly Gen<uint> UInt32 = Gen.Frequency(
        (1, Gen.Elements(0u, 1u, 0x7FFFFFFFu, 0x80000000u, uint.MaxValue)),
        (5, Bytes(4).Select(b => BinaryPrimitives.ReadUInt32BigEndian(b))));

    public static readonly Gen<ulong> UInt64 = Gen.Frequency(
        (1, Gen.Elements(0ul, 1ul, ulong.MaxValue)),
        (5, Bytes(8).Select(b => BinaryPrimitives.ReadUInt64BigEndian(b))));

    public static readonly Gen<TransactionId> TransactionId = Bytes(12).Select(b => Turn.Stun.TransactionId.Read(b));

    public static readonly Gen<TransportAddress> IPv4Address =
        from address in Bytes(4)
        from port in UInt16
        select Turn.Stun.TransportAddress.FromIPv4(address, port);

    public static readonly Gen<TransportAddress> IPv6Address =
        from address in Bytes(16)
        from port in UInt16
        select Turn.Stun.TransportAddress.FromIPv6(address, port);

    public static readonly Gen<TransportAddress> TransportAddress = Gen.OneOf(IPv4Address, IPv6Address);

    /// <summary>Unicode scalar values of every UTF-8 length (1-4 bytes), controls included, surrogates excluded.</summary>
    public static readonly Gen<int> ScalarValue = Gen.Frequency(
        (5, Gen.Choose(0x20, 0x7E)),
        (1, Gen.Choose(0x00, 0x1F)),
        (2, Gen.Choose(0x80, 0x7FF)),
        (2, Gen.Choose(0x800, 0xD7FF)),
        (1, Gen.Choose(0xE000, 0xFFFF)),
        (2, Gen.Choose(0x10000, 0x10FFFF)));

    /// <summary>Any attribute append the writer offers, with random contents (no integrity attributes).</summary>
    public static readonly Gen<AttributeOp> AttributeOp = Gen.OneOf(
        from a in TransportAddress
        from t in Gen.Elements(StunAttributeType.MappedAddress, StunAttributeType.AlternateServer)
        select Op(t, (ref StunMessageWriter w) => Assert.True(w.AddAddress(t, a)), a),
        from a in TransportAddress
        from t in Gen.Elements(StunAttributeType.XorMappedAddress, StunAttributeType.XorPeerAddress, StunAttributeType.XorRelayedAddress)
        select Op(t, (ref StunMessageWriter w) => Assert.True(w.AddXorAddress(t, a)), a),
        from s in Text(StunConstants.MaxTextCharacters)
        from t in Gen.Elements(StunAttributeType.Username, StunAttributeType.Realm, StunAttributeType.Nonce,
            StunAttributeType.Software, StunAttributeType.AlternateDomain)
        select Op(t, (ref StunMessageWriter w) => Assert.True(w.AddText(t, s)), s),
        from b in Bytes(32)
        select Op(StunAttributeType.UserHash, (ref StunMessageWriter w) => Assert.True(w.AddAttribute(StunAttributeType.UserHash, b)), Convert.ToHexString(b)),
        from b in VariableBytes(100)
        select Op(StunAttributeType.Data, (ref StunMessageWriter w) => Assert.True(w.AddAttribute(StunAttributeType.Data, b)), b.Length),
        from c in Gen.Choose(300, 699)
        select Op(StunAttributeType.ErrorCode, (ref StunMessageWriter w) => Assert.True(w.AddErrorCode(c)), c),
        from c in Gen.Choose(300, 699)
        from f in Gen.Elements(StunAddressFamily.IPv4, StunAddressFamily.IPv6)
        select Op(StunAttributeType.AddressErrorCode, (ref StunMessageWriter w) => Assert.True(w.AddAddressErrorCode(f, c)), c),
        from a in Gen.Elements(PasswordAlgorithm.Md5, PasswordAlgorithm.Sha256).NonEmptyListOf()
        select Op(StunAttributeType.PasswordAlgorithms, (ref StunMessageWriter w) => Assert.True(w.AddPasswordAlgorithms(a.ToArray())), a.Count),
        from a in Gen.Elements(PasswordAlgorithm.Md5, PasswordAlgorithm.Sha256)
        select Op(StunAttributeType.PasswordAlgorithm, (ref StunMessageWriter w) => Assert.True(w.AddPasswordAlgorithm(a)), a),
        from u in UInt16.ArrayOf().Where(x => x.Length < 20)
        select Op(StunAttributeType.UnknownAttributes, (ref StunMessageWriter w) => Assert.True(w.AddUnknownAttributes(u)), u.Length),
        from c in UInt16
        select Op(StunAttributeType.ChannelNumber, (ref StunMessageWriter w) => Assert.True(w.AddChannelNumber(c)), c),
        from n in UInt32
        select Op(StunAttributeType.Lifetime, (ref StunMessageWriter w) => Assert.True(w.AddLifetime(n)), n),
        from n in UInt32
        select Op(StunAttributeType.ConnectionId, (ref StunMessageWriter w) => Assert.True(w.AddConnectionId(n)), n),
        from f in Gen.Elements(StunAddressFamily.IPv4, StunAddressFamily.IPv6)
        from t in Gen.Elements(StunAttributeType.RequestedAddressFamily, StunAttributeType.AdditionalAddressFamily)
        select Op(t, (ref StunMessageWriter w) => Assert.True(w.AddAddressFamily(t, f)), f),
        from r in Bool
        select Op(StunAttributeType.EvenPort, (ref StunMessageWriter w) => Assert.True(w.AddEvenPort(r)), r),
        from p in Byte
        select Op(StunAttributeType.RequestedTransport, (ref StunMessageWriter w) => Assert.True(w.AddRequestedTransport(p)), p),
        Gen.Constant(Op(StunAttributeType.DontFragment, (ref StunMessageWriter w) => Assert.True(w.AddAttribute(StunAttributeType.DontFragment, [])), "")),
        from n in UInt64
        select Op(StunAttributeType.ReservationToken, (ref StunMessageWriter w) => Assert.True(w.AddReservationToken(n)), n),
        from t in Byte
        from c in Byte
        from d in UInt32
        select Op(StunAttributeType.Icmp, (ref StunMessageWriter w) => Assert.True(w.AddIcmp(t, c, d)), d),
        from t in UInt16.Where(x => !StunAttributeTypes.IsKnown(x))
        from b in VariableBytes(40)
        select new AttributeOp($"unknown 0x{t:x4} ({b.Length} bytes)", t, (ref StunMessageWriter w) => Assert.True(w.AddAttribute(t, b))));

    public static Gen<byte[]> Bytes(int length) => Byte.ArrayOf(length);

    /// <summary>0 to <paramref name="maxLength"/> random bytes, lengths of every remainder mod 4 included.</summary>
    public static Gen<byte[]> VariableBytes(int maxLength) =>
        from length in Gen.Frequency((1, Gen.Choose(0, 8)), (3, Gen.Choose(0, maxLength)))
        from bytes in Bytes(length)
        select bytes;

    /// <summary>Text of 0 to <paramref name="maxCharacters"/> Unicode scalar values.</summary>
    public static Gen<string> Text(int maxCharacters) =>
        from length in Gen.Frequency((3, Gen.Choose(0, maxCharacters)), (1, Gen.Constant(maxCharacters)))
        from scalars in ScalarValue.ArrayOf(length)
        select string.Concat(scalars.Select(char.ConvertFromUtf32));

    public static Gen<(T1, T2)> Of<T1, T2>(Gen<T1> first, Gen<T2> second) =>
        from a in first
        from b in second
        select (a, b);

    public static Gen<(T1, T2, T3)> Of<T1, T2, T3>(Gen<T1> first, Gen<T2> second, Gen<T3> third) =>
        from a in first
        from b in second
        from c in third
        select (a, b, c);

    private static AttributeOp Op<T>(StunAttributeType type, WriteAttributes write, T shown) =>
        new($"{type} {shown}", (ushort)type, write);
}
