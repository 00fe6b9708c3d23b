using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>
/// Attributes whose value is one 32-bit number: LIFETIME (RFC 8656 §18.2, seconds), CONNECTION-ID (RFC 6062 §6.2.1),
/// FINGERPRINT (RFC 8489 §14.7) and the RFC 5780 CHANGE-REQUEST flags.
/// </summary>
public static class UInt32Value
{
    public static bool TryRead(ReadOnlySpan<byte> value, out uint number)
    {
        number = value.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(value) : 0;
        return value.Length == 4;
    }

    public static bool AddLifetime(this ref StunMessageWriter writer, uint seconds) =>
        writer.AddUInt32(StunAttributeType.Lifetime, seconds);

    public static bool AddConnectionId(this ref StunMessageWriter writer, uint connectionId) =>
        writer.AddUInt32(StunAttributeType.ConnectionId, connectionId);
}
