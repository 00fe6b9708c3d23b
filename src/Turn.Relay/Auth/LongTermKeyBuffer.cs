using System.Runtime.CompilerServices;

namespace Turn.Relay.Auth;

/// <summary>Room for a long-term key held inline: 16 bytes for MD5, 32 for SHA-256 (RFC 8489 §9.2.2, §18.5.1).</summary>
[InlineArray(Length)]
internal struct LongTermKeyBuffer
{
    public const int Length = 32;

    private byte _element0;
}
