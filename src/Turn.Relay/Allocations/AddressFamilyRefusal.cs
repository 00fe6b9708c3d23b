using Turn.Stun;

namespace Turn.Relay.Allocations;

/// <summary>
/// RFC 8656 §7.2 item 9, §18.12: the family of a dual allocation that could not be had and why (440 Address Family not
/// Supported, 508 Insufficient Capacity), told to the client in ADDRESS-ERROR-CODE. <see cref="StunAddressFamily.None"/>
/// when nothing was refused.
/// </summary>
public readonly record struct AddressFamilyRefusal(StunAddressFamily Family, int Code)
{
    public bool IsRefused => Family != StunAddressFamily.None;
}
