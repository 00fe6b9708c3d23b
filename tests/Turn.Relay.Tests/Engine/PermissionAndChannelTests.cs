using Turn.Relay.Allocations;
using Turn.Relay.Policy;
using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>RFC 8656 §9, §10 (checklist section G) and §12.2 (section I) on the engine.</summary>
public class PermissionAndChannelTests
{
    private readonly EngineHarness _engine = new();

    private static byte[] CreatePermission(params TransportAddress[] peers) =>
        Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
        {
            foreach (TransportAddress peer in peers)
            {
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            }
        });

    private static byte[] ChannelBind(ushort channel, TransportAddress peer) =>
        Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(channel);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        });

    private Allocation Allocation()
    {
        Assert.True(_engine.Allocations.TryGet(Client, out Allocation allocation));
        return allocation;
    }

    /// <summary>Checklist 81 via §10.2: CreatePermission without an allocation is 437.</summary>
    [Fact]
    public void Rfc8656_S10_2_create_permission_without_allocation_is_437()
    {
        Assert.Equal(StunErrorCode.AllocationMismatch, _engine.Send(CreatePermission(Peer))!.ErrorCode);
    }

    /// <summary>Checklist 88, 91, 95, RFC 8656 §9, §10.2: several peers at once, keyed on IP only.</summary>
    [Fact]
    public void Rfc8656_S10_2_installs_permissions_for_every_peer_ip()
    {
        _engine.AllocateOk();
        Answer answer = _engine.Send(CreatePermission(Peer, OtherPeer))!;
        Assert.Equal(StunClass.SuccessResponse, answer.Class);
        Assert.True(answer.VerifyIntegrity(TestAuthenticator.Key("alice", "alice-pass")));
        long now = _engine.Time.GetTimestamp();
        Assert.True(Allocation().HasPermission(Peer.WithPort(1), now));
        Assert.True(Allocation().HasPermission(OtherPeer, now));
        Assert.False(Allocation().HasPermission(Address("1.2.3.5", 5000), now));
        Assert.Equal(2, Allocation().PermissionCount);
    }

    /// <summary>Checklist 91: CreatePermission with no XOR-PEER-ADDRESS, or a malformed one, is 400.</summary>
    [Fact]
    public void Rfc8656_S10_2_missing_or_malformed_peer_is_400()
    {
        _engine.AllocateOk();
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Request(StunMethod.CreatePermission))!.ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddAttribute(StunAttributeType.XorPeerAddress, [0, 1, 0, 80, 1, 2, 3])))!.ErrorCode);
    }

    /// <summary>Checklist 92, RFC 8656 §10.2: a peer of the other family than the relayed address is 443.</summary>
    [Fact]
    public void Rfc8656_S10_2_peer_family_mismatch_is_443()
    {
        _engine.AllocateOk();
        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, _engine.Send(CreatePermission(Address("2a00:1450::1", 443)))!.ErrorCode);
    }

    /// <summary>
    /// Checklist 93, 98, RFC 8656 §10.2, §21.2.2: a peer the address policy refuses gets 403, and no permission from
    /// the same request is installed, not even for the good peer listed first.
    /// </summary>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("169.254.169.254")]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    public void Rfc8656_S10_2_forbidden_peer_is_403_and_nothing_is_installed(string ip)
    {
        _engine.AllocateOk();
        Answer answer = _engine.Send(CreatePermission(Peer, Address(ip, 9)))!;
        Assert.Equal(StunErrorCode.Forbidden, answer.ErrorCode);
        Assert.Equal(0, Allocation().PermissionCount);
        Assert.Equal(1, _engine.Counters.PeersRefused);
    }

    /// <summary>An operator can allow loopback peers; the policy is the engine's, not hard-coded.</summary>
    [Fact]
    public void Loopback_peers_are_allowed_when_the_policy_says_so()
    {
        var engine = new EngineHarness(policy: new PeerAddressPolicy(new PeerAddressPolicyOptions { AllowLoopbackPeers = true }));
        engine.AllocateOk();
        Assert.Equal(StunClass.SuccessResponse, engine.Send(CreatePermission(Address("127.0.0.1", 9)))!.Class);
    }

    /// <summary>Checklist 94, RFC 8656 §10.2: beyond the per-allocation limit, 508 (and nothing installed).</summary>
    [Fact]
    public void Rfc8656_S10_2_permission_capacity_is_508()
    {
        var engine = new EngineHarness(new TurnEngineOptions { MaxPermissionsPerAllocation = 2 });
        engine.AllocateOk();
        Assert.Equal(StunClass.SuccessResponse, engine.Send(CreatePermission(Peer))!.Class);
        Assert.Equal(StunErrorCode.InsufficientCapacity, engine.Send(CreatePermission(OtherPeer, Address("9.9.9.9", 1)))!.ErrorCode);
        Assert.True(engine.Allocations.TryGet(Client, out Allocation allocation));
        Assert.Equal(1, allocation.PermissionCount);
        Assert.Equal(StunClass.SuccessResponse, engine.Send(CreatePermission(Peer, OtherPeer))!.Class);
    }

    /// <summary>Checklist 89, RFC 8656 §9: a permission lasts 300 s and each CreatePermission resets it.</summary>
    [Fact]
    public void Rfc8656_S9_permission_lasts_300_seconds_and_is_refreshed()
    {
        _engine.AllocateOk();
        _engine.Send(CreatePermission(Peer));
        _engine.Advance(299);
        Assert.True(Allocation().HasPermission(Peer, _engine.Time.GetTimestamp()));
        _engine.Send(CreatePermission(Peer));
        _engine.Advance(299);
        Assert.True(Allocation().HasPermission(Peer, _engine.Time.GetTimestamp()));
        _engine.Advance(1);
        Assert.False(Allocation().HasPermission(Peer, _engine.Time.GetTimestamp()));
    }

    /// <summary>Checklist 96, 107, 110, RFC 8656 §12.2: ChannelBind binds for 10 minutes and installs the permission.</summary>
    [Fact]
    public void Rfc8656_S12_2_channel_bind_binds_and_installs_permission()
    {
        _engine.AllocateOk();
        Answer answer = _engine.Send(ChannelBind(0x4000, Peer))!;
        Assert.Equal(StunClass.SuccessResponse, answer.Class);
        long now = _engine.Time.GetTimestamp();
        Assert.True(Allocation().TryGetChannel(0x4000, now, out ChannelBinding channel));
        Assert.Equal(Peer, channel.Peer);
        Assert.True(Allocation().HasPermission(Peer, now));
        _engine.Advance(599);
        Assert.True(Allocation().TryGetChannel(0x4000, _engine.Time.GetTimestamp(), out _));
        _engine.Advance(1);
        Assert.False(Allocation().TryGetChannel(0x4000, _engine.Time.GetTimestamp(), out _));
    }

    /// <summary>Checklist 107, 111: the number must be 0x4000-0x4FFF; missing attributes are 400.</summary>
    [Theory]
    [InlineData(0x3FFF)]
    [InlineData(0x5000)]
    [InlineData(0x7FFF)]
    [InlineData(0xFFFF)]
    public void Rfc8656_S12_2_channel_number_out_of_range_is_400(int channel)
    {
        _engine.AllocateOk();
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(ChannelBind((ushort)channel, Peer))!.ErrorCode);
    }

    [Fact]
    public void Rfc8656_S12_2_channel_bind_without_number_or_peer_is_400()
    {
        _engine.AllocateOk();
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) => w.AddChannelNumber(0x4001)))!.ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)))!.ErrorCode);
    }

    /// <summary>Checklist 108, RFC 8656 §12.2: rebinding the same pair refreshes; a number or peer bound elsewhere is 400.</summary>
    [Fact]
    public void Rfc8656_S12_2_rebinding_rules()
    {
        _engine.AllocateOk();
        _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(3600)));
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(ChannelBind(0x4000, Peer))!.Class);
        _engine.Advance(500);
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(ChannelBind(0x4000, Peer))!.Class);
        _engine.Advance(500);
        Assert.True(Allocation().TryGetChannel(0x4000, _engine.Time.GetTimestamp(), out _));

        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(ChannelBind(0x4000, OtherPeer))!.ErrorCode);
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(ChannelBind(0x4001, Peer))!.ErrorCode);
        // Channels are per transport address: the same IP on another port may have its own channel.
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(ChannelBind(0x4001, Peer.WithPort(5001)))!.Class);
    }

    /// <summary>Checklist 109: 443 for the other family, 403 for a forbidden peer, 508 beyond the channel limit.</summary>
    [Fact]
    public void Rfc8656_S12_2_family_policy_and_capacity()
    {
        var engine = new EngineHarness(new TurnEngineOptions { MaxChannelsPerAllocation = 1 });
        engine.AllocateOk();
        Assert.Equal(StunErrorCode.PeerAddressFamilyMismatch, engine.Send(ChannelBind(0x4000, Address("2a00:1450::1", 1)))!.ErrorCode);
        Assert.Equal(StunErrorCode.Forbidden, engine.Send(ChannelBind(0x4000, Address("192.168.1.1", 1)))!.ErrorCode);
        Assert.Equal(StunClass.SuccessResponse, engine.Send(ChannelBind(0x4000, Peer))!.Class);
        Assert.Equal(StunErrorCode.InsufficientCapacity, engine.Send(ChannelBind(0x4001, OtherPeer))!.ErrorCode);
    }

    /// <summary>
    /// Checklist 96, RFC 8656 §9, §12.2: CreatePermission and ChannelBind install and refresh the same permission (keyed
    /// on the peer's IP), whichever of the two came first.
    /// </summary>
    [Fact]
    public void Rfc8656_S9_create_permission_and_channel_bind_refresh_the_same_permission()
    {
        _engine.AllocateOk();
        _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(3600)));
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(CreatePermission(Peer))!.Class);
        _engine.Advance(200);
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(ChannelBind(0x4000, Peer.WithPort(5001)))!.Class);
        _engine.Advance(200);
        Assert.True(Allocation().HasPermission(Peer, _engine.Time.GetTimestamp()), "ChannelBind refreshed the permission CreatePermission made");
        Assert.Equal(1, Allocation().PermissionCount);

        Assert.Equal(StunClass.SuccessResponse, _engine.Send(CreatePermission(Peer))!.Class);
        _engine.Advance(250);
        long now = _engine.Time.GetTimestamp();
        Assert.True(Allocation().HasPermission(Peer, now), "CreatePermission refreshed the permission ChannelBind made");
        Assert.True(Allocation().TryGetChannel(0x4000, now, out _));
        _engine.Advance(50);
        Assert.False(Allocation().HasPermission(Peer, _engine.Time.GetTimestamp()));
    }

    /// <summary>
    /// Checklist 112, RFC 8656 §12, §12.2: an expired channel is unbound: ChannelData on it goes nowhere, and once the
    /// server's once-a-second sweep has run, its number and its peer can each be bound anew (waiting before reuse is the
    /// client's rule, not the server's).
    /// </summary>
    [Fact]
    public void Rfc8656_S12_an_expired_channel_is_unbound()
    {
        _engine.AllocateOk();
        _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(3600)));
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(ChannelBind(0x4000, Peer))!.Class);
        _engine.Advance(600);
        long now = _engine.Time.GetTimestamp();
        Assert.False(Allocation().TryGetChannel(0x4000, now, out _));
        _engine.Send([0x40, 0x00, 0x00, 0x01, 7]);
        Assert.Empty(Assert.Single(_engine.Ports.Endpoints).Sent);
        Assert.Equal(1, _engine.Counters.Dropped(DropReason.NoChannel));

        _engine.Allocations.Sweep(now);
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(ChannelBind(0x4000, OtherPeer))!.Class);
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(ChannelBind(0x4001, Peer))!.Class);
        now = _engine.Time.GetTimestamp();
        Assert.True(Allocation().TryGetChannel(0x4000, now, out ChannelBinding renumbered));
        Assert.Equal(OtherPeer, renumbered.Peer);
        Assert.True(Allocation().TryGetChannel(0x4001, now, out ChannelBinding moved));
        Assert.Equal(Peer, moved.Peer);
    }

    /// <summary>
    /// Checklist 131, RFC 8656 §21.2.1: permissions come only from authenticated requests: a CreatePermission or
    /// ChannelBind without credentials, or with a wrong password, is refused (401) and installs nothing, so the peer
    /// still cannot reach the client.
    /// </summary>
    [Fact]
    public void Rfc8656_S21_2_1_only_authenticated_requests_create_permissions()
    {
        _engine.AllocateOk();
        byte[][] forged =
        [
            Request(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer), user: null),
            Request(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer), password: "guess"),
            Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4000);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
            }, user: null),
            Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4000);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
            }, password: "guess"),
        ];

        foreach (byte[] request in forged)
        {
            Answer answer = _engine.Send(request)!;
            Assert.Equal(StunErrorCode.Unauthenticated, answer.ErrorCode);
            Assert.False(answer.HasMessageIntegrity);
        }

        long now = _engine.Time.GetTimestamp();
        Assert.Equal(0, Allocation().PermissionCount);
        Assert.False(Allocation().TryGetChannel(0x4000, now, out _));
        Assert.Null(Assert.Single(_engine.Ports.Endpoints).FromPeer(Peer, [1, 2, 3]));
    }

    /// <summary>RFC 8656 §5: ChannelBind by another user than the allocation's owner is 441.</summary>
    [Fact]
    public void Rfc8656_S5_other_username_gets_441()
    {
        _engine.AllocateOk();
        Assert.Equal(StunErrorCode.WrongCredentials, _engine.Send(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(0x4000);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
        }, user: "bob"))!.ErrorCode);
    }
}
