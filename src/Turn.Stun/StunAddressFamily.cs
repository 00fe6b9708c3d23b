namespace Turn.Stun;

/// <summary>RFC 8489 §14.1: the address family byte of (XOR-)MAPPED-ADDRESS and friends.</summary>
public enum StunAddressFamily : byte
{
    None = 0x00,
    IPv4 = 0x01,
    IPv6 = 0x02,
}
