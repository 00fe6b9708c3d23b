using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Relay.Handlers;

/// <summary>RFC 8656 §8.2: extends an allocation's lifetime, or deletes it with LIFETIME 0.</summary>
internal sealed class RefreshHandler(TurnContext context)
{
    public int Handle(in StunMessageReader request, in FiveTuple tuple, Span<byte> response)
    {
        StunHeader header = request.Header;
        // RFC 8656 §8.2 NOTE: a retransmitted Refresh(0) after the deletion gets 437, which the client takes as success.
        int answered = context.BeginAllocationRequest(request, tuple, response, out RequestKey key, out Allocation allocation);
        if (answered >= 0)
        {
            return answered;
        }

        if (request.TryGetAttribute(StunAttributeType.RequestedAddressFamily, out StunAttribute familyAttribute)
            && AddressFamilyValue.TryRead(familyAttribute.Value, out StunAddressFamily family)
            && family != allocation.RelayedAddress.Family)
        {
            return context.Responses.WriteError(response, header, StunErrorCode.PeerAddressFamilyMismatch, key);
        }

        long now = context.Now;
        uint requested = 0;
        bool hasLifetime = request.TryGetAttribute(StunAttributeType.Lifetime, out StunAttribute lifetimeAttribute)
            && UInt32Value.TryRead(lifetimeAttribute.Value, out requested);
        uint granted = 0;
        if (hasLifetime && requested == 0)
        {
            // RFC 8656 §8.2: desired lifetime 0 deletes the allocation now.
            if (context.Allocations.Remove(allocation, AllocationEndReason.ClientDeleted))
            {
                context.Counters.CountAllocationDeleted();
            }
        }
        else
        {
            allocation.SetExpiry(context.After(now, context.GrantedLifetime(hasLifetime ? requested : null)));
            granted = context.SecondsUntil(now, allocation.ExpiresAt);
        }

        var writer = StunResponses.Begin(response, header, StunClass.SuccessResponse);
        writer.AddLifetime(granted);
        return context.Responses.Finish(ref writer, header, key);
    }
}
