using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>
/// PASSWORD-ALGORITHMS (RFC 8489 §14.11): a list of entries, each a 16-bit algorithm, a 16-bit parameters length and
/// the parameters padded to a multiple of 4. PASSWORD-ALGORITHM (§14.12) is a single such entry whose padding is the
/// attribute's own.
/// </summary>
public static class PasswordAlgorithmsValue
{
    /// <summary>PASSWORD-ALGORITHMS: every entry fits, and there is at least one.</summary>
    public static bool IsValid(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return false;
        }

        var entries = new Enumerator(value);
        while (entries.MoveNext())
        {
        }

        return entries.IsWellFormed;
    }

    /// <summary>PASSWORD-ALGORITHM: one entry with exactly its declared parameters.</summary>
    public static bool TryReadSingle(ReadOnlySpan<byte> value, out PasswordAlgorithm algorithm, out ReadOnlySpan<byte> parameters)
    {
        algorithm = PasswordAlgorithm.None;
        parameters = default;
        if (value.Length < 4)
        {
            return false;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(value[2..]);
        if (value.Length != 4 + length)
        {
            return false;
        }

        algorithm = (PasswordAlgorithm)BinaryPrimitives.ReadUInt16BigEndian(value);
        parameters = value[4..];
        return true;
    }

    /// <summary>Equal lists byte for byte, as RFC 8489 §9.2.4 compares the list a client echoes with the one sent.</summary>
    public static bool SequenceEqual(ReadOnlySpan<byte> value, ReadOnlySpan<PasswordAlgorithm> algorithms)
    {
        var entries = new Enumerator(value);
        int i = 0;
        while (entries.MoveNext())
        {
            if (i >= algorithms.Length || entries.Current != algorithms[i] || !entries.CurrentParameters.IsEmpty)
            {
                return false;
            }

            i++;
        }

        return entries.IsWellFormed && i == algorithms.Length;
    }

    public static bool Contains(ReadOnlySpan<byte> value, PasswordAlgorithm algorithm)
    {
        var entries = new Enumerator(value);
        while (entries.MoveNext())
        {
            if (entries.Current == algorithm)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>PASSWORD-ALGORITHMS with parameter-less entries (MD5 and SHA-256 take none).</summary>
    public static bool AddPasswordAlgorithms(this ref StunMessageWriter writer, scoped ReadOnlySpan<PasswordAlgorithm> algorithms)
    {
        if (!writer.TryAddAttribute(StunAttributeType.PasswordAlgorithms, algorithms.Length * 4, out Span<byte> value))
        {
            return false;
        }

        for (int i = 0; i < algorithms.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(value[(i * 4)..], (ushort)algorithms[i]);
            BinaryPrimitives.WriteUInt16BigEndian(value[((i * 4) + 2)..], 0);
        }

        return true;
    }

    public static bool AddPasswordAlgorithm(this ref StunMessageWriter writer, PasswordAlgorithm algorithm)
    {
        if (!writer.TryAddAttribute(StunAttributeType.PasswordAlgorithm, 4, out Span<byte> value))
        {
            return false;
        }

        BinaryPrimitives.WriteUInt16BigEndian(value, (ushort)algorithm);
        BinaryPrimitives.WriteUInt16BigEndian(value[2..], 0);
        return true;
    }

    /// <summary>Walks the entries; <see cref="IsWellFormed"/> tells, after the walk, whether the list ended cleanly.</summary>
    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _value;
        private int _next;

        public Enumerator(ReadOnlySpan<byte> value)
        {
            _value = value;
            _next = 0;
            IsWellFormed = true;
            Current = PasswordAlgorithm.None;
            CurrentParameters = default;
        }

        public PasswordAlgorithm Current { get; private set; }

        public ReadOnlySpan<byte> CurrentParameters { get; private set; }

        public bool IsWellFormed { get; private set; }

        public bool MoveNext()
        {
            if (_next >= _value.Length)
            {
                return false;
            }

            if (_value.Length - _next < 4)
            {
                IsWellFormed = false;
                return false;
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(_value[(_next + 2)..]);
            int end = _next + 4 + StunMessageReader.Pad4(length);
            if (end > _value.Length)
            {
                IsWellFormed = false;
                return false;
            }

            Current = (PasswordAlgorithm)BinaryPrimitives.ReadUInt16BigEndian(_value[_next..]);
            CurrentParameters = _value.Slice(_next + 4, length);
            _next = end;
            return true;
        }
    }
}
