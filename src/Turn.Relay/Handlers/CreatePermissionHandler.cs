using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Relay.Handlers;

/// <summary>RFC 8656 §10.2: installs or refreshes permissions for one or more peer IPs, all or none.</summary>
internal sealed class CreatePermissionHandler(TurnContext context)
{
    /// <summary>Peers one request may name; beyond it the request is refused with 508.</summary>
    private const int MaxPeersPerRequest = 32;

    public int Handle(in StunMessageReader request, in FiveTuple tuple, Span<byte> response)
    {
        StunHeader header = request.Header;
        int answered = context.BeginAllocationRequest(request, tuple, response, out RequestKey key, out Allocation allocation);
        if (answered >= 0)
        {
            return answered;
        }

        // Every XOR-PEER-ADDRESS is checked before any permission is installed (checklist 93).
        Span<TransportAddress> peers = stackalloc TransportAddress[MaxPeersPerRequest];
        int count = 0;
        foreach (StunAttribute attribute in request.Attributes)
        {
            if (attribute.Type != (ushort)StunAttributeType.XorPeerAddress)
            {
                continue;
            }

            if (!XorAddressValue.TryRead(attribute.Value, header.TransactionId, out TransportAddress peer))
            {
                return context.Responses.WriteError(response, header, StunErrorCode.BadRequest, key);
            }

            int refused = context.CheckPeer(peer, allocation);
            if (refused != 0)
            {
                return context.Responses.WriteError(response, header, refused, key);
            }

            if (count == MaxPeersPerRequest)
            {
                return context.Responses.WriteError(response, header, StunErrorCode.InsufficientCapacity, key);
            }

            peers[count++] = peer;
        }

        if (count == 0)
        {
            return context.Responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        int max = context.Options.MaxPermissionsPerAllocation;
        if (!allocation.CanInstallPermissions(peers[..count], max))
        {
            context.Counters.CountCapacityRejection();
            return context.Responses.WriteError(response, header, StunErrorCode.InsufficientCapacity, key);
        }

        long expiresAt = context.After(context.Now, TurnEngineOptions.PermissionLifetime);
        for (int i = 0; i < count; i++)
        {
            allocation.InstallPermission(peers[i], expiresAt, max);
        }

        var writer = StunResponses.Begin(response, header, StunClass.SuccessResponse);
        return context.Responses.Finish(ref writer, header, key);
    }
}
