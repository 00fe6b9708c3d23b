using Turn.Relay.Allocations;
using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>RFC 8656 §6, §7.2 (checklist section E) and §8 (section F) on the engine, with a fake clock.</summary>
public class AllocateTests
{
    private readonly EngineHarness _engine = new();

    /// <summary>Checklist 50, 60, RFC 8656 §7.2 item 1: an Allocate without credentials is challenged with 401.</summary>
    [Fact]
    public void Rfc8656_S7_2_item1_unauthenticated_allocate_gets_401_with_realm_and_nonce()
    {
        Answer? answer = _engine.Send(Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17), user: null));
        Assert.NotNull(answer);
        Assert.Equal(StunErrorCode.Unauthenticated, answer.ErrorCode);
        Assert.True(answer.Has(StunAttributeType.Realm));
        Assert.True(answer.Has(StunAttributeType.Nonce));
        Assert.False(answer.HasMessageIntegrity);
        Assert.Equal(0, _engine.Allocations.Count);
    }

    [Fact]
    public void Rfc8656_S7_2_wrong_password_gets_401_and_no_allocation()
    {
        Answer? answer = _engine.Send(Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17), password: "nope"));
        Assert.Equal(StunErrorCode.Unauthenticated, answer!.ErrorCode);
        Assert.Empty(_engine.Ports.Endpoints);
    }

    /// <summary>
    /// Checklist 59, 78, RFC 8656 §7.2: success carries XOR-RELAYED-ADDRESS, LIFETIME, XOR-MAPPED-ADDRESS, and is signed
    /// with the request's key (RFC 8489 §9.2.4) and fingerprinted.
    /// </summary>
    [Fact]
    public void Rfc8656_S7_2_success_has_relayed_mapped_lifetime_and_integrity()
    {
        Answer answer = _engine.AllocateOk();
        FakeRelayEndpoint endpoint = Assert.Single(_engine.Ports.Endpoints);
        Assert.Equal(endpoint.LocalAddress, answer.XorAddress(StunAttributeType.XorRelayedAddress));
        Assert.Equal(Client.Client, answer.XorAddress(StunAttributeType.XorMappedAddress));
        Assert.Equal(600u, answer.Lifetime);
        Assert.True(answer.VerifyIntegrity(TestAuthenticator.Key("alice", "alice-pass")));
        Assert.True(answer.FingerprintValid);
        Assert.False(answer.Has(StunAttributeType.ReservationToken));
        Assert.Same(endpoint.Allocation, _engine.Allocations.TryGet(Client, out Allocation a) ? a : null);
        Assert.Equal(1, _engine.Counters.AllocationsCreated);
    }

    /// <summary>
    /// coturn --external-ip (cloud 1:1 NAT): XOR-RELAYED-ADDRESS shows the public address with the relay socket's
    /// port; the relay socket itself stays on the private address.
    /// </summary>
    [Fact]
    public void External_ip_maps_the_relayed_address_to_the_public_one()
    {
        var engine = new EngineHarness(new TurnEngineOptions
        {
            ExternalAddresses = new Dictionary<TransportAddress, TransportAddress>
            {
                [TransportAddress.FromIPAddress(FakePortAllocator.RelayIp, 0)] = Address("198.51.100.200", 0),
            },
        });
        Answer answer = engine.AllocateOk();
        FakeRelayEndpoint endpoint = Assert.Single(engine.Ports.Endpoints);
        Assert.Equal(Address("198.51.100.200", endpoint.LocalAddress.Port), answer.XorAddress(StunAttributeType.XorRelayedAddress));
        Assert.Equal(FakePortAllocator.RelayIp, endpoint.LocalAddress.ToIPAddress());
    }

    /// <summary>Checklist 77, RFC 8656 §6, §7.2: LIFETIME is capped at the maximum and never below the 600 s default.</summary>
    [Theory]
    [InlineData(0u, 600u)]
    [InlineData(100u, 600u)]
    [InlineData(1200u, 1200u)]
    [InlineData(3600u, 3600u)]
    [InlineData(86400u, 3600u)]
    public void Rfc8656_S7_2_lifetime_is_clamped(uint requested, uint granted)
    {
        Answer? answer = _engine.Send(Allocate((ref StunMessageWriter w) => w.AddLifetime(requested)));
        Assert.Equal(granted, answer!.Lifetime);
    }

    /// <summary>
    /// Checklist 20, 61 and 64, RFC 8656 §7.2 item 2 and NOTE: a retransmission (same transaction id) gets the same
    /// success; a new Allocate on the 5-tuple gets 437.
    /// </summary>
    [Fact]
    public void Rfc8656_S7_2_item2_retransmission_gets_same_success_and_new_request_gets_437()
    {
        var id = TransactionId.NewRandom();
        Answer first = _engine.Send(Allocate(id: id))!;
        _engine.Advance(5);
        Answer again = _engine.Send(Allocate(id: id))!;
        Assert.Equal(StunClass.SuccessResponse, again.Class);
        Assert.Equal(first.XorAddress(StunAttributeType.XorRelayedAddress), again.XorAddress(StunAttributeType.XorRelayedAddress));
        Assert.Equal(595u, again.Lifetime);
        Assert.Single(_engine.Ports.Endpoints);

        Answer other = _engine.Send(Allocate())!;
        Assert.Equal(StunErrorCode.AllocationMismatch, other.ErrorCode);
        Assert.True(other.VerifyIntegrity(TestAuthenticator.Key("alice", "alice-pass")));
        Assert.Single(_engine.Ports.Endpoints);
    }

    /// <summary>
    /// Checklist 62, 136, 137, RFC 8656 §7.2 item 3, RFC 6062 §5.1: REQUESTED-TRANSPORT missing or malformed is 400;
    /// neither UDP nor TCP is 442; TCP over UDP is 400.
    /// </summary>
    [Fact]
    public void Rfc8656_S7_2_item3_requested_transport()
    {
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Request(StunMethod.Allocate))!.ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddAttribute(StunAttributeType.RequestedTransport, [17])))!.ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(6)))!.ErrorCode);
        Assert.Equal(StunErrorCode.UnsupportedTransportProtocol, _engine.Send(Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(1)))!.ErrorCode);
        Assert.Empty(_engine.Ports.Endpoints);
    }

    /// <summary>Checklist 63, RFC 8656 §7.2 item 4: DONT-FRAGMENT is supported, so the relay socket sets DF.</summary>
    [Fact]
    public void Rfc8656_S7_2_item4_dont_fragment_sets_df()
    {
        _engine.Send(Allocate((ref StunMessageWriter w) => w.AddAttribute(StunAttributeType.DontFragment, [])));
        Assert.True(Assert.Single(_engine.Ports.Endpoints).DontFragment);
    }

    /// <summary>Checklist 65, RFC 8656 §7.2 item 5: RESERVATION-TOKEN excludes EVEN-PORT and the family attributes; an unknown token is 508.</summary>
    [Fact]
    public void Rfc8656_S7_2_item5_reservation_token_rules()
    {
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Allocate((ref StunMessageWriter w) =>
        {
            w.AddReservationToken(1);
            w.AddEvenPort(false);
        }))!.ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Allocate((ref StunMessageWriter w) =>
        {
            w.AddReservationToken(1);
            w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, StunAddressFamily.IPv4);
        }))!.ErrorCode);
        Assert.Equal(StunErrorCode.InsufficientCapacity, _engine.Send(Allocate((ref StunMessageWriter w) => w.AddReservationToken(42)))!.ErrorCode);
        Assert.Equal(0, _engine.Allocations.CountForUser("alice"));
    }

    /// <summary>
    /// Checklist 73-74, RFC 8656 §7.2, §18.7, §18.10: EVEN-PORT R=1 gets an even port and a RESERVATION-TOKEN for the
    /// next one, which another 5-tuple can claim.
    /// </summary>
    [Fact]
    public void Rfc8656_S7_2_even_port_reservation_can_be_claimed_by_another_client()
    {
        Answer first = _engine.Send(Allocate((ref StunMessageWriter w) => w.AddEvenPort(true)))!;
        Assert.Equal(StunClass.SuccessResponse, first.Class);
        TransportAddress relayed = first.XorAddress(StunAttributeType.XorRelayedAddress)!.Value;
        Assert.Equal(0, relayed.Port % 2);
        Assert.True(_engine.Ports.Requests[0].EvenPort && _engine.Ports.Requests[0].ReserveNextPort);
        ulong token = first.Reader.TryGetAttribute(StunAttributeType.ReservationToken, out StunAttribute t) && ReservationTokenValue.TryRead(t.Value, out ulong v) ? v : 0;
        Assert.NotEqual(0ul, token);

        FiveTuple second = Tuple("198.51.100.11", 40001);
        Answer claimed = _engine.Send(Allocate((ref StunMessageWriter w) => w.AddReservationToken(token), user: "bob"), second)!;
        Assert.Equal(StunClass.SuccessResponse, claimed.Class);
        Assert.Equal(relayed.Port + 1, claimed.XorAddress(StunAttributeType.XorRelayedAddress)!.Value.Port);
        Assert.False(claimed.Has(StunAttributeType.ReservationToken));

        // The token is single use.
        Answer again = _engine.Send(Allocate((ref StunMessageWriter w) => w.AddReservationToken(token), user: "bob"), Tuple("198.51.100.12", 40002))!;
        Assert.Equal(StunErrorCode.InsufficientCapacity, again.ErrorCode);
    }

    /// <summary>Checklist 66-69, RFC 8656 §7.2 items 6-9: address family rules for an IPv4-only relay.</summary>
    [Fact]
    public void Rfc8656_S7_2_items6_to_9_address_families()
    {
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Allocate((ref StunMessageWriter w) =>
        {
            w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, StunAddressFamily.IPv4);
            w.AddAddressFamily(StunAttributeType.AdditionalAddressFamily, StunAddressFamily.IPv6);
        }))!.ErrorCode);
        Assert.Equal(StunErrorCode.AddressFamilyNotSupported, _engine.Send(Allocate((ref StunMessageWriter w) =>
            w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, StunAddressFamily.IPv6)))!.ErrorCode);
        Assert.Equal(StunErrorCode.AddressFamilyNotSupported, _engine.Send(Allocate((ref StunMessageWriter w) =>
            w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, (StunAddressFamily)7)))!.ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Allocate((ref StunMessageWriter w) =>
            w.AddAddressFamily(StunAttributeType.AdditionalAddressFamily, StunAddressFamily.IPv4)))!.ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Allocate((ref StunMessageWriter w) =>
        {
            w.AddEvenPort(true);
            w.AddAddressFamily(StunAttributeType.AdditionalAddressFamily, StunAddressFamily.IPv6);
        }))!.ErrorCode);

        Answer dual = _engine.Send(Allocate((ref StunMessageWriter w) =>
            w.AddAddressFamily(StunAttributeType.AdditionalAddressFamily, StunAddressFamily.IPv6)))!;
        Assert.Equal(StunClass.SuccessResponse, dual.Class);
        Assert.True(dual.Reader.TryGetAttribute(StunAttributeType.AddressErrorCode, out StunAttribute aec));
        Assert.True(AddressErrorCodeValue.TryRead(aec.Value, out StunAddressFamily family, out int code, out _));
        Assert.Equal(StunAddressFamily.IPv6, family);
        Assert.Equal(StunErrorCode.AddressFamilyNotSupported, code);

        Answer ipv4 = _engine.Send(Allocate((ref StunMessageWriter w) =>
            w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, StunAddressFamily.IPv4)), Tuple("198.51.100.20", 1))!;
        Assert.Equal(StunClass.SuccessResponse, ipv4.Class);
    }

    /// <summary>Checklist 58, 70, RFC 8656 §5, §7.2 item 10: per-user and total quotas answer 486 and free up on deletion.</summary>
    [Fact]
    public void Rfc8656_S7_2_item10_quotas()
    {
        var engine = new EngineHarness(new TurnEngineOptions { UserQuota = 2, TotalQuota = 3 });
        engine.AllocateOk(Tuple("198.51.100.30", 1));
        engine.AllocateOk(Tuple("198.51.100.30", 2));
        Assert.Equal(StunErrorCode.AllocationQuotaReached, engine.Send(Allocate(), Tuple("198.51.100.30", 3))!.ErrorCode);
        engine.AllocateOk(Tuple("198.51.100.30", 4), user: "bob");
        Assert.Equal(StunErrorCode.AllocationQuotaReached, engine.Send(Allocate(user: "bob"), Tuple("198.51.100.30", 5))!.ErrorCode);
        Assert.Equal(2, engine.Counters.QuotaRejections);

        engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0)), Tuple("198.51.100.30", 1));
        engine.AllocateOk(Tuple("198.51.100.30", 6));
        Assert.Equal(3, engine.Allocations.Count);
    }

    /// <summary>RFC 8656 §7.2 item 8: no relay port left is 508, and the quota slot is given back.</summary>
    [Fact]
    public void Rfc8656_S7_2_no_relay_port_is_508()
    {
        _engine.Ports.Capacity = 1;
        _engine.AllocateOk();
        Assert.Equal(StunErrorCode.InsufficientCapacity, _engine.Send(Allocate(), Tuple("198.51.100.40", 1))!.ErrorCode);
        Assert.Equal(1, _engine.Allocations.CountForUser("alice"));
    }

    /// <summary>RFC 8489 §6.3.1 after §9.2.4 (checklist 14): unknown comprehension-required attributes get 420, signed.</summary>
    [Fact]
    public void Rfc8489_S6_3_1_unknown_attribute_in_allocate_is_420_after_authentication()
    {
        Answer answer = _engine.Send(Allocate((ref StunMessageWriter w) => w.AddAttribute(0x7F00, [1, 2, 3, 4])))!;
        Assert.Equal(StunErrorCode.UnknownAttribute, answer.ErrorCode);
        Assert.True(answer.VerifyIntegrity(TestAuthenticator.Key("alice", "alice-pass")));

        Answer unauthenticated = _engine.Send(Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddAttribute(0x7F00, [1, 2, 3, 4]), user: null))!;
        Assert.Equal(StunErrorCode.Unauthenticated, unauthenticated.ErrorCode);
    }

    /// <summary>RFC 8489 §14.8, RFC 8656 §18: a malformed known attribute (EVEN-PORT of 2 bytes, LIFETIME of 3) is 400.</summary>
    [Fact]
    public void Rfc8489_S14_8_malformed_known_attribute_in_allocate_is_400()
    {
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Allocate((ref StunMessageWriter w) => w.AddAttribute(StunAttributeType.EvenPort, [0x80, 0])))!.ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Allocate((ref StunMessageWriter w) => w.AddAttribute(StunAttributeType.Lifetime, [0, 0, 1])))!.ErrorCode);
        Assert.Empty(_engine.Ports.Endpoints);
    }

    /// <summary>Checklist 2, 57, RFC 8656 §5: TURN requests without the magic cookie are not TURN and get no answer.</summary>
    [Fact]
    public void Rfc8656_S5_allocate_without_magic_cookie_is_dropped()
    {
        byte[] request = Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17), fingerprint: false);
        request[4] = 0;
        Assert.Null(_engine.Send(request));
        Assert.Equal(1, _engine.Counters.Dropped(DropReason.MissingMagicCookie));
    }

    /// <summary>Checklist 21, RFC 8656 §5: Binding is still answered on a 5-tuple that has an allocation.</summary>
    [Fact]
    public void Rfc8656_S5_binding_on_an_allocation_5_tuple_is_answered()
    {
        _engine.AllocateOk();
        Answer binding = _engine.Send(Request(StunMethod.Binding, user: null))!;
        Assert.Equal(StunClass.SuccessResponse, binding.Class);
        Assert.Equal(Client.Client, binding.XorAddress(StunAttributeType.XorMappedAddress));
    }

    /// <summary>
    /// Checklist 54, RFC 8656 §5, §6: an allocation belongs to its whole 5-tuple: the same client from another port, to
    /// another server address or port, or over another transport finds none (437), and may make one of its own.
    /// </summary>
    [Fact]
    public void Rfc8656_S5_the_allocation_is_found_by_its_whole_5_tuple()
    {
        _engine.AllocateOk();
        FiveTuple[] others =
        [
            Client with { Client = Client.Client.WithPort(40001) },
            Client with { Client = Address("198.51.100.11", 40000) },
            Client with { Server = Client.Server.WithPort(3479) },
            Client with { Server = Address("198.51.100.2", 3478) },
            Client with { Protocol = TransportProtocol.Tcp },
            Client with { Protocol = TransportProtocol.Dtls },
        ];

        foreach (FiveTuple other in others)
        {
            Assert.Equal(StunErrorCode.AllocationMismatch, _engine.Send(Request(StunMethod.Refresh), other)!.ErrorCode);
            Assert.Equal(StunErrorCode.AllocationMismatch, _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
                w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)), other)!.ErrorCode);
        }

        Assert.Equal(StunClass.SuccessResponse, _engine.Send(Request(StunMethod.Refresh))!.Class);
        FiveTuple tcp = Client with { Protocol = TransportProtocol.Tcp };
        Answer second = _engine.AllocateOk(tcp);
        Assert.Equal(2, _engine.Allocations.Count);
        Assert.True(_engine.Allocations.TryGet(Client, out Allocation udpAllocation));
        Assert.True(_engine.Allocations.TryGet(tcp, out Allocation tcpAllocation));
        Assert.NotSame(udpAllocation, tcpAllocation);
        Assert.NotEqual(udpAllocation.RelayedAddress, second.XorAddress(StunAttributeType.XorRelayedAddress));
    }

    /// <summary>
    /// Checklist 72, RFC 8656 §7.2: a new allocation starts with no permissions and no channels, even on a 5-tuple whose
    /// previous allocation (deleted) had both.
    /// </summary>
    [Fact]
    public void Rfc8656_S7_2_a_new_allocation_starts_without_permissions_or_channels()
    {
        _engine.AllocateOk();
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, OtherPeer)))!.Class);
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(0x4000);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
        }))!.Class);
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0)))!.Class);

        _engine.AllocateOk();
        Assert.True(_engine.Allocations.TryGet(Client, out Allocation allocation));
        long now = _engine.Time.GetTimestamp();
        Assert.Equal(0, allocation.PermissionCount);
        Assert.False(allocation.HasPermission(Peer, now));
        Assert.False(allocation.HasPermission(OtherPeer, now));
        Assert.False(allocation.TryGetChannel(0x4000, now, out _));

        FakeRelayEndpoint relay = _engine.Ports.Endpoints[^1];
        Assert.Same(allocation, relay.Allocation);
        Assert.Null(relay.FromPeer(Peer, [1]));
        Assert.Null(relay.FromPeer(OtherPeer, [1]));
        _engine.Send([0x40, 0x00, 0x00, 0x01, 7]);
        Assert.Empty(relay.Sent);
        Assert.Equal(1, _engine.Counters.Dropped(DropReason.NoChannel));
    }

    /// <summary>
    /// Checklist 128, RFC 8656 §18.6-§18.8: the RFFU bits of REQUESTED-TRANSPORT, REQUESTED-ADDRESS-FAMILY and EVEN-PORT
    /// are ignored on receipt: an Allocate with all of them set is served as if they were zero.
    /// </summary>
    [Fact]
    public void Rfc8656_S18_rffu_bits_are_ignored_on_receipt()
    {
        Answer answer = _engine.Send(Allocate((ref StunMessageWriter w) =>
        {
            w.AddAttribute(StunAttributeType.RequestedAddressFamily, [0x01, 0xFF, 0xFF, 0xFF]);
            w.AddAttribute(StunAttributeType.EvenPort, [0x7F]);
        }))!;
        Assert.Equal(StunClass.SuccessResponse, answer.Class);
        Assert.Equal(0, answer.XorAddress(StunAttributeType.XorRelayedAddress)!.Value.Port % 2);
        Assert.False(answer.Has(StunAttributeType.ReservationToken));
        Assert.Equal(new RelayPortRequest(StunAddressFamily.IPv4, true, false), Assert.Single(_engine.Ports.Requests));

        Answer udp = _engine.Send(Request(StunMethod.Allocate, (ref StunMessageWriter w) =>
            w.AddAttribute(StunAttributeType.RequestedTransport, [17, 0xAB, 0xCD, 0xEF])), Tuple("198.51.100.20", 1))!;
        Assert.Equal(StunClass.SuccessResponse, udp.Class);
        Assert.Equal(2, _engine.Allocations.Count);
    }

    /// <summary>Checklist 81-85, RFC 8656 §8.2: Refresh needs the allocation (437) and its username (441); LIFETIME rules.</summary>
    [Fact]
    public void Rfc8656_S8_2_refresh_rules()
    {
        Assert.Equal(StunErrorCode.AllocationMismatch, _engine.Send(Request(StunMethod.Refresh))!.ErrorCode);
        _engine.AllocateOk();
        Assert.Equal(StunErrorCode.WrongCredentials, _engine.Send(Request(StunMethod.Refresh, user: "bob"))!.ErrorCode);

        _engine.Advance(500);
        Answer refreshed = _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(1800)))!;
        Assert.Equal(1800u, refreshed.Lifetime);
        _engine.Advance(1000);
        Assert.Equal(600u, _engine.Send(Request(StunMethod.Refresh))!.Lifetime);
        Assert.Equal(3600u, _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(99999)))!.Lifetime);

        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) =>
            w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, StunAddressFamily.IPv6)))!.ErrorCode);
    }

    /// <summary>Checklist 84, 87, RFC 8656 §8.2: LIFETIME 0 deletes at once; a retransmission then gets 437.</summary>
    [Fact]
    public void Rfc8656_S8_2_refresh_zero_deletes_the_allocation()
    {
        _engine.AllocateOk();
        FakeRelayEndpoint endpoint = Assert.Single(_engine.Ports.Endpoints);
        var id = TransactionId.NewRandom();
        Answer deleted = _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0), id: id))!;
        Assert.Equal(StunClass.SuccessResponse, deleted.Class);
        Assert.Equal(0u, deleted.Lifetime);
        Assert.True(endpoint.Disposed);
        Assert.Equal(0, _engine.Allocations.Count);
        Assert.Equal(StunErrorCode.AllocationMismatch, _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0), id: id))!.ErrorCode);
        _engine.AllocateOk();
    }

    /// <summary>Checklist 79-80, RFC 8656 §6: an allocation not refreshed expires with its lifetime, and the sweep frees its port.</summary>
    [Fact]
    public void Rfc8656_S6_allocation_expires_and_is_swept()
    {
        _engine.AllocateOk();
        _engine.Advance(599);
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)))!.Class);
        _engine.Advance(1);
        Assert.Equal(StunErrorCode.AllocationMismatch, _engine.Send(Request(StunMethod.Refresh))!.ErrorCode);
        Assert.Equal(1, _engine.Allocations.Sweep(_engine.Time.GetTimestamp()));
        Assert.True(Assert.Single(_engine.Ports.Endpoints).Disposed);
        _engine.AllocateOk();
    }
}

