using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Turn.Stun;

/// <summary>The 96-bit transaction id of RFC 8489 §5, held inline (no array).</summary>
public readonly struct TransactionId : IEquatable<TransactionId>
{
    public const int Length = 12;

    private const int RandomPoolLength = Length * 256;

    [ThreadStatic]
    private static byte[]? _randomPool;

    [ThreadStatic]
    private static int _randomPoolOffset;

    private readonly ulong _high;
    private readonly uint _low;

    private TransactionId(ulong high, uint low)
    {
        _high = high;
        _low = low;
    }

    /// <summary>Reads the 12 bytes at the start of <paramref name="source"/>.</summary>
    public static TransactionId Read(ReadOnlySpan<byte> source) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(source), BinaryPrimitives.ReadUInt32BigEndian(source[8..]));

    /// <summary>
    /// RFC 8489 §6: a fresh transaction id from a cryptographically random source. The random bytes are drawn in
    /// blocks per thread, since one call to the system generator costs about a microsecond whatever its size and the
    /// relay path needs one id per Data indication.
    /// </summary>
    public static TransactionId NewRandom()
    {
        byte[] pool = _randomPool ??= new byte[RandomPoolLength];
        if (_randomPoolOffset == 0 || _randomPoolOffset + Length > pool.Length)
        {
            RandomNumberGenerator.Fill(pool);
            _randomPoolOffset = 0;
        }

        var id = Read(pool.AsSpan(_randomPoolOffset, Length));
        // Spent bytes are wiped so the pool never holds an id already handed out.
        pool.AsSpan(_randomPoolOffset, Length).Clear();
        _randomPoolOffset += Length;
        return id;
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], _low);
    }

    public bool Equals(TransactionId other) => _high == other._high && _low == other._low;

    public override bool Equals(object? obj) => obj is TransactionId other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_high, _low);

    public static bool operator ==(TransactionId left, TransactionId right) => left.Equals(right);

    public static bool operator !=(TransactionId left, TransactionId right) => !left.Equals(right);

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[Length];
        WriteTo(bytes);
        return Convert.ToHexStringLower(bytes);
    }
}
