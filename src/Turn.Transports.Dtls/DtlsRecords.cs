using System.Buffers.Binary;

namespace Turn.Transports.Dtls;

/// <summary>
/// A look at the record headers of a datagram (RFC 6347 §4.1) before BouncyCastle sees it. BouncyCastle discards a
/// record that fails to authenticate, but fails the whole association (with a fatal alert) on an encrypted record too
/// short to hold its cipher's nonce and tag, or on handshake bytes that do not parse; anyone who knows a client's
/// address and port could send those. RFC 6347 §4.1.2.7 says such records are to be dropped, so a datagram holding
/// one never reaches BouncyCastle.
/// </summary>
internal static class DtlsRecords
{
    public const int HeaderLength = 13;

    /// <summary>
    /// True when the datagram is a run of whole records, each of a known content type (change_cipher_spec, alert,
    /// handshake, application_data) and of a shape a client can send: an encrypted one (epoch above 0) at least
    /// <paramref name="minimumCiphertext"/> long (0 while no cipher is chosen); an unencrypted one (epoch 0) a handshake
    /// record whose messages hold together, a change_cipher_spec, or, before the association is
    /// <paramref name="established"/>, an alert. Once it is established, an unencrypted record must be one the client's
    /// handshake may send again (its last flight, when the server's was lost, RFC 6347 §4.2.4): anything else in clear
    /// can only come from someone else. BouncyCastle would end the association with a fatal alert on some of these
    /// (RFC 6347 §4.1.2.7 says to drop them), so they never reach it.
    /// </summary>
    public static bool AreWellFormed(ReadOnlySpan<byte> datagram, int minimumCiphertext, bool established)
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
            if (HeaderLength + length > datagram.Length || (epoch != 0 && length < minimumCiphertext)
                || (epoch == 0 && !IsPlaintextRecord(datagram[0], datagram.Slice(HeaderLength, length), established)))
            {
                return false;
            }

            datagram = datagram[(HeaderLength + length)..];
        }

        return true;
    }

    /// <summary>
    /// Whether an unencrypted record is one a client sends: change_cipher_spec (one byte, 1); handshake messages whose
    /// headers hold together (RFC 6347 §4.2.2, §4.2.3: each fragment within its message, the fragments filling the
    /// record), once established only ClientHello, Certificate, CertificateVerify and ClientKeyExchange; an alert only
    /// during the handshake.
    /// </summary>
    private static bool IsPlaintextRecord(byte contentType, ReadOnlySpan<byte> body, bool established)
    {
        const int HandshakeHeaderLength = 12;
        switch (contentType)
        {
            case 20:
                return body.Length == 1 && body[0] == 1;
            case 21:
                return !established && body.Length == 2;
            case 22:
                if (body.IsEmpty)
                {
                    return false;
                }

                while (!body.IsEmpty)
                {
                    if (body.Length < HandshakeHeaderLength || (established && body[0] is not (1 or 11 or 15 or 16)))
                    {
                        return false;
                    }

                    int messageLength = (body[1] << 16) | (body[2] << 8) | body[3];
                    int fragmentOffset = (body[6] << 16) | (body[7] << 8) | body[8];
                    int fragmentLength = (body[9] << 16) | (body[10] << 8) | body[11];
                    if (HandshakeHeaderLength + fragmentLength > body.Length || fragmentOffset + fragmentLength > messageLength)
                    {
                        return false;
                    }

                    body = body[(HandshakeHeaderLength + fragmentLength)..];
                }

                return true;
            default:
                return false;
        }
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
