using Turn.Stun;

namespace Turn.Relay;

/// <summary>
/// RFC 8489 §12 basic server behaviour: a Binding request is answered with the source transport address it came
/// from, XOR-MAPPED-ADDRESS for RFC 5389+ clients, MAPPED-ADDRESS for RFC 3489 clients (RFC 8489 §12, RFC 5389
/// §12.2). No authentication is asked for (RFC 8489 §12: Binding SHOULD NOT require it).
/// </summary>
internal sealed class BindingHandler
{
    /// <summary>How many unknown types a 420 lists; more would only make the answer an amplifier.</summary>
    private const int MaxUnknownAttributes = 16;

    /// <summary>RFC 5780 §7.2 CHANGE-REQUEST flags: A (change IP) and B (change port).</summary>
    private const uint ChangeIpFlag = 0x4;
    private const uint ChangePortFlag = 0x2;

    /// <summary>The most PADDING a response carries (RFC 5780 §7.6): enough to test fragmentation, within one response buffer.</summary>
    private const int MaxPadding = 1200;

    private readonly StunResponses _responses;

    public BindingHandler(StunResponses responses)
    {
        _responses = responses;
    }

    public int HandleRequest(in StunMessageReader request, in FiveTuple tuple, Span<byte> response) =>
        HandleRequest(request, tuple, null, response);

    /// <summary>
    /// As above; over a UDP listener with a second address (<paramref name="nat"/>, RFC 5780 §6), CHANGE-REQUEST and
    /// RESPONSE-PORT are served, and the response carries RESPONSE-ORIGIN and OTHER-ADDRESS (SOURCE-ADDRESS and
    /// CHANGED-ADDRESS for RFC 3489 clients, RFC 3489 §11.2.3, §11.2.5).
    /// </summary>
    public int HandleRequest(in StunMessageReader request, in FiveTuple tuple, INatDiscoveryEndpoint? nat, Span<byte> response)
    {
        StunHeader header = request.Header;
        TransportAddress other = default;
        bool discovery = nat is not null && tuple.Protocol == TransportProtocol.Udp && nat.TryGetOtherAddress(out other);

        // RFC 8489 §6.3.1: unknown comprehension-required attributes are answered with 420.
        Span<ushort> unknown = stackalloc ushort[MaxUnknownAttributes];
        int unknownCount = CollectUnknownAttributes(request, unknown, discovery);
        if (unknownCount > 0)
        {
            return _responses.WriteError(response, header, StunErrorCode.UnknownAttribute, unknown[..unknownCount]);
        }

        // RFC 8489 §14.8 (400 Bad Request: the request was malformed): a known attribute with an impossible value.
        foreach (StunAttribute attribute in request.Attributes)
        {
            if (!StunAttributeValidator.IsWellFormed(attribute.Type, attribute.Value))
            {
                return _responses.WriteError(response, header, StunErrorCode.BadRequest);
            }
        }

        var writer = StunResponses.Begin(response, header, StunClass.SuccessResponse);
        if (header.HasMagicCookie)
        {
            writer.AddXorAddress(StunAttributeType.XorMappedAddress, tuple.Client);
        }
        else
        {
            writer.AddAddress(StunAttributeType.MappedAddress, tuple.Client);
        }

        if (!discovery)
        {
            return _responses.Finish(ref writer, header);
        }

        // RFC 5780 §6.1: CHANGE-REQUEST picks the address the response leaves from; RESPONSE-PORT the client port it
        // goes to (at the request's source IP); PADDING is answered with as much padding (no amplification).
        uint flags = request.TryGetAttribute(StunAttributeType.ChangeRequest, out StunAttribute change)
            && UInt32Value.TryRead(change.Value, out uint value) ? value : 0;
        bool changeIp = (flags & ChangeIpFlag) != 0;
        bool changePort = (flags & ChangePortFlag) != 0;
        TransportAddress destination = tuple.Client;
        bool responsePort = request.TryGetAttribute(StunAttributeType.ResponsePort, out StunAttribute port);
        if (responsePort)
        {
            destination = tuple.Client.WithPort((ushort)((port.Value[0] << 8) | port.Value[1]));
        }

        TransportAddress origin = nat!.OriginFor(changeIp, changePort);
        writer.AddAddress(header.HasMagicCookie ? StunAttributeType.ResponseOrigin : StunAttributeType.SourceAddress, origin);
        writer.AddAddress(header.HasMagicCookie ? StunAttributeType.OtherAddress : StunAttributeType.ChangedAddress, other);
        if (request.TryGetAttribute(StunAttributeType.Padding, out StunAttribute padding)
            && writer.TryAddAttribute(StunAttributeType.Padding, Math.Min(padding.Value.Length, MaxPadding), out Span<byte> filler))
        {
            filler.Clear();
        }

        int length = _responses.Finish(ref writer, header);
        if (length > 0 && (changeIp || changePort || responsePort))
        {
            // Sent here from the other address; the listener the request came in on sends nothing.
            nat.SendFrom(changeIp, changePort, response[..length], destination);
            return 0;
        }

        return length;
    }

    /// <summary>
    /// Types below 0x8000 this server does not act on. Without RFC 5780 service (<paramref name="discovery"/> false:
    /// no second address, or not a UDP Binding), CHANGE-REQUEST counts as unknown when it asks for a change of address
    /// or port, and so do RESPONSE-PORT and PADDING; a CHANGE-REQUEST with no flag set asks for nothing, which classic
    /// RFC 3489 clients send on their plain Binding.
    /// </summary>
    internal static int CollectUnknownAttributes(in StunMessageReader request, Span<ushort> unknown, bool discovery = false)
    {
        int count = 0;
        foreach (StunAttribute attribute in request.Attributes)
        {
            ushort type = attribute.Type;
            bool understood = StunAttributeTypes.IsKnown(type)
                && (discovery || !IsDiscoveryOnly(type, attribute.Value));
            if (understood || !attribute.IsComprehensionRequired || unknown[..count].Contains(type))
            {
                continue;
            }

            if (count == unknown.Length)
            {
                break;
            }

            unknown[count++] = type;
        }

        return count;
    }

    private static bool IsDiscoveryOnly(ushort type, ReadOnlySpan<byte> value) => (StunAttributeType)type switch
    {
        StunAttributeType.ChangeRequest => UInt32Value.TryRead(value, out uint flags) && flags != 0,
        StunAttributeType.ResponsePort or StunAttributeType.Padding => true,
        _ => false,
    };
}
