using Turn.Relay.Allocations;
using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>
/// RFC 8656 §7.2 items 7-9, §8.1, §10.1 (checklist 67-69, 82, 86, 92): IPv6 and dual allocations on a server that
/// relays both families, on one that relays IPv6 only, and when one family runs out of ports.
/// </summary>
public class DualAllocationTests
{
    private static readonly TransportAddress Peer6 = Address("2606:4700::1111", 7000);

    private readonly EngineHarness _engine = new(null, null, StunAddressFamily.IPv4, StunAddressFamily.IPv6);

    private static byte[] DualAllocate(TransactionId? id = null) =>
        Allocate((ref StunMessageWriter w) => w.AddAddressFamily(StunAttributeType.AdditionalAddressFamily, StunAddressFamily.IPv6), id: id);

    private static List<TransportAddress> RelayedAddresses(Answer answer)
    {
        var addresses = new List<TransportAddress>();
        StunMessageReader reader = answer.Reader;
        foreach (StunAttribute attribute in reader.Attributes)
        {
            if (attribute.Type == (ushort)StunAttributeType.XorRelayedAddress)
            {
                Assert.True(XorAddressValue.TryRead(attribute.Value, reader.Header.TransactionId, out TransportAddress address));
                addresses.Add(address);
            }
        }

        return addresses;
    }

    private static (StunAddressFamily Family, int Code)? AddressError(Answer answer)
    {
        if (!answer.Reader.TryGetAttribute(StunAttributeType.AddressErrorCode, out StunAttribute attribute))
        {
            return null;
        }

        Assert.True(AddressErrorCodeValue.TryRead(attribute.Value, out StunAddressFamily family, out int code, out _));
        return (family, code);
    }

