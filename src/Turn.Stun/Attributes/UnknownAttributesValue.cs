using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>UNKNOWN-ATTRIBUTES (RFC 8489 §14.13): a list of 16-bit attribute types.</summary>
public static class UnknownAttributesValue
{
    public static bool IsValid(ReadOnlySpan<byte> value) => (value.Length & 1) == 0;

    public static int Count(ReadOnlySpan<byte> value) => value.Length / 2;

    public static ushort Get(ReadOnlySpan<byte> value, int index) => BinaryPrimitives.ReadUInt16BigEndian(value[(index * 2)..]);

    public static bool Contains(ReadOnlySpan<byte> value, ushort type)
    {
        for (int i = 0; i < Count(value); i++)
        {
            if (Get(value, i) == type)
            {
                return true;
            }
        }

        return false;
    }
}