/// <summary>RFC 8489 §10, §14.15, §14.16 (checklist 71, 124, 125): 300 Try Alternate while draining or for a front server.</summary>
public class TryAlternateTests
{
    private static readonly TransportAddress Alternate4 = Address("192.0.2.10", 3478);
    private static readonly TransportAddress Alternate6 = Address("2001:db8::10", 3478);

    private static EngineHarness Engine(bool redirectAll = false) => new(new TurnEngineOptions
    {
        AlternateServers = [Alternate4, Alternate6],
        AlternateDomain = "turn.example.org",
        RedirectAllAllocations = redirectAll,
    });

    private static (int? Code, TransportAddress? Server, bool Domain) Read(Answer answer)
    {
        StunMessageReader reader = answer.Reader;
        TransportAddress? server = reader.TryGetAttribute(StunAttributeType.AlternateServer, out StunAttribute a)
            && AddressValue.TryRead(a.Value, out TransportAddress address) ? address : null;
        return (answer.ErrorCode, server, reader.TryGetAttribute(StunAttributeType.AlternateDomain, out _));
    }

    /// <summary>
    /// Checklist 124, 125: the ALTERNATE-SERVER is of the client's family (not XORed), signed; ALTERNATE-DOMAIN goes
    /// with it over TLS and DTLS only.
    /// </summary>
    [Fact]
    public void Rfc8489_S10_alternate_server_matches_the_client_family_and_domain_goes_over_tls_only()
    {
        EngineHarness engine = Engine();
        engine.Processor.Draining = true;
        var udp4 = Read(engine.Send(Allocate(), Tuple("198.51.100.50", 1))!);
        Assert.Equal((StunErrorCode.TryAlternate, (TransportAddress?)Alternate4, false), udp4);

        var udp6 = Read(engine.Send(Allocate(), new FiveTuple(Address("2001:db8::50", 1), Address("2001:db8::1", 3478), TransportProtocol.Udp))!);
        Assert.Equal((StunErrorCode.TryAlternate, (TransportAddress?)Alternate6, false), udp6);

        var tls = Read(engine.Send(Allocate(), new FiveTuple(Address("198.51.100.51", 1), Address("198.51.100.1", 5349), TransportProtocol.Tls))!);
        Assert.Equal((StunErrorCode.TryAlternate, (TransportAddress?)Alternate4, true), tls);
        Assert.True(engine.Send(Allocate(), Tuple("198.51.100.52", 1))!.VerifyIntegrity(TestAuthenticator.Key("alice", "alice-pass")));
    }

    /// <summary>Checklist 71, RFC 8656 §7.2 item 11: a front server redirects every Allocate; with no alternate of the client's family it allocates itself.</summary>
    [Fact]
    public void Rfc8656_S7_2_item11_front_server_redirects_every_allocate()
    {
        var engine = new EngineHarness(new TurnEngineOptions { AlternateServers = [Alternate6], RedirectAllAllocations = true });
        var ipv6 = Read(engine.Send(Allocate(), new FiveTuple(Address("2001:db8::60", 1), Address("2001:db8::1", 3478), TransportProtocol.Udp))!);
        Assert.Equal(StunErrorCode.TryAlternate, ipv6.Code);
        Assert.Equal(StunClass.SuccessResponse, engine.Send(Allocate(), Tuple("198.51.100.60", 1))!.Class);
        Assert.Equal(0, engine.Counters.DrainRejections);
    }
}
