using System.Buffers.Binary;

namespace Turn.Stun.Tests;

/// <summary>
/// The numbers the RFCs assign (RFC 8489 §18, RFC 8656 §17-§19, RFC 6062 §6): methods, attribute types, error codes
/// and password algorithms, and how reserved (RFFU) bits are read. A wrong number here breaks interoperability
/// silently, so each is pinned to the value the RFC gives.
/// </summary>
public class RegistryTests
{
    /// <summary>
    /// Checklist 4, 5, RFC 8489 §18.2, RFC 8656 §17, RFC 6062 §6.1: the method numbers, and the 14-bit message types
    /// they make in each class the method allows.
    /// </summary>
    [Theory]
    [InlineData(StunMethod.Binding, 0x001, StunClass.Request, 0x0001)]
    [InlineData(StunMethod.Allocate, 0x003, StunClass.Request, 0x0003)]
    [InlineData(StunMethod.Refresh, 0x004, StunClass.SuccessResponse, 0x0104)]
    [InlineData(StunMethod.Send, 0x006, StunClass.Indication, 0x0016)]
    [InlineData(StunMethod.Data, 0x007, StunClass.Indication, 0x0017)]
    [InlineData(StunMethod.CreatePermission, 0x008, StunClass.ErrorResponse, 0x0118)]
    [InlineData(StunMethod.ChannelBind, 0x009, StunClass.Request, 0x0009)]
    [InlineData(StunMethod.Connect, 0x00A, StunClass.Request, 0x000A)]
    [InlineData(StunMethod.ConnectionBind, 0x00B, StunClass.SuccessResponse, 0x010B)]
    [InlineData(StunMethod.ConnectionAttempt, 0x00C, StunClass.Indication, 0x001C)]
    public void Rfc8656_S17_method_numbers(StunMethod method, int number, StunClass cls, int type)
    {
        Assert.Equal(number, (int)method);
        Assert.Equal(type, StunMessageType.Encode(method, cls));
    }

    /// <summary>
    /// Checklist 126, RFC 8656 §18, RFC 6062 §6.2: the TURN attribute types; 0x0010 (BANDWIDTH) and 0x0021 (TIMER-VAL)
    /// are reserved, so they are unknown to the codec and, being below 0x8000, comprehension-required.
    /// </summary>
    [Theory]
    [InlineData(StunAttributeType.ChannelNumber, 0x000C)]
    [InlineData(StunAttributeType.Lifetime, 0x000D)]
    [InlineData(StunAttributeType.XorPeerAddress, 0x0012)]
    [InlineData(StunAttributeType.Data, 0x0013)]
    [InlineData(StunAttributeType.XorRelayedAddress, 0x0016)]
    [InlineData(StunAttributeType.RequestedAddressFamily, 0x0017)]
    [InlineData(StunAttributeType.EvenPort, 0x0018)]
    [InlineData(StunAttributeType.RequestedTransport, 0x0019)]
    [InlineData(StunAttributeType.DontFragment, 0x001A)]
    [InlineData(StunAttributeType.ReservationToken, 0x0022)]
    [InlineData(StunAttributeType.ConnectionId, 0x002A)]
    [InlineData(StunAttributeType.AdditionalAddressFamily, 0x8000)]
    [InlineData(StunAttributeType.AddressErrorCode, 0x8001)]
    [InlineData(StunAttributeType.Icmp, 0x8004)]
    public void Rfc8656_S18_turn_attribute_types(StunAttributeType type, int number)
    {
        AssertAttributeType(type, number);
        foreach (ushort reserved in new ushort[] { 0x0010, 0x0021 })
        {
            Assert.False(StunAttributeTypes.IsKnown(reserved));
            Assert.True(StunAttributeTypes.IsComprehensionRequired(reserved));
        }
    }

