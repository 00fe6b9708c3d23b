using System.Buffers.Binary;

namespace Turn.Relay.Auth;

/// <summary>A 32-byte USERHASH (RFC 8489 §14.4) as a dictionary key, held inline.</summary>
internal readonly record struct UserHashKey(ulong A, ulong B, ulong C, ulong D)
{
    public static UserHashKey Read(ReadOnlySpan<byte> hash) => new(
        BinaryPrimitives.ReadUInt64BigEndian(hash),
        BinaryPrimitives.ReadUInt64BigEndian(hash[8..]),
        BinaryPrimitives.ReadUInt64BigEndian(hash[16..]),
        BinaryPrimitives.ReadUInt64BigEndian(hash[24..]));
}
