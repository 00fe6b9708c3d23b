using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Turn.Stun;

/// <summary>
/// MESSAGE-INTEGRITY (RFC 8489 §14.5), MESSAGE-INTEGRITY-SHA256 (§14.6) and FINGERPRINT (§14.7), computed over the
/// bytes as received (padding included) with the header Length rewritten to end at the attribute in question.
/// Nothing here allocates per call for messages up to <see cref="StackScratchLength"/> bytes; larger ones borrow
/// from the shared array pool.
/// </summary>
public static class StunIntegrity
{
    private const int StackScratchLength = 1024;

    /// <summary>RFC 8489 §14.5: verifies the MESSAGE-INTEGRITY attribute at <paramref name="attributeOffset"/>.</summary>
    public static bool VerifyMessageIntegrity(ReadOnlySpan<byte> message, int attributeOffset, ReadOnlySpan<byte> key)
    {
        if (!TryGetValue(message, attributeOffset, out ReadOnlySpan<byte> value)
            || value.Length != StunConstants.MessageIntegrityLength)
        {
            return false;
        }

        Span<byte> mac = stackalloc byte[HMACSHA1.HashSizeInBytes];
        ComputeOverReceived(message, attributeOffset, value.Length, key, sha256: false, mac);
        return CryptographicOperations.FixedTimeEquals(mac, value);
    }

    /// <summary>
    /// RFC 8489 §14.6: verifies the MESSAGE-INTEGRITY-SHA256 attribute at <paramref name="attributeOffset"/>. The value
    /// may be truncated to 16-32 bytes in steps of 4; <paramref name="minimumLength"/> is what the usage accepts
    /// (32 unless the usage allows truncation, which TURN does not).
    /// </summary>
    public static bool VerifyMessageIntegritySha256(
        ReadOnlySpan<byte> message, int attributeOffset, ReadOnlySpan<byte> key,
        int minimumLength = StunConstants.MessageIntegritySha256Length)
    {
        if (!TryGetValue(message, attributeOffset, out ReadOnlySpan<byte> value)
            || !IsValidSha256Length(value.Length) || value.Length < minimumLength)
        {
            return false;
        }

        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        ComputeOverReceived(message, attributeOffset, value.Length, key, sha256: true, mac);
        return CryptographicOperations.FixedTimeEquals(mac[..value.Length], value);
    }

    /// <summary>
    /// RFC 8489 §14.7: verifies the FINGERPRINT attribute at <paramref name="attributeOffset"/>, which must be the
    /// last attribute of the message.
    /// </summary>
    public static bool VerifyFingerprint(ReadOnlySpan<byte> message, int attributeOffset)
    {
        if (!TryGetValue(message, attributeOffset, out ReadOnlySpan<byte> value)
            || value.Length != StunConstants.FingerprintLength
            || attributeOffset + StunConstants.AttributeHeaderLength + StunConstants.FingerprintLength != message.Length)
        {
            return false;
        }

        uint expected = ComputeFingerprint(message[..attributeOffset], message.Length - StunConstants.HeaderLength);
        return BinaryPrimitives.ReadUInt32BigEndian(value) == expected;
    }

    /// <summary>
    /// CRC-32 of <paramref name="prefix"/> (header and attributes before FINGERPRINT) with its Length field replaced
    /// by <paramref name="lengthField"/>, XOR 0x5354554E (RFC 8489 §14.7).
    /// </summary>
    public static uint ComputeFingerprint(ReadOnlySpan<byte> prefix, int lengthField)
    {
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)lengthField);
        uint crc = Crc32.Update(Crc32.Initial, prefix[..2]);
        crc = Crc32.Update(crc, length);
        crc = Crc32.Update(crc, prefix[4..]);
        return Crc32.Finish(crc) ^ StunConstants.FingerprintXor;
    }

    /// <summary>RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4.</summary>
    public static bool IsValidSha256Length(int length) =>
        length is >= StunConstants.MessageIntegritySha256MinLength and <= StunConstants.MessageIntegritySha256Length
        && (length & 3) == 0;

    /// <summary>HMAC over a prefix whose Length field is already right (the writer's case: no copy).</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350", Justification = "RFC 8489 §14.5 mandates HMAC-SHA1 for MESSAGE-INTEGRITY.")]
    internal static void ComputeHmac(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key, bool sha256, Span<byte> mac)
    {
        if (sha256)
        {
            HMACSHA256.HashData(key, prefix, mac);
        }
        else
        {
            HMACSHA1.HashData(key, prefix, mac);
        }
    }

    private static void ComputeOverReceived(
        ReadOnlySpan<byte> message, int attributeOffset, int valueLength, ReadOnlySpan<byte> key, bool sha256, Span<byte> mac)
    {
        // RFC 8489 §14.5: Length is adjusted to point to the end of the integrity attribute; the attribute's own
        // value is not hashed. The received bytes are read-only, so the prefix is copied to patch the Length.
        int lengthField = attributeOffset + StunConstants.AttributeHeaderLength + valueLength - StunConstants.HeaderLength;
        byte[]? rented = null;
        Span<byte> scratch = attributeOffset <= StackScratchLength
            ? stackalloc byte[StackScratchLength]
            : (rented = ArrayPool<byte>.Shared.Rent(attributeOffset));
        try
        {
            Span<byte> prefix = scratch[..attributeOffset];
            message[..attributeOffset].CopyTo(prefix);
            BinaryPrimitives.WriteUInt16BigEndian(prefix[2..], (ushort)lengthField);
            ComputeHmac(prefix, key, sha256, mac);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static bool TryGetValue(ReadOnlySpan<byte> message, int attributeOffset, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (attributeOffset < StunConstants.HeaderLength
            || attributeOffset > message.Length - StunConstants.AttributeHeaderLength)
        {
            return false;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(message[(attributeOffset + 2)..]);
        int start = attributeOffset + StunConstants.AttributeHeaderLength;
        if (length > message.Length - start)
        {
            return false;
        }

        value = message.Slice(start, length);
        return true;
    }
}