    /// <summary>Checklist 127, RFC 8489 §18.3: the STUN attribute types, comprehension-required below 0x8000.</summary>
    [Theory]
    [InlineData(StunAttributeType.MappedAddress, 0x0001)]
    [InlineData(StunAttributeType.Username, 0x0006)]
    [InlineData(StunAttributeType.MessageIntegrity, 0x0008)]
    [InlineData(StunAttributeType.ErrorCode, 0x0009)]
    [InlineData(StunAttributeType.UnknownAttributes, 0x000A)]
    [InlineData(StunAttributeType.Realm, 0x0014)]
    [InlineData(StunAttributeType.Nonce, 0x0015)]
    [InlineData(StunAttributeType.MessageIntegritySha256, 0x001C)]
    [InlineData(StunAttributeType.PasswordAlgorithm, 0x001D)]
    [InlineData(StunAttributeType.UserHash, 0x001E)]
    [InlineData(StunAttributeType.XorMappedAddress, 0x0020)]
    [InlineData(StunAttributeType.PasswordAlgorithms, 0x8002)]
    [InlineData(StunAttributeType.AlternateDomain, 0x8003)]
    [InlineData(StunAttributeType.Software, 0x8022)]
    [InlineData(StunAttributeType.AlternateServer, 0x8023)]
    [InlineData(StunAttributeType.Fingerprint, 0x8028)]
    public void Rfc8489_S18_3_stun_attribute_types(StunAttributeType type, int number) => AssertAttributeType(type, number);