    private static byte[] SendIndication(TransportAddress peer, byte[] data) =>
        Request(StunMethod.Send, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            w.AddAttribute(StunAttributeType.Data, data);
        }, user: null, cls: StunClass.Indication);

    private Answer CreatePermission(TransportAddress peer) =>
        _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peer)))!;

    private Answer Refresh(uint lifetime, StunAddressFamily family = StunAddressFamily.None) =>
        _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) =>
        {
            w.AddLifetime(lifetime);
            if (family != StunAddressFamily.None)
            {
                w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, family);
            }
        }))!;

    private FakeRelayEndpoint Endpoint(StunAddressFamily family) =>
        Assert.Single(_engine.Ports.Endpoints, e => e.LocalAddress.Family == family);

    /// <summary>Checklist 67, 69, 78: both families possible → two XOR-RELAYED-ADDRESS, IPv4 first, no ADDRESS-ERROR-CODE.</summary>
    [Fact]
    public void Rfc8656_S7_2_item9_dual_allocation_gets_one_relayed_address_of_each_family()
    {
        TransactionId id = TransactionId.NewRandom();
        Answer answer = _engine.Send(DualAllocate(id))!;
        Assert.Equal(StunClass.SuccessResponse, answer.Class);
        List<TransportAddress> relayed = RelayedAddresses(answer);
        Assert.Equal([StunAddressFamily.IPv4, StunAddressFamily.IPv6], relayed.Select(a => a.Family));
        Assert.Equal(FakePortAllocator.RelayIp6, relayed[1].ToIPAddress());
        Assert.Null(AddressError(answer));

        // Checklist 64: the retransmission gets the same two addresses.
        Assert.Equal(relayed, RelayedAddresses(_engine.Send(DualAllocate(id))!));

        // REQUESTED-ADDRESS-FAMILY IPv6 alone: one IPv6 relayed address.
        Answer ipv6 = _engine.Send(Allocate((ref StunMessageWriter w) =>
            w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, StunAddressFamily.IPv6)), Tuple("198.51.100.40", 1))!;
        Assert.Equal([StunAddressFamily.IPv6], RelayedAddresses(ipv6).Select(a => a.Family));
    }

    /// <summary>Checklist 69: no IPv6 port left → the IPv4 half alone, ADDRESS-ERROR-CODE 508 for IPv6.</summary>
    [Fact]
    public void Rfc8656_S7_2_item9_no_ipv6_port_grants_ipv4_with_address_error_508()
    {
        _engine.Ports.Ipv6Capacity = 0;
        Answer answer = _engine.Send(DualAllocate())!;
        Assert.Equal(StunClass.SuccessResponse, answer.Class);
        Assert.Equal([StunAddressFamily.IPv4], RelayedAddresses(answer).Select(a => a.Family));
        Assert.Equal((StunAddressFamily.IPv6, StunErrorCode.InsufficientCapacity), AddressError(answer));
        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, CreatePermission(Peer6).ErrorCode);
    }

    /// <summary>Checklist 67, 69: an IPv6-only relay refuses the IPv4 default (440) and grants the IPv6 half of a dual request.</summary>
    [Fact]
    public void Rfc8656_S7_2_items7_and_9_ipv6_only_relay()
    {
        var engine = new EngineHarness(null, null, StunAddressFamily.IPv6);
        Assert.Equal(StunErrorCode.AddressFamilyNotSupported, engine.Send(Allocate())!.ErrorCode);
        Answer dual = engine.Send(DualAllocate())!;
        Assert.Equal(StunClass.SuccessResponse, dual.Class);
        Assert.Equal([StunAddressFamily.IPv6], RelayedAddresses(dual).Select(a => a.Family));
        Assert.Equal((StunAddressFamily.IPv4, StunErrorCode.AddressFamilyNotSupported), AddressError(dual));
    }

    /// <summary>Checklist 92, RFC 8656 §10.1, §11.2, §11.3: a dual allocation takes peers of both families, each through its own relayed address.</summary>
    [Fact]
    public void Rfc8656_S10_1_dual_allocation_relays_both_families_through_their_own_addresses()
    {
        _engine.Send(DualAllocate());
        Assert.Equal(StunClass.SuccessResponse, CreatePermission(Peer).Class);
        Assert.Equal(StunClass.SuccessResponse, CreatePermission(Peer6).Class);

        _engine.Send(SendIndication(Peer, [4]));
        _engine.Send(SendIndication(Peer6, [6]));
        var (toIpv4, ipv4Peer) = Assert.Single(Endpoint(StunAddressFamily.IPv4).Sent);
        var (toIpv6, ipv6Peer) = Assert.Single(Endpoint(StunAddressFamily.IPv6).Sent);
        Assert.Equal([4], toIpv4);
        Assert.Equal(Peer, ipv4Peer);
        Assert.Equal([6], toIpv6);
        Assert.Equal(Peer6, ipv6Peer);

        Assert.NotNull(Endpoint(StunAddressFamily.IPv6).FromPeer(Peer6, [60]));
        Assert.NotNull(Endpoint(StunAddressFamily.IPv4).FromPeer(Peer, [40]));
    }

    /// <summary>Checklist 82, 92: a single-family allocation answers 443 for the other family's peers and Refresh.</summary>
    [Fact]
    public void Rfc8656_S8_2_S10_2_single_family_allocation_answers_443_for_the_other_family()
    {
        _engine.AllocateOk();
        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, CreatePermission(Peer6).ErrorCode);
        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, Refresh(600, StunAddressFamily.IPv6).ErrorCode);
        Assert.Equal(StunClass.SuccessResponse, Refresh(600, StunAddressFamily.IPv4).Class);
    }

    /// <summary>
    /// Checklist 86, RFC 8656 §8.1: deleting one family of a dual allocation closes that relayed address only; the other
    /// keeps its permissions and relays; deleting the last family deletes the allocation.
    /// </summary>
    [Fact]
    public void Rfc8656_S8_1_refresh_with_family_deletes_that_family_only()
    {
        _engine.Send(DualAllocate());
        CreatePermission(Peer);
        CreatePermission(Peer6);

        Answer deleted = Refresh(0, StunAddressFamily.IPv6);
        Assert.Equal(StunClass.SuccessResponse, deleted.Class);
        Assert.Equal(0u, deleted.Lifetime);
        Assert.True(Endpoint(StunAddressFamily.IPv6).Disposed);
        Assert.False(Endpoint(StunAddressFamily.IPv4).Disposed);

        _engine.Send(SendIndication(Peer6, [6]));
        Assert.Empty(Endpoint(StunAddressFamily.IPv6).Sent);
        Assert.Equal(1, _engine.Counters.Dropped(DropReason.NoRelayForFamily));
        _engine.Send(SendIndication(Peer, [4]));
        Assert.Single(Endpoint(StunAddressFamily.IPv4).Sent);
        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, CreatePermission(Peer6).ErrorCode);
        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, Refresh(600, StunAddressFamily.IPv6).ErrorCode);
        Assert.Equal(1, _engine.Allocations.Count);

        Assert.Equal(StunClass.SuccessResponse, Refresh(0, StunAddressFamily.IPv4).Class);
        Assert.True(Endpoint(StunAddressFamily.IPv4).Disposed);
        Assert.Equal(0, _engine.Allocations.Count);
        Assert.Equal(StunErrorCode.AllocationMismatch, Refresh(600).ErrorCode);
    }

    /// <summary>Checklist 84, 86, RFC 8656 §8.1: each family of a dual allocation has its own lifetime; Refresh without a family refreshes both.</summary>
    [Fact]
    public void Rfc8656_S8_1_each_family_expires_on_its_own()
    {
        _engine.Send(DualAllocate());
        CreatePermission(Peer);
        CreatePermission(Peer6);
        Answer longer = Refresh(1200, StunAddressFamily.IPv6);
        Assert.Equal(1200u, longer.Lifetime);

        _engine.Advance(700);
        _engine.Allocations.Sweep(_engine.Time.GetTimestamp());
        Assert.True(Endpoint(StunAddressFamily.IPv4).Disposed);
        Assert.False(Endpoint(StunAddressFamily.IPv6).Disposed);
        Assert.Equal(1, _engine.Allocations.Count);
        Assert.Null(Endpoint(StunAddressFamily.IPv4).FromPeer(Peer, [1]));

        // Without a family: what is left of the allocation is refreshed.
        Assert.Equal(600u, Refresh(600).Lifetime);
        _engine.Advance(599);
        _engine.Allocations.Sweep(_engine.Time.GetTimestamp());
        Assert.Equal(1, _engine.Allocations.Count);
        _engine.Advance(2);
        _engine.Allocations.Sweep(_engine.Time.GetTimestamp());
        Assert.Equal(0, _engine.Allocations.Count);
        Assert.True(Endpoint(StunAddressFamily.IPv6).Disposed);
    }

    /// <summary>
    /// Checklist 122, RFC 8656 §13.1-§13.3: relaying between families ignores DONT-FRAGMENT. An IPv6 client with an IPv4
    /// relayed address gets no DF on the relay socket nor on a datagram its Send indication asks DF for.
    /// </summary>
    [Fact]
    public void Rfc8656_S13_dont_fragment_is_ignored_across_families()
    {
        var client6 = new FiveTuple(Address("2606:4700::50", 40000), Address("2606:4700::1", 3478), TransportProtocol.Udp);
        Answer allocated = _engine.Send(Allocate((ref StunMessageWriter w) => w.AddAttribute(StunAttributeType.DontFragment, [])), client6)!;
        Assert.Equal(StunClass.SuccessResponse, allocated.Class);
        FakeRelayEndpoint relay = Endpoint(StunAddressFamily.IPv4);
        Assert.False(relay.DontFragment);

        Assert.Equal(StunClass.SuccessResponse, _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)), client6)!.Class);
        _engine.Send(Request(StunMethod.Send, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
            w.AddAttribute(StunAttributeType.Data, [1]);
            w.AddAttribute(StunAttributeType.DontFragment, []);
        }, user: null, cls: StunClass.Indication), client6);
        Assert.Equal([false], relay.SentWithDontFragment);

        // The same requests from an IPv4 client set DF (RFC 8656 §7.2 item 4, §11.2).
        _engine.Send(Allocate((ref StunMessageWriter w) => w.AddAttribute(StunAttributeType.DontFragment, [])), Tuple("198.51.100.70", 1));
        Assert.True(_engine.Ports.Endpoints[^1].DontFragment);
    }
}
