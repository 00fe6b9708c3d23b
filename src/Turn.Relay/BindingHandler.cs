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

    private readonly StunResponses _responses;

    public BindingHandler(StunResponses responses)
    {
        _responses = responses;
    }

    public int HandleRequest(in StunMessageReader request, in FiveTuple tuple, Span<byte> response)
    {
        StunHeader header = request.Header;

        // RFC 8489 §6.3.1: unknown comprehension-required attributes are answered with 420.
        Span<ushort> unknown = stackalloc ushort[MaxUnknownAttributes];
        int unknownCount = CollectUnknownAttributes(request, unknown);
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

        return _responses.Finish(ref writer, header);
    }

    /// <summary>
    /// Types below 0x8000 this server does not act on. CHANGE-REQUEST (RFC 5780 §7.2) counts as unknown when it
    /// asks for a change of address or port, which needs a second address this server does not have; with no flag
    /// set it asks for nothing, which classic RFC 3489 clients send on their plain Binding.
    /// </summary>
    internal static int CollectUnknownAttributes(in StunMessageReader request, Span<ushort> unknown)
    {
        int count = 0;
        foreach (StunAttribute attribute in request.Attributes)
        {
            ushort type = attribute.Type;
            bool understood = StunAttributeTypes.IsKnown(type)
                && !(type == (ushort)StunAttributeType.ChangeRequest && UInt32Value.TryRead(attribute.Value, out uint flags) && flags != 0);
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
}