    /// <summary>
    /// Checklist 129, RFC 8489 §14.8, RFC 8656 §19, RFC 6062 §6.3: the error codes and their reason phrases, written as
    /// class (hundreds) and number (the rest) in ERROR-CODE.
    /// </summary>
    [Theory]
    [InlineData(StunErrorCode.TryAlternate, 300, "Try Alternate")]
    [InlineData(StunErrorCode.BadRequest, 400, "Bad Request")]
    [InlineData(StunErrorCode.Unauthenticated, 401, "Unauthenticated")]
    [InlineData(StunErrorCode.Forbidden, 403, "Forbidden")]
    [InlineData(StunErrorCode.UnknownAttribute, 420, "Unknown Attribute")]
    [InlineData(StunErrorCode.AllocationMismatch, 437, "Allocation Mismatch")]
    [InlineData(StunErrorCode.StaleNonce, 438, "Stale Nonce")]
    [InlineData(StunErrorCode.AddressFamilyNotSupported, 440, "Address Family not Supported")]
    [InlineData(StunErrorCode.WrongCredentials, 441, "Wrong Credentials")]
    [InlineData(StunErrorCode.UnsupportedTransportProtocol, 442, "Unsupported Transport Protocol")]
    [InlineData(StunErrorCode.PeerAddressFamilyMismatch, 443, "Peer Address Family Mismatch")]
    [InlineData(StunErrorCode.ConnectionAlreadyExists, 446, "Connection Already Exists")]
    [InlineData(StunErrorCode.ConnectionTimeoutOrFailure, 447, "Connection Timeout or Failure")]
    [InlineData(StunErrorCode.AllocationQuotaReached, 486, "Allocation Quota Reached")]
    [InlineData(StunErrorCode.ServerError, 500, "Server Error")]
    [InlineData(StunErrorCode.InsufficientCapacity, 508, "Insufficient Capacity")]
    public void Rfc8489_S14_8_Rfc8656_S19_error_codes(int constant, int code, string reason)
    {
        Assert.Equal(code, constant);
        Assert.Equal(reason, StunErrorCode.DefaultReason(code));
        byte[] value = StunWire.ReadSingle(StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddErrorCode(code))), StunAttributeType.ErrorCode);
        Assert.Equal(new byte[] { 0, 0, (byte)(code / 100), (byte)(code % 100) }, value[..4]);
        Assert.Equal(reason, System.Text.Encoding.UTF8.GetString(value.AsSpan(4)));
    }

    /// <summary>
    /// Checklist 130, RFC 8489 §14.11, §14.12, §18.5: PASSWORD-ALGORITHMS entries are a 16-bit algorithm (0x0001 MD5,
    /// 0x0002 SHA-256), a 16-bit parameter length and the parameters padded to 4 bytes; a list whose last entry's
    /// parameters (or their padding) are cut short is malformed.
    /// </summary>
    [Fact]
    public void Rfc8489_S14_11_password_algorithm_entries_on_the_wire()
    {
        Assert.Equal(0x0001, (int)PasswordAlgorithm.Md5);
        Assert.Equal(0x0002, (int)PasswordAlgorithm.Sha256);

        byte[] list = [0x00, 0x02, 0x00, 0x03, 0xA1, 0xA2, 0xA3, 0x00, 0x00, 0x01, 0x00, 0x00, 0x12, 0x34, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0];
        var entries = new PasswordAlgorithmsValue.Enumerator(list);
        Assert.True(entries.MoveNext());
        Assert.Equal(PasswordAlgorithm.Sha256, entries.Current);
        Assert.Equal(new byte[] { 0xA1, 0xA2, 0xA3 }, entries.CurrentParameters.ToArray());
        Assert.True(entries.MoveNext());
        Assert.Equal(PasswordAlgorithm.Md5, entries.Current);
        Assert.True(entries.CurrentParameters.IsEmpty);
        Assert.True(entries.MoveNext());
        Assert.Equal((PasswordAlgorithm)0x1234, entries.Current);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5 }, entries.CurrentParameters.ToArray());
        Assert.False(entries.MoveNext());
        Assert.True(entries.IsWellFormed);
        Assert.True(PasswordAlgorithmsValue.IsValid(list));
        Assert.True(PasswordAlgorithmsValue.Contains(list, PasswordAlgorithm.Md5));

        Assert.False(PasswordAlgorithmsValue.IsValid(list.AsSpan(0, list.Length - 1)));     // padding of the last entry cut
        Assert.False(PasswordAlgorithmsValue.IsValid(list.AsSpan(0, list.Length - 4)));     // parameters cut
        Assert.False(PasswordAlgorithmsValue.IsValid(list.AsSpan(0, 10)));     // a half entry
        Assert.False(PasswordAlgorithmsValue.IsValid([]));

        byte[] written = StunWire.ReadSingle(
            StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddPasswordAlgorithms([PasswordAlgorithm.Md5, PasswordAlgorithm.Sha256]))),
            StunAttributeType.PasswordAlgorithms);
        Assert.Equal(new byte[] { 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00 }, written);
    }

    /// <summary>
    /// Checklist 128, RFC 8656 §18.1, §18.6-§18.8, §18.13: RFFU and reserved bits are ignored on receipt: with all of
    /// them set, CHANNEL-NUMBER, REQUESTED-ADDRESS-FAMILY, EVEN-PORT, REQUESTED-TRANSPORT and ICMP read as with them
    /// clear, and are well formed.
    /// </summary>
    [Fact]
    public void Rfc8656_S18_reserved_bits_are_ignored_on_receipt()
    {
        byte[] channel = [0x40, 0x01, 0xFF, 0xFF];
        Assert.True(ChannelNumberValue.TryRead(channel, out ushort number));
        Assert.Equal(0x4001, number);

        byte[] family = [0x02, 0xFF, 0xFF, 0xFF];
        Assert.True(AddressFamilyValue.TryRead(family, out StunAddressFamily read));
        Assert.Equal(StunAddressFamily.IPv6, read);

        Assert.True(EvenPortValue.TryRead([0x7F], out bool reserve));
        Assert.False(reserve);
        Assert.True(EvenPortValue.TryRead([0xFF], out reserve));
        Assert.True(reserve);

        byte[] transport = [17, 0xFF, 0xFF, 0xFF];
        Assert.True(RequestedTransportValue.TryRead(transport, out byte protocol));
        Assert.Equal(RequestedTransportValue.Udp, protocol);

        byte[] icmp = [0xFF, 0xFF, 3, 4, 0, 0, 0x05, 0xDC];
        Assert.True(IcmpValue.TryRead(icmp, out byte icmpType, out byte icmpCode, out uint errorData));
        Assert.Equal(((byte)3, (byte)4, 1500u), (icmpType, icmpCode, errorData));

        Assert.True(StunAttributeValidator.IsWellFormed((ushort)StunAttributeType.ChannelNumber, channel));
        Assert.True(StunAttributeValidator.IsWellFormed((ushort)StunAttributeType.RequestedAddressFamily, family));
        Assert.True(StunAttributeValidator.IsWellFormed((ushort)StunAttributeType.EvenPort, [0x7F]));
        Assert.True(StunAttributeValidator.IsWellFormed((ushort)StunAttributeType.RequestedTransport, transport));
        Assert.True(StunAttributeValidator.IsWellFormed((ushort)StunAttributeType.Icmp, icmp));
    }

    private static void AssertAttributeType(StunAttributeType type, int number)
    {
        Assert.Equal(number, (int)type);
        Assert.True(StunAttributeTypes.IsKnown((ushort)number));
        Assert.Equal(number < 0x8000, StunAttributeTypes.IsComprehensionRequired((ushort)number));
        byte[] message = StunWire.Write((ref StunMessageWriter w) => Assert.True(w.AddAttribute((ushort)number, [])));
        Assert.Equal(number, BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(StunConstants.HeaderLength)));
    }
}
