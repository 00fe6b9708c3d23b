using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Relay.Handlers;

/// <summary>RFC 8656 §8.2: extends an allocation's lifetime, or deletes it with LIFETIME 0 (one family of a dual allocation, §8.1).</summary>
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

        // Revoked credentials refresh nothing (403); the allocation runs out at its time unless ended with the revocation.
        if (context.IsRevoked(key.Username))
        {
            return context.Responses.WriteError(response, header, StunErrorCode.Forbidden, key);
        }

        // RFC 8656 §8.1, §8.2: REQUESTED-ADDRESS-FAMILY refreshes or deletes the relayed address of that family only
        // (one half of a dual allocation); a family the allocation has no relayed address of gets 443.
        long now = context.Now;
        bool oneFamily = request.TryGetAttribute(StunAttributeType.RequestedAddressFamily, out StunAttribute familyAttribute);
        StunAddressFamily family = StunAddressFamily.None;
        if (oneFamily && (!AddressFamilyValue.TryRead(familyAttribute.Value, out family) || !allocation.IsLiveFor(family, now)))
        {
            return context.Responses.WriteError(response, header, StunErrorCode.PeerAddressFamilyMismatch, key);
        }

        uint requested = 0;
        bool hasLifetime = request.TryGetAttribute(StunAttributeType.Lifetime, out StunAttribute lifetimeAttribute)
            && UInt32Value.TryRead(lifetimeAttribute.Value, out requested);
        uint granted = 0;
        if (hasLifetime && requested == 0)
        {
            // RFC 8656 §8.2: desired lifetime 0 deletes the allocation now (or only the family asked for, §8.1, when the
            // other one stays).
            if (!(oneFamily && allocation.TryRemoveFamily(family, now))
                && context.Allocations.Remove(allocation, AllocationEndReason.ClientDeleted))
            {
                context.Counters.CountAllocationDeleted();
            }
        }
        else
        {
            long expiresAt = context.After(now, context.GrantedLifetime(hasLifetime ? requested : null));
            if (oneFamily)
            {
                allocation.SetExpiry(family, expiresAt);
                granted = context.SecondsUntil(now, allocation.ExpiresAtFor(family));
            }
            else
            {
                allocation.SetExpiry(expiresAt);
                granted = context.SecondsUntil(now, allocation.ExpiresAt);
            }
        }

        var writer = StunResponses.Begin(response, header, StunClass.SuccessResponse);
        writer.AddLifetime(granted);
        return context.Responses.Finish(ref writer, header, key);
    }
}
