using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Relay.Handlers;

/// <summary>
/// The relay path: Send indications and ChannelData from clients to peers (RFC 8656 §11.2, §12.6), and peer
/// datagrams framed for the client (§11.3, §12.5). Nothing here allocates, locks or logs.
/// </summary>
internal sealed class DataPath(TurnContext context) : IPeerDataHandler
{
    /// <summary>RFC 8656 §11.2: relays DATA to XOR-PEER-ADDRESS if the peer's IP has a permission; never answered.</summary>
    public void HandleSend(in StunMessageReader indication, in FiveTuple tuple)
    {
        long now = context.Now;
        if (!context.Allocations.TryGet(tuple, out Allocation allocation) || !allocation.IsLive(now))
        {
            context.Counters.CountDrop(DropReason.NoAllocation);
            return;
        }

        if (!indication.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute peerAttribute)
            || !XorAddressValue.TryRead(peerAttribute.Value, indication.Header.TransactionId, out TransportAddress peer)
            || !indication.TryGetAttribute(StunAttributeType.Data, out StunAttribute data))
        {
            context.Counters.CountDrop(DropReason.Malformed);
            return;
        }

        // The permission was installed only for a peer the address policy allows, and it is keyed on the same IP.
        if (!allocation.HasPermission(peer, now))
        {
            context.Counters.CountDrop(DropReason.NoPermission);
            return;
        }

        if (allocation.ToPeerLimit is { } limit && !limit.TryConsume(data.Value.Length, now))
        {
            context.Counters.CountDrop(DropReason.BandwidthExceeded);
            return;
        }

        // A dual allocation sends from the relayed address of the peer's family, if that one is still there. A TCP
        // allocation sends nothing in Send indications (RFC 6062 §4: data connections carry its data).
        if (allocation.RelayFor(peer.Family, now) is not { } relay || allocation.IsTcp)
        {
            context.Counters.CountDrop(DropReason.NoRelayForFamily);
            return;
        }

