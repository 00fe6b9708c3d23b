using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>The decoded 20-byte header of RFC 8489 §5.</summary>
public readonly struct StunHeader
{
    public StunHeader(ushort rawType, ushort length, uint cookie, TransactionId transactionId)
    {
        RawType = rawType;
        Length = length;
        Cookie = cookie;
        TransactionId = transactionId;
    }

    /// <summary>The 16-bit message type as on the wire.</summary>
    public ushort RawType { get; }

    public StunMessageType Type => StunMessageType.Decode(RawType);

    public StunMethod Method => Type.Method;

    public StunClass Class => Type.Class;

    /// <summary>Attribute bytes after the header (RFC 8489 §5: excludes the header).</summary>
    public ushort Length { get; }

    /// <summary>Bytes 4-7. For an RFC 3489 client these are the first 32 bits of its 128-bit transaction id.</summary>
    public uint Cookie { get; }

    /// <summary>RFC 8489 §5: RFC 5389/8489 messages carry the magic cookie; RFC 3489 ones do not.</summary>
    public bool HasMagicCookie => Cookie == StunConstants.MagicCookie;

    public TransactionId TransactionId { get; }

    /// <summary>Decodes a header without judging it; the caller checks the length first.</summary>
    public static StunHeader Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt16BigEndian(source),
        BinaryPrimitives.ReadUInt16BigEndian(source[2..]),
        BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
        TransactionId.Read(source[8..]));
}
