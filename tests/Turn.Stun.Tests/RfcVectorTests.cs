using System.Buffers.Binary;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Turn.Stun.Tests;

/// <summary>
/// Every vector of shared/spec/stun-test-vectors.json: RFC 5769 §2.1-§2.4 and RFC 8489 Appendix B.1 (as corrected
/// by Errata 6268, with the printed version as a negative case). The bytes are read from the file at run time.
/// </summary>
public class RfcVectorTests
{
    public static TheoryData<string> AllVectorIds()
    {
        var data = new TheoryData<string>();
        foreach (string id in SpecFiles.VectorIds())
        {
            data.Add(id);
        }

        return data;
    }

    public static TheoryData<string> ValidVectorIds()
    {
        var data = new TheoryData<string>();
        foreach (string id in SpecFiles.VectorIds())
        {
            if (!SpecFiles.Vector(id).GetProperty("expected").TryGetProperty("strict_parse", out _))
            {
                data.Add(id);
            }
        }

        return data;
    }

    [Fact]
    public void The_vector_file_holds_the_six_vectors_this_suite_expects()
    {
        Assert.Equal(
            ["rfc5769-2.1-sample-request", "rfc5769-2.2-ipv4-response", "rfc5769-2.3-ipv6-response",
             "rfc5769-2.4-long-term-request", "rfc8489-B.1-errata-6268-corrected", "rfc8489-B.1-as-printed"],
            SpecFiles.VectorIds().ToArray());
    }

    /// <summary>Checklist 4, 8, 9, 22, RFC 8489 §5 (header, Figure 3 type encoding) and §14 (TLV framing, padding).</summary>
    [Theory]
    [MemberData(nameof(ValidVectorIds))]
    public void Rfc8489_S5_S14_header_and_every_attribute_decode_as_the_vector_says(string id)
    {
        JsonElement vector = SpecFiles.Vector(id);
        JsonElement expected = vector.GetProperty("expected");
        byte[] raw = SpecFiles.Hex(vector, "hex");

        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(raw, out StunMessageReader reader));
        Assert.Equal(Convert.ToUInt16(expected.GetProperty("message_type").GetString(), 16), reader.Header.RawType);
        Assert.Equal(expected.GetProperty("method").GetString(), reader.Header.Method.ToString());
        Assert.Equal(ClassName(reader.Header.Class), expected.GetProperty("class").GetString());
        Assert.Equal(expected.GetProperty("message_length").GetInt32(), reader.Header.Length);
        Assert.Equal(expected.GetProperty("transaction_id").GetString(), reader.Header.TransactionId.ToString());
        Assert.True(reader.Header.HasMagicCookie);

        var expectedAttributes = expected.GetProperty("attributes").EnumerateArray().ToArray();
        int index = 0;
        foreach (StunAttribute attribute in reader.AllAttributes)
        {
            Assert.True(index < expectedAttributes.Length, "more attributes than the vector lists");
            JsonElement e = expectedAttributes[index++];
            string name = e.GetProperty("name").GetString()!;
            Assert.Equal(Convert.ToUInt16(e.GetProperty("type").GetString(), 16), attribute.Type);
            Assert.Equal(e.GetProperty("length").GetInt32(), attribute.Value.Length);
            Assert.Equal(ExpectedValue(e), attribute.Value.ToArray());

            // RFC 8489 §14: padding is whatever the sender put there (RFC 5769 uses 0x20) and is not interpreted.
            int valueEnd = attribute.Offset + 4 + attribute.Value.Length;
            int padding = ((attribute.Value.Length + 3) & ~3) - attribute.Value.Length;
            Assert.Equal(e.GetProperty("padding_hex").GetString(), Convert.ToHexStringLower(raw, valueEnd, padding));

            Assert.True(StunAttributeValidator.IsWellFormed(attribute.Type, attribute.Value) || !StunAttributeTypes.IsKnown(attribute.Type), name);
            CheckTypedValue(e, attribute, reader.Header.TransactionId);
        }

