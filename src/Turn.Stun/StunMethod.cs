namespace Turn.Stun;

/// <summary>The 12-bit STUN methods this server knows (RFC 8489 §18.2, RFC 8656 §17, RFC 6062 §6.1).</summary>
public enum StunMethod : ushort
{
    Binding = 0x001,
    Allocate = 0x003,
    Refresh = 0x004,
    Send = 0x006,
    Data = 0x007,
    CreatePermission = 0x008,
    ChannelBind = 0x009,
    Connect = 0x00A,
    ConnectionBind = 0x00B,
    ConnectionAttempt = 0x00C,
}
