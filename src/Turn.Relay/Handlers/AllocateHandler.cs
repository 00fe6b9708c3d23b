using Turn.Relay.Allocations;
using Turn.Relay.Policy;
using Turn.Stun;

namespace Turn.Relay.Handlers;

/// <summary>RFC 8656 §7.2: creates an allocation, checking the request in the order the RFC lists.</summary>
internal sealed class AllocateHandler
{
    private readonly TurnContext _context;
    private readonly IPeerDataHandler _peerData;
    private readonly ITcpPeerConnectionHandler _tcpPeers;

    public AllocateHandler(TurnContext context, IPeerDataHandler peerData, ITcpPeerConnectionHandler tcpPeers)
    {
        _context = context;
        _peerData = peerData;
        _tcpPeers = tcpPeers;
    }

    public int Handle(in StunMessageReader request, in FiveTuple tuple, IClientTransport transport, Span<byte> response)
    {
        StunHeader header = request.Header;
        StunResponses responses = _context.Responses;

        // Item 1: authentication (and RFC 8489 §6.3.1 unknown attributes after it).
        int answered = _context.CheckCredentialsAndAttributes(request, tuple, response, out RequestKey key);
        if (answered >= 0)
        {
            return answered;
        }

        // Revoked credentials (a cluster's revocation list) make no allocation: 403.
        if (_context.IsRevoked(key.Username))
        {
            return responses.WriteError(response, header, StunErrorCode.Forbidden, key);
        }

        // Item 2: one allocation per 5-tuple; a retransmission of the request that made it gets the same answer.
        long now = _context.Now;
        if (_context.Allocations.TryGet(tuple, out Allocation existing) && existing.IsLive(now))
        {
            return existing.AllocateTransaction == header.TransactionId && existing.Username == key.Username
                ? WriteSuccess(existing, header, key, tuple, now, response)
                : responses.WriteError(response, header, StunErrorCode.AllocationMismatch, key);
        }

        // A draining server makes no new allocation: RFC 8489 §10 300 to an alternate server when one is known
        // (ALTERNATE-DOMAIN too over TLS and DTLS, §14.16), else 508 so the client tries another server. A full server
        // (at its total quota) sends the client to an alternate the same way, else refuses it at item 10 below. A front
        // server (RedirectAllAllocations) sends every client on to the alternates (RFC 8656 §7.2 item 11). In a cluster
        // the alternate is the least loaded other node of the region (IClusterAlternates), else a configured one.
        // Only alternates of the client's family are offered (RFC 8489 §10, §14.15); with none, 508 while draining, and a
        // front or full server then goes on as if it had none.
        if (_context.Draining || _context.Options.RedirectAllAllocations || _context.IsFull)
        {
            bool hasAlternate = _context.TryAlternateServer(tuple, out TransportAddress alternate);
            if (_context.Draining)
            {
                _context.Counters.CountDrainRejection();
            }

            if (hasAlternate)
            {
                string? domain = tuple.Protocol is TransportProtocol.Tls or TransportProtocol.Dtls ? _context.Options.AlternateDomain : null;
                return responses.WriteTryAlternate(response, header, key, alternate, domain);
            }

            if (_context.Draining)
            {
                return responses.WriteError(response, header, StunErrorCode.InsufficientCapacity, key);
            }
        }

        // Item 3: REQUESTED-TRANSPORT must be there and name UDP (RFC 8656 §18.8), or TCP (RFC 6062 §5.1 item 1).
        if (!request.TryGetAttribute(StunAttributeType.RequestedTransport, out StunAttribute transportAttribute)
            || !RequestedTransportValue.TryRead(transportAttribute.Value, out byte protocol))
        {
            return responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        bool tcp = protocol == RequestedTransportValue.Tcp;
        if ((protocol != RequestedTransportValue.Udp && !tcp) || (tcp && !_context.Ports.SupportsTcp))
        {
            return responses.WriteError(response, header, StunErrorCode.UnsupportedTransportProtocol, key);
        }

        // Item 4: DONT-FRAGMENT is supported (the relay socket sets DF), so it is simply remembered.
        bool dontFragment = request.TryGetAttribute(StunAttributeType.DontFragment, out _);

        bool hasToken = request.TryGetAttribute(StunAttributeType.ReservationToken, out StunAttribute tokenAttribute);
        bool hasEvenPort = request.TryGetAttribute(StunAttributeType.EvenPort, out StunAttribute evenPortAttribute);
        bool hasRequestedFamily = request.TryGetAttribute(StunAttributeType.RequestedAddressFamily, out StunAttribute requestedFamilyAttribute);
        bool hasAdditionalFamily = request.TryGetAttribute(StunAttributeType.AdditionalAddressFamily, out StunAttribute additionalFamilyAttribute);

        // RFC 6062 §5.1 items 2-4: a TCP allocation is made over TCP or TLS only, and has no use for DF, port parity or
        // reservations. Nor for a second family: a dual TCP allocation is not defined, so it is refused too.
        if (tcp && (!tuple.IsStream || dontFragment || hasEvenPort || hasToken || hasAdditionalFamily))
        {
            return responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        // Item 5: RESERVATION-TOKEN excludes EVEN-PORT and the family attributes.
        if (hasToken && (hasEvenPort || hasRequestedFamily || hasAdditionalFamily))
        {
            return responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        // Item 6: REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY exclude each other.
        if (hasRequestedFamily && hasAdditionalFamily)
        {
            return responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        bool reserveNext = false;
        if (hasEvenPort && EvenPortValue.TryRead(evenPortAttribute.Value, out reserveNext) && reserveNext && hasAdditionalFamily)
        {
            // Item 8: a reservation cannot be made for a dual allocation.
            return responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        // Item 7: the family asked for must be one this server relays (none asked: IPv4). Item 9: ADDITIONAL-ADDRESS-FAMILY
        // may only ask for IPv6 on top of IPv4; a dual allocation gets what it can of the two and is told what it could
        // not have (ADDRESS-ERROR-CODE), and only when neither family can be had is it refused (508).
        StunAddressFamily family = StunAddressFamily.IPv4;
        StunAddressFamily additional = StunAddressFamily.None;
        AddressFamilyRefusal refused = default;
        if (hasRequestedFamily)
        {
            AddressFamilyValue.TryRead(requestedFamilyAttribute.Value, out family);
        }

        if (hasAdditionalFamily)
        {
            AddressFamilyValue.TryRead(additionalFamilyAttribute.Value, out StunAddressFamily asked);
            if (asked != StunAddressFamily.IPv6)
            {
                return responses.WriteError(response, header, StunErrorCode.BadRequest, key);
            }

            bool ipv4 = _context.Ports.Supports(StunAddressFamily.IPv4);
            bool ipv6 = _context.Ports.Supports(StunAddressFamily.IPv6);
            if (!ipv4 && !ipv6)
            {
                return responses.WriteError(response, header, StunErrorCode.InsufficientCapacity, key);
            }

            if (ipv4 && ipv6)
            {
                additional = StunAddressFamily.IPv6;
            }
            else
            {
                family = ipv4 ? StunAddressFamily.IPv4 : StunAddressFamily.IPv6;
                refused = new AddressFamilyRefusal(ipv4 ? StunAddressFamily.IPv6 : StunAddressFamily.IPv4, StunErrorCode.AddressFamilyNotSupported);
            }
        }
        else if (!_context.Ports.Supports(family))
        {
            return responses.WriteError(response, header, StunErrorCode.AddressFamilyNotSupported, key);
        }

        // RFC 8656 §21.4: no allocations for clients behind Teredo or 6to4 tunnels (amplification through the tunnel).
        if (_context.Policy.Classify(tuple.Client) == PeerAddressCategory.Tunneled)
        {
            _context.Counters.CountPeerRefused(PeerAddressCategory.Tunneled);
            return responses.WriteError(response, header, StunErrorCode.Forbidden, key);
        }

        // Item 10: quotas, per username and for the whole server.
        if (!_context.Allocations.TryReserveSlot(key.Username, _context.Options.UserQuota, _context.Options.TotalQuota))
        {
            _context.Counters.CountQuotaRejection();
            return responses.WriteError(response, header, StunErrorCode.AllocationQuotaReached, key);
        }

        RelayPortGrant? grant;
        if (hasToken)
        {
            IRelayEndpoint? reserved = ReservationTokenValue.TryRead(tokenAttribute.Value, out ulong token)
                ? _context.Ports.TryClaimReservation(token)
                : null;
            grant = reserved is null ? null : new RelayPortGrant(reserved, null);
        }
        else if (tcp)
        {
            grant = _context.Ports.TryAllocateTcp(family) is { } tcpRelay ? new RelayPortGrant(tcpRelay, null) : null;
        }
        else
        {
            grant = _context.Ports.TryAllocate(new RelayPortRequest(family, hasEvenPort, reserveNext));
        }

        if (grant is null)
        {
            // Items 5 and 8: no such reservation, or no port: 508.
            _context.Allocations.ReleaseSlot(key.Username);
            _context.Counters.CountCapacityRejection();
            return responses.WriteError(response, header, StunErrorCode.InsufficientCapacity, key);
        }

        // Item 9: the IPv6 half of a dual allocation; without a port for it the IPv4 half is granted alone (508 for IPv6).
        IRelayEndpoint? additionalEndpoint = null;
        if (additional != StunAddressFamily.None)
        {
            additionalEndpoint = _context.Ports.TryAllocate(new RelayPortRequest(additional, hasEvenPort, false))?.Endpoint;
            if (additionalEndpoint is null)
            {
                refused = new AddressFamilyRefusal(additional, StunErrorCode.InsufficientCapacity);
            }
        }

        IRelayEndpoint endpoint = grant.Value.Endpoint;
        TransportAddress relayed = _context.MapToExternal(endpoint.LocalAddress);
        long expiresAt = _context.After(now, GrantedLifetime(request));
        long bytesPerSecond = _context.Options.MaxBytesPerSecond;
        long frequency = _context.Time.TimestampFrequency;
        var allocation = new Allocation(tuple, key.Username, header.TransactionId, grant.Value, relayed,
            transport.CreateSender(tuple), expiresAt, refused, createdAt: now, additionalEndpoint,
            additionalEndpoint is null ? default : _context.MapToExternal(additionalEndpoint.LocalAddress))
        {
            ToPeerLimit = bytesPerSecond > 0 ? new TokenBucket(bytesPerSecond, frequency, now) : null,
            ToClientLimit = bytesPerSecond > 0 ? new TokenBucket(bytesPerSecond, frequency, now) : null,
            SecretId = key.SecretId,
        };
        if (!_context.Allocations.TryAdd(allocation))
        {
            // Another copy of this request won the race for the 5-tuple.
            endpoint.Dispose();
            additionalEndpoint?.Dispose();
            return responses.WriteError(response, header, StunErrorCode.AllocationMismatch, key);
        }

        if (endpoint is ITcpRelayEndpoint listening)
        {
            // RFC 6062 §5.1, §5.3: the relayed address accepts peer connections from now on.
            listening.StartAccepting(allocation, _tcpPeers);
        }
        else
        {
            // RFC 8656 §13: DONT-FRAGMENT applies to a relay of the client's own family; a translating one ignores it.
            endpoint.SetDontFragment(dontFragment && endpoint.LocalAddress.Family == tuple.Client.Family);
            endpoint.Attach(allocation, _peerData);
        }

        additionalEndpoint?.SetDontFragment(dontFragment && additionalEndpoint.LocalAddress.Family == tuple.Client.Family);
        additionalEndpoint?.Attach(allocation, _peerData);
        _context.Counters.CountAllocationCreated();
        _context.Allocations.NotifyCreated(allocation);
        return WriteSuccess(allocation, header, key, tuple, now, response);
    }

    private TimeSpan GrantedLifetime(in StunMessageReader request) =>
        _context.GrantedLifetime(request.TryGetAttribute(StunAttributeType.Lifetime, out StunAttribute attribute)
            && UInt32Value.TryRead(attribute.Value, out uint seconds) ? seconds : null);

    /// <summary>
    /// RFC 8656 §7.2: XOR-RELAYED-ADDRESS (two for a dual allocation), ADDRESS-ERROR-CODE for a refused family, LIFETIME,
    /// RESERVATION-TOKEN when a port was reserved, XOR-MAPPED-ADDRESS; signed with the request's key.
    /// </summary>
    private int WriteSuccess(Allocation allocation, in StunHeader header, in RequestKey key, in FiveTuple tuple, long now, Span<byte> response)
    {
        var writer = StunResponses.Begin(response, header, StunClass.SuccessResponse);
        writer.AddXorAddress(StunAttributeType.XorRelayedAddress, allocation.RelayedAddress);
        if (allocation.IsDual)
        {
            writer.AddXorAddress(StunAttributeType.XorRelayedAddress, allocation.AdditionalRelayedAddress);
        }

        if (allocation.RefusedFamily.IsRefused)
        {
            writer.AddAddressErrorCode(allocation.RefusedFamily.Family, allocation.RefusedFamily.Code);
        }

        writer.AddLifetime(_context.SecondsUntil(now, allocation.ExpiresAt));
        if (allocation.ReservationToken is { } token)
        {
            writer.AddReservationToken(token);
        }

        writer.AddXorAddress(StunAttributeType.XorMappedAddress, tuple.Client);
        return _context.Responses.Finish(ref writer, header, key);
    }
}