        Assert.Equal(expectedAttributes.Length, index);
    }

    /// <summary>RFC 8489 §9.1.1, §9.2.2, §18.5.1.2 key derivation and §14.4 USERHASH from the vector's credentials.</summary>
    [Theory]
    [MemberData(nameof(ValidVectorIds))]
    public void Rfc8489_S9_key_derivation_matches_the_vector(string id)
    {
        JsonElement credentials = SpecFiles.Vector(id).GetProperty("credentials");
        byte[] key = DeriveKey(credentials);
        if (credentials.TryGetProperty("hmac_key_hex", out JsonElement keyHex))
        {
            Assert.Equal(keyHex.GetString(), Convert.ToHexStringLower(key));
        }
        else
        {
            Assert.Equal(Encoding.UTF8.GetBytes(credentials.GetProperty("password").GetString()!), key);
        }

        if (credentials.TryGetProperty("userhash_hex", out JsonElement userHash))
        {
            Span<byte> hash = stackalloc byte[32];
            StunCredentials.ComputeUserHash(credentials.GetProperty("username").GetString()!, credentials.GetProperty("realm").GetString()!, hash);
            Assert.Equal(userHash.GetString(), Convert.ToHexStringLower(hash));
        }
    }

    /// <summary>
    /// Checklist 28, 30, RFC 8489 §14.5, §14.6, §14.7: MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT verify over the bytes as received,
    /// and any change to the covered bytes makes them fail.
    /// </summary>
    [Theory]
    [MemberData(nameof(ValidVectorIds))]
    public void Rfc8489_S14_5_to_S14_7_integrity_and_fingerprint_verify_as_the_vector_says(string id)
    {
        JsonElement vector = SpecFiles.Vector(id);
        JsonElement expected = vector.GetProperty("expected");
        byte[] raw = SpecFiles.Hex(vector, "hex");
        byte[] key = DeriveKey(vector.GetProperty("credentials"));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(raw, out StunMessageReader reader));

        if (expected.TryGetProperty("message_integrity", out JsonElement mi))
        {
            Assert.Equal("valid", mi.GetString());
            Assert.True(reader.VerifyMessageIntegrity(key));
            byte[] wrongKey = (byte[])key.Clone();
            wrongKey[0] ^= 1;
            Assert.False(reader.VerifyMessageIntegrity(wrongKey));
        }
        else
        {
            Assert.False(reader.HasMessageIntegrity);
        }

        if (expected.TryGetProperty("message_integrity_sha256", out JsonElement mi256))
        {
            Assert.Equal("valid", mi256.GetString());
            Assert.True(reader.VerifyMessageIntegritySha256(key));
        }
        else
        {
            Assert.False(reader.HasMessageIntegritySha256);
        }

        string fingerprint = expected.GetProperty("fingerprint").GetString()!;
        Assert.Equal(fingerprint == "valid", reader.HasFingerprint);
        if (reader.HasFingerprint)
        {
            Assert.True(reader.VerifyFingerprint());
        }

        // Flip one bit of every byte before the integrity attributes in turn: each change must be detected.
        int covered = reader.HasMessageIntegrity ? reader.MessageIntegrityOffset
            : reader.HasMessageIntegritySha256 ? reader.MessageIntegritySha256Offset : reader.FingerprintOffset;
        int parsedTampered = 0;
        for (int i = 0; i < covered; i++)
        {
            byte[] tampered = (byte[])raw.Clone();
            tampered[i] ^= 0x01;
            if (StunMessageReader.TryParse(tampered, out StunMessageReader t) != StunParseStatus.Success)
            {
                continue; // a change to a length field breaks the framing: rejected before any integrity check
            }

            parsedTampered++;
            if (reader.HasMessageIntegrity)
            {
                Assert.False(t.VerifyMessageIntegrity(key), $"MESSAGE-INTEGRITY survived a change at byte {i}");
            }

            if (reader.HasMessageIntegritySha256)
            {
                Assert.False(t.VerifyMessageIntegritySha256(key), $"MESSAGE-INTEGRITY-SHA256 survived a change at byte {i}");
            }

            if (reader.HasFingerprint)
            {
                Assert.False(t.VerifyFingerprint(), $"FINGERPRINT survived a change at byte {i}");
            }
        }

        Assert.True(parsedTampered > covered / 2, "most single-bit changes keep the framing intact and must be caught by integrity");
    }

    /// <summary>
    /// RFC 8489 Appendix B.1 as printed (Errata 6268): the header Length 0x009c does not match the 136 attribute bytes,
    /// so a strict parse fails, and the printed MESSAGE-INTEGRITY-SHA256 does not verify once Length is adjusted to
    /// end at that attribute as §14.6 requires.
    /// </summary>
    [Fact]
    public void Rfc8489_AppendixB1_as_printed_is_rejected()
    {
        JsonElement vector = SpecFiles.Vector("rfc8489-B.1-as-printed");
        JsonElement expected = vector.GetProperty("expected");
        byte[] raw = SpecFiles.Hex(vector, "hex");
        Assert.Equal(expected.GetProperty("actual_attribute_bytes").GetInt32() + 20, raw.Length);
        Assert.Equal(StunParseStatus.LengthMismatch, StunMessageReader.TryParse(raw, out _));

        JsonElement credentials = vector.GetProperty("credentials");
        Span<byte> key = stackalloc byte[32];
        StunCredentials.DeriveLongTermKey(credentials.GetProperty("username").GetString()!, credentials.GetProperty("realm").GetString()!,
            credentials.GetProperty("password").GetString()!, PasswordAlgorithm.Sha256, key);
        int offset = raw.Length - 36;
        Assert.Equal((ushort)StunAttributeType.MessageIntegritySha256, BinaryPrimitives.ReadUInt16BigEndian(raw.AsSpan(offset)));
        Assert.Equal(expected.GetProperty("printed_mi_sha256_hex").GetString(), Convert.ToHexStringLower(raw.AsSpan(offset + 4, 32)));
        Assert.False(StunIntegrity.VerifyMessageIntegritySha256(raw, offset, key));
    }

    /// <summary>RFC 8489 §9.2.2: MD5("user:realm:pass") and the RFC 5769 §2.4 key from the examples list.</summary>
    [Fact]
    public void Rfc8489_S9_2_2_long_term_key_examples()
    {
        int checkedExamples = 0;
        Span<byte> key = stackalloc byte[16];
        foreach (JsonElement example in SpecFiles.Root.GetProperty("long_term_key_examples").EnumerateArray())
        {
            string input = example.TryGetProperty("input", out JsonElement text)
                ? text.GetString()!
                : Encoding.UTF8.GetString(SpecFiles.Hex(example, "input_utf8_hex"));
            string[] parts = input.Split(':');
            Assert.Equal(3, parts.Length);
            Assert.Equal(16, StunCredentials.DeriveLongTermKey(parts[0], parts[1], parts[2], PasswordAlgorithm.Md5, key));
            Assert.Equal(example.GetProperty("key_hex").GetString(), Convert.ToHexStringLower(key));
            checkedExamples++;
        }

        Assert.Equal(2, checkedExamples);
    }

    /// <summary>RFC 8489 §9.2 nonce cookie with the Errata 6290 bit order (bit 0 = least significant).</summary>
    [Fact]
    public void Rfc8489_S9_2_nonce_cookie_encodings_follow_errata_6290()
    {
        JsonElement cookie = SpecFiles.Root.GetProperty("nonce_cookie");
        Assert.Equal(NonceCookie.Prefix, cookie.GetProperty("prefix").GetString());
        foreach (JsonElement encoding in cookie.GetProperty("encodings").EnumerateArray())
        {
            var features = (SecurityFeatures)Convert.ToInt32(encoding.GetProperty("value").GetString(), 16);
            Assert.Equal(encoding.GetProperty("cookie").GetString(), NonceCookie.Create(features));
            Assert.True(NonceCookie.TryParse(Encoding.ASCII.GetBytes(encoding.GetProperty("cookie").GetString() + "rest"), out SecurityFeatures parsed));
            Assert.Equal(features, parsed);
        }

        foreach (JsonElement wrong in cookie.GetProperty("pre_errata_encodings_do_not_use").EnumerateArray())
        {
            Assert.True(NonceCookie.TryParse(Encoding.ASCII.GetBytes(NonceCookie.Prefix + wrong.GetProperty("base64").GetString()), out SecurityFeatures parsed));
            Assert.Equal(Convert.ToInt32(wrong.GetProperty("value").GetString(), 16), (int)parsed);
            Assert.Equal(SecurityFeatures.None, parsed & (SecurityFeatures.PasswordAlgorithms | SecurityFeatures.UsernameAnonymity));
        }

        Assert.False(NonceCookie.TryParse("obMatJos"u8, out _));
        Assert.False(NonceCookie.TryParse("f//499k954d6OL34oL9FSTvy64sA"u8, out _));
    }

    /// <summary>
    /// Checklist 22, 28, RFC 8489 §14.5, §14.7: the writer reproduces RFC 5769 §2.2 and §2.3 byte for byte (after putting the vector's
    /// 0x20 padding after SOFTWARE, since the HMAC covers padding as sent).
    /// </summary>
    [Theory]
    [InlineData("rfc5769-2.2-ipv4-response")]
    [InlineData("rfc5769-2.3-ipv6-response")]
    public void Rfc5769_S2_2_S2_3_writer_reproduces_the_responses(string id)
    {
        JsonElement vector = SpecFiles.Vector(id);
        byte[] raw = SpecFiles.Hex(vector, "hex");
        JsonElement mapped = vector.GetProperty("expected").GetProperty("attributes")[1];
        var address = TransportAddress.FromIPAddress(IPAddress.Parse(mapped.GetProperty("address").GetString()!), mapped.GetProperty("port").GetInt32());
        byte[] key = StunCredentials.DeriveShortTermKey(vector.GetProperty("credentials").GetProperty("password").GetString()!);

        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.SuccessResponse),
            TransactionId.Read(raw.AsSpan(8)));
        Assert.True(writer.AddText(StunAttributeType.Software, "test vector"));
        buffer[writer.Length - 1] = 0x20;
        Assert.True(writer.AddXorAddress(StunAttributeType.XorMappedAddress, address));
        Assert.True(writer.AddMessageIntegrity(key));
        Assert.True(writer.AddFingerprint());
        Assert.False(writer.HasOverflowed);
        Assert.Equal(Convert.ToHexStringLower(raw), Convert.ToHexStringLower(writer.WrittenSpan));
    }

    /// <summary>RFC 8489 Appendix B.1 (Errata 6268): the writer reproduces the corrected SHA-256 request byte for byte.</summary>
    [Fact]
    public void Rfc8489_AppendixB1_writer_reproduces_the_corrected_request()
    {
        JsonElement vector = SpecFiles.Vector("rfc8489-B.1-errata-6268-corrected");
        JsonElement credentials = vector.GetProperty("credentials");
        byte[] raw = SpecFiles.Hex(vector, "hex");
        byte[] key = Convert.FromHexString(credentials.GetProperty("hmac_key_hex").GetString()!);

        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), TransactionId.Read(raw.AsSpan(8)));
        Span<byte> userHash = stackalloc byte[32];
        StunCredentials.ComputeUserHash(credentials.GetProperty("username").GetString()!, "example.org", userHash);
        Assert.True(writer.AddAttribute(StunAttributeType.UserHash, userHash));
        Assert.True(writer.AddText(StunAttributeType.Nonce, credentials.GetProperty("nonce").GetString()!));
        Assert.True(writer.AddText(StunAttributeType.Realm, "example.org"));
        Assert.True(writer.AddPasswordAlgorithm(PasswordAlgorithm.Sha256));
        Assert.True(writer.AddMessageIntegritySha256(key));
        Assert.Equal(Convert.ToHexStringLower(raw), Convert.ToHexStringLower(writer.WrittenSpan));
    }

    private static byte[] DeriveKey(JsonElement credentials)
    {
        string password = credentials.GetProperty("password").GetString()!;
        if (credentials.GetProperty("mechanism").GetString() == "short-term")
        {
            return StunCredentials.DeriveShortTermKey(password);
        }

        PasswordAlgorithm algorithm = credentials.GetProperty("password_algorithm").GetString()!.StartsWith("SHA-256", StringComparison.Ordinal)
            ? PasswordAlgorithm.Sha256 : PasswordAlgorithm.Md5;
        byte[] key = new byte[StunCredentials.GetKeyLength(algorithm)];
        StunCredentials.DeriveLongTermKey(credentials.GetProperty("username").GetString()!, credentials.GetProperty("realm").GetString()!,
            password, algorithm, key);
        return key;
    }

    private static byte[] ExpectedValue(JsonElement e)
    {
        if (e.TryGetProperty("value_hex", out JsonElement hex))
        {
            return Convert.FromHexString(hex.GetString()!);
        }

        if (e.TryGetProperty("value_utf8_hex", out JsonElement utf8))
        {
            return Convert.FromHexString(utf8.GetString()!);
        }

        return Encoding.UTF8.GetBytes(e.GetProperty("value_text").GetString()!);
    }

    private static void CheckTypedValue(JsonElement e, StunAttribute attribute, TransactionId transactionId)
    {
        if (e.TryGetProperty("family", out JsonElement family))
        {
            Assert.True(XorAddressValue.TryRead(attribute.Value, transactionId, out TransportAddress address));
            Assert.Equal(family.GetString() == "IPv4" ? StunAddressFamily.IPv4 : StunAddressFamily.IPv6, address.Family);
            Assert.Equal(IPAddress.Parse(e.GetProperty("address").GetString()!), address.ToIPAddress());
            Assert.Equal(e.GetProperty("port").GetInt32(), address.Port);
        }

        if (e.TryGetProperty("value_uint32", out JsonElement number))
        {
            Assert.True(UInt32Value.TryRead(attribute.Value, out uint value));
            Assert.Equal(number.GetUInt32(), value);
        }

        if (e.TryGetProperty("algorithm", out JsonElement algorithm))
        {
            Assert.True(PasswordAlgorithmsValue.TryReadSingle(attribute.Value, out PasswordAlgorithm parsed, out ReadOnlySpan<byte> parameters));
            Assert.Equal(algorithm.GetString() == "SHA-256" ? PasswordAlgorithm.Sha256 : PasswordAlgorithm.Md5, parsed);
            Assert.Equal(e.GetProperty("parameters_length").GetInt32(), parameters.Length);
        }

        if (e.TryGetProperty("nonce_cookie", out JsonElement cookie))
        {
            Assert.True(NonceCookie.TryParse(attribute.Value, out SecurityFeatures features));
            Assert.Equal(Convert.ToInt32(cookie.GetProperty("features_value").GetString(), 16), (int)features);
        }

        if (e.TryGetProperty("value_text", out JsonElement text) && attribute.KnownType is StunAttributeType.Software
            or StunAttributeType.Username or StunAttributeType.Realm or StunAttributeType.Nonce)
        {
            Assert.True(TextValue.IsValid(attribute.KnownType, attribute.Value));
            Assert.Equal(text.GetString(), Encoding.UTF8.GetString(attribute.Value));
        }
    }

    private static string ClassName(StunClass cls) => cls switch
    {
        StunClass.Request => "request",
        StunClass.Indication => "indication",
        StunClass.SuccessResponse => "success response",
        _ => "error response",
    };
}
