using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Relay.Handlers;

/// <summary>RFC 8656 §12.2: binds a channel number to a peer (10 minutes) and refreshes the peer's permission.</summary>
internal sealed class ChannelBindHandler(TurnContext context)
{
    public int Handle(in StunMessageReader request, in FiveTuple tuple, Span<byte> response)
    {
        StunHeader header = request.Header;
        int answered = context.BeginAllocationRequest(request, tuple, response, out RequestKey key, out Allocation allocation);
        if (answered >= 0)
        {
            return answered;
        }

        // CHANNEL-NUMBER in 0x4000-0x4FFF (0x7FFF in RFC 5766 mode) and a well-formed XOR-PEER-ADDRESS are required
        // (RFC 8656 §12.2). A TCP allocation has no channels: its data goes over data connections (RFC 6062 §4).
        if (allocation.IsTcp
            || !request.TryGetAttribute(StunAttributeType.ChannelNumber, out StunAttribute channelAttribute)
            || !ChannelNumberValue.TryRead(channelAttribute.Value, out ushort number)
            || !ChannelData.IsValidChannel(number, context.Options.AllowLegacyChannelNumbers)
            || !request.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute peerAttribute)
            || !XorAddressValue.TryRead(peerAttribute.Value, header.TransactionId, out TransportAddress peer))
        {
            return context.Responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        int refused = context.CheckPeer(peer, allocation);
        if (refused != 0)
        {
            return context.Responses.WriteError(response, header, refused, key);
        }

        long now = context.Now;
        int max = context.Options.MaxPermissionsPerAllocation;
        if (!allocation.HasPermission(peer, now) && allocation.PermissionCount >= max)
        {
            context.Counters.CountCapacityRejection();
            return context.Responses.WriteError(response, header, StunErrorCode.InsufficientCapacity, key);
        }

        switch (allocation.BindChannel(number, peer, context.After(now, TurnEngineOptions.ChannelLifetime), context.Options.MaxChannelsPerAllocation))
        {
            case ChannelBindOutcome.Conflict:
                return context.Responses.WriteError(response, header, StunErrorCode.BadRequest, key);
            case ChannelBindOutcome.AtCapacity:
                context.Counters.CountCapacityRejection();
                return context.Responses.WriteError(response, header, StunErrorCode.InsufficientCapacity, key);
        }

        // RFC 8656 §12.2: a ChannelBind also installs or refreshes the permission for the peer's IP.
        allocation.InstallPermission(peer, context.After(now, TurnEngineOptions.PermissionLifetime), max);
        var writer = StunResponses.Begin(response, header, StunClass.SuccessResponse);
        return context.Responses.Finish(ref writer, header, key);
    }
}
