using System.Buffers.Binary;

namespace Turn.Transports.Dtls;

/// <summary>
/// A look at the record headers of a datagram (RFC 6347 §4.1) before BouncyCastle sees it. BouncyCastle discards a
/// record that fails to authenticate, but fails the whole association (with a fatal alert) on an encrypted record too
/// short to hold its cipher's nonce and tag; anyone who knows a client's address and port could send one. RFC 6347
/// §4.1.2.7 says such records are to be dropped, so a datagram holding one never reaches BouncyCastle.
/// </summary>
internal static class DtlsRecords
{
    public const int HeaderLength = 13;

    /// <summary>
    /// True when the datagram is a run of whole records, each of a known content type (change_cipher_spec, alert,
    /// handshake, application_data), and each encrypted one (epoch above 0) at least <paramref name="minimumCiphertext"/> long.
    /// </summary>
    public static bool AreWellFormed(ReadOnlySpan<byte> datagram, int minimumCiphertext)
    {
        if (datagram.IsEmpty)
        {
            return false;
        }

        while (!datagram.IsEmpty)
        {
            if (datagram.Length < HeaderLength || datagram[0] is < 20 or > 23)
            {
                return false;
            }

            int epoch = BinaryPrimitives.ReadUInt16BigEndian(datagram[3..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(datagram[11..]);
            if (HeaderLength + length > datagram.Length || (epoch != 0 && length < minimumCiphertext))
            {
                return false;
            }

            datagram = datagram[(HeaderLength + length)..];
        }

        return true;
    }

    /// <summary>Length of the client's random in a ClientHello (RFC 5246 §7.4.1.2).</summary>
    public const int RandomLength = 32;

    /// <summary>
    /// The client random of a datagram that starts with an unencrypted (epoch 0) handshake record holding the first
    /// fragment of a ClientHello (RFC 6347 §4.2.2: handshake type, length, message_seq, fragment_offset, fragment_length;
    /// then client_version and random); empty for anything else.
    /// </summary>
    public static ReadOnlySpan<byte> ClientHelloRandom(ReadOnlySpan<byte> datagram)
    {
        const int HandshakeHeaderLength = 12;
        const int RandomOffset = HeaderLength + HandshakeHeaderLength + 2;
        if (datagram.Length < RandomOffset + RandomLength || datagram[0] != 22 || BinaryPrimitives.ReadUInt16BigEndian(datagram[3..]) != 0
            || datagram[HeaderLength] != 1 || datagram[HeaderLength + 6] != 0 || datagram[HeaderLength + 7] != 0 || datagram[HeaderLength + 8] != 0)
        {
            return [];
        }

        return datagram.Slice(RandomOffset, RandomLength);
    }
}