        // RFC 8656 §11.2: DONT-FRAGMENT asks for the DF bit on this datagram; §13: ignored when relaying across families.
        allocation.CountToPeer(data.Value.Length);
        context.ObserveRelayed(allocation, data.Value, fromClient: true, now);
        relay.SendToPeer(data.Value, peer, peer.Family == tuple.Client.Family && indication.TryGetAttribute(StunAttributeType.DontFragment, out _));
    }

    /// <summary>RFC 8656 §12.6: ChannelData on a bound, unexpired channel goes to its peer; anything else is dropped.</summary>
    public void HandleChannelData(ReadOnlySpan<byte> packet, in FiveTuple tuple)
    {
        long now = context.Now;
        if (!context.Allocations.TryGet(tuple, out Allocation allocation) || !allocation.IsLive(now))
        {
            context.Counters.CountDrop(DropReason.NoAllocation);
            return;
        }

        if (!ChannelData.TryParse(packet, context.Options.AllowLegacyChannelNumbers, out ushort number, out ReadOnlySpan<byte> data))
        {
            context.Counters.CountDrop(DropReason.Malformed);
            return;
        }

        // RFC 8656 §12.6: receiving ChannelData refreshes neither the channel nor the permission.
        if (!allocation.TryGetChannel(number, now, out ChannelBinding channel) || !allocation.HasPermission(channel.Peer, now))
        {
            context.Counters.CountDrop(DropReason.NoChannel);
            return;
        }

        if (allocation.ToPeerLimit is { } limit && !limit.TryConsume(data.Length, now))
        {
            context.Counters.CountDrop(DropReason.BandwidthExceeded);
            return;
        }

        if (allocation.RelayFor(channel.Peer.Family, now) is not { } relay)
        {
            context.Counters.CountDrop(DropReason.NoRelayForFamily);
            return;
        }

        allocation.CountToPeer(data.Length);
        context.ObserveRelayed(allocation, data, fromClient: true, now);
        relay.SendToPeer(data, channel.Peer);
    }

    /// <summary>
    /// RFC 8656 §11.5, §12.5 (checklist 105, 106): an ICMPv4 Destination Unreachable (3) or Time Exceeded (11), or an
    /// ICMPv6 Destination Unreachable (1), Packet Too Big (2) or Time Exceeded (3), about a datagram sent to a peer with
    /// a permission, becomes a Data indication with XOR-PEER-ADDRESS and ICMP (never ChannelData). Error data is the MTU
    /// for "fragmentation needed" and "packet too big", else 0. Anything else is dropped.
    /// </summary>
    public int HandlePeerIcmp(Allocation allocation, in TransportAddress peer, bool icmpv6, byte type, byte code, uint info, Span<byte> buffer)
    {
        long now = context.Now;
        bool relayed = icmpv6 ? type is 1 or 2 or 3 : type is 3 or 11;
        if (!relayed || !allocation.IsLiveFor(peer.Family, now) || !allocation.HasPermission(peer, now))
        {
            context.Counters.CountIcmp(relayed: false);
            return 0;
        }

        uint errorData = (icmpv6 && type == 2) || (!icmpv6 && type == 3 && code == 4) ? info : 0;
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Data, StunClass.Indication), TransactionId.NewRandom());
        writer.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        writer.AddIcmp(type, code, errorData);
        if (context.Options.FingerprintDataIndications)
        {
            writer.AddFingerprint();
        }

        if (writer.HasOverflowed)
        {
            return 0;
        }

        context.Counters.CountIcmp(relayed: true);
        return writer.Length;
    }

    /// <inheritdoc />
    public int HandlePeerData(Allocation allocation, in TransportAddress peer, Span<byte> buffer, int payloadLength, out int start)
    {
        start = 0;
        long now = context.Now;
        // RFC 8656 §9, §11.3: without a permission for the peer's IP the datagram is silently discarded.
        if (!allocation.IsLiveFor(peer.Family, now) || !allocation.HasPermission(peer, now))
        {
            context.Counters.CountDrop(DropReason.NoPermission);
            return 0;
        }

        if (allocation.ToClientLimit is { } limit && !limit.TryConsume(payloadLength, now))
        {
            context.Counters.CountDrop(DropReason.BandwidthExceeded);
            return 0;
        }

        allocation.CountToClient(payloadLength);
        int payloadStart = PeerDataFraming.Headroom;
        context.ObserveRelayed(allocation, buffer.Slice(payloadStart, payloadLength), fromClient: false, now);
        if (allocation.TryGetChannelForPeer(peer, now, out ChannelBinding channel))
        {
            // RFC 8656 §12.5: ChannelData when a channel is bound; padded to 4 on a stream.
            start = payloadStart - ChannelData.HeaderLength;
            ChannelData.WriteHeader(buffer[start..], channel.Number, payloadLength);
            int length = ChannelData.HeaderLength + payloadLength;
            if (allocation.Tuple.IsStream)
            {
                int padded = ChannelData.GetStreamFrameLength(payloadLength);
                buffer.Slice(start + length, padded - length).Clear();
                length = padded;
            }

            return length;
        }

        // RFC 8656 §11.3: a Data indication with XOR-PEER-ADDRESS and DATA, written around the payload in place.
        start = payloadStart - StunConstants.HeaderLength - StunConstants.AttributeHeaderLength - (4 + peer.AddressLength)
            - StunConstants.AttributeHeaderLength;
        var writer = new StunMessageWriter(buffer[start..], new StunMessageType(StunMethod.Data, StunClass.Indication), TransactionId.NewRandom());
        writer.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        if (!writer.TryAddAttribute(StunAttributeType.Data, payloadLength, out _))
        {
            context.Counters.CountDrop(DropReason.Malformed);
            return 0;
        }

        if (context.Options.FingerprintDataIndications)
        {
            writer.AddFingerprint();
        }

        return writer.Length;
    }
}
