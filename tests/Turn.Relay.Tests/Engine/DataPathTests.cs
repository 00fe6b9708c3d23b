using Turn.Relay.Allocations;
using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>RFC 8656 §11 (checklist section H) and §12.4-§12.6 (section I): data both ways.</summary>
public class DataPathTests
{
    private readonly EngineHarness _engine = new();

    private static byte[] SendIndication(TransportAddress peer, byte[] data, bool withData = true) =>
        Request(StunMethod.Send, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            if (withData)
            {
                w.AddAttribute(StunAttributeType.Data, data);
            }
        }, user: null, cls: StunClass.Indication);

    private static byte[] ChannelDataMessage(ushort channel, byte[] data)
    {
        byte[] message = new byte[ChannelData.HeaderLength + data.Length];
        ChannelData.WriteHeader(message, channel, data.Length);
        data.CopyTo(message, ChannelData.HeaderLength);
        return message;
    }

    private FakeRelayEndpoint Relay => Assert.Single(_engine.Ports.Endpoints);

    private void Permit(TransportAddress peer) =>
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer)))!.Class);

    private void Bind(ushort channel, TransportAddress peer) =>
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(channel);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        }))!.Class);

    /// <summary>Checklist 16, 52, 101, 103, RFC 8656 §11.2: with a permission, DATA goes to XOR-PEER-ADDRESS; never answered.</summary>
    [Fact]
    public void Rfc8656_S11_2_send_indication_relays_with_permission_only()
    {
        _engine.AllocateOk();
        Assert.Null(_engine.Send(SendIndication(Peer, [1, 2, 3])));
        Assert.Empty(Relay.Sent);
        Assert.Equal(1, _engine.Counters.Dropped(DropReason.NoPermission));

        Permit(Peer);
        Assert.Null(_engine.Send(SendIndication(Peer.WithPort(7777), [4, 5, 6, 7, 8])));
        var (payload, to) = Assert.Single(Relay.Sent);
        Assert.Equal(new byte[] { 4, 5, 6, 7, 8 }, payload);
        Assert.Equal(Peer.WithPort(7777), to);
    }

    /// <summary>Checklist 100, RFC 8656 §11.2, §14: DONT-FRAGMENT in a Send indication sets DF on that datagram only.</summary>
    [Fact]
    public void Rfc8656_S11_2_dont_fragment_in_send_sets_df_for_that_datagram()
    {
        _engine.AllocateOk();
        Permit(Peer);
        _engine.Send(Request(StunMethod.Send, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
            w.AddAttribute(StunAttributeType.Data, [1]);
            w.AddAttribute(StunAttributeType.DontFragment, []);
        }, user: null, cls: StunClass.Indication));
        _engine.Send(SendIndication(Peer, [2]));
        Assert.Equal([true, false], Relay.SentWithDontFragment);
    }

    /// <summary>Checklist 99, RFC 8656 §11.2: a Send without DATA or XOR-PEER-ADDRESS is discarded; empty DATA is fine.</summary>
    [Fact]
    public void Rfc8656_S11_2_send_needs_peer_and_data()
    {
        _engine.AllocateOk();
        Permit(Peer);
        _engine.Send(SendIndication(Peer, [], withData: false));
        Assert.Empty(Relay.Sent);
        _engine.Send(SendIndication(Peer, []));
        Assert.Empty(Assert.Single(Relay.Sent).Payload);
    }

    /// <summary>Checklist 101: a Send indication never creates or refreshes a permission.</summary>
    [Fact]
    public void Rfc8656_S11_2_send_does_not_refresh_the_permission()
    {
        _engine.AllocateOk();
        Permit(Peer);
        _engine.Advance(200);
        _engine.Send(SendIndication(Peer, [1]));
        _engine.Advance(100);
        _engine.Send(SendIndication(Peer, [2]));
        Assert.Single(Relay.Sent);
    }

    /// <summary>Checklist 55: Send and ChannelData on a 5-tuple without an allocation are silently ignored.</summary>
    [Fact]
    public void Rfc8656_S5_data_without_allocation_is_ignored()
    {
        Assert.Null(_engine.Send(SendIndication(Peer, [1])));
        Assert.Null(_engine.Send(ChannelDataMessage(0x4000, [1])));
        Assert.Equal(2, _engine.Counters.Dropped(DropReason.NoAllocation));
    }

    /// <summary>Checklist 113, 117-119, RFC 8656 §12.6: ChannelData on a bound channel goes to its peer; unbound is dropped.</summary>
    [Fact]
    public void Rfc8656_S12_6_channel_data_to_peer()
    {
        _engine.AllocateOk();
        Bind(0x4001, Peer);
        _engine.Send(ChannelDataMessage(0x4002, [9]));
        Assert.Empty(Relay.Sent);
        _engine.Send(ChannelDataMessage(0x4001, [9, 8, 7]));
        _engine.Send(ChannelDataMessage(0x4001, []));
        Assert.Equal(2, Relay.Sent.Count);
        Assert.Equal(new byte[] { 9, 8, 7 }, Relay.Sent[0].Payload);
        Assert.Equal(Peer, Relay.Sent[0].Peer);
        Assert.Empty(Relay.Sent[1].Payload);
        Assert.Equal(1, _engine.Counters.Dropped(DropReason.NoChannel));
    }

    /// <summary>
    /// Checklist 115, RFC 8656 §12, §12.6, RFC 7983: the first byte decides: with channel 0x4000 bound, the same 8 bytes
    /// are relayed only when they start with 0x40; other channels (0x41-0x4F) are unbound, the reserved range (0x50-0x7F)
    /// and bytes of no protocol (0x04-0x3F, 0x80-0xFF) are dropped, and 0-3 is STUN (malformed here); nothing is answered.
    /// </summary>
    [Fact]
    public void Rfc8656_S12_the_first_byte_decides_between_stun_channel_data_and_nothing()
    {
        _engine.AllocateOk();
        Bind(0x4000, Peer);
        for (int first = 0; first <= 0xFF; first++)
        {
            Assert.Null(_engine.Send([(byte)first, 0x00, 0x00, 0x04, 1, 2, 3, 4]));
        }

        var (payload, to) = Assert.Single(Relay.Sent);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, payload);
        Assert.Equal(Peer, to);
        Assert.Equal(15, _engine.Counters.Dropped(DropReason.NoChannel));
        Assert.Equal(4, _engine.Counters.Dropped(DropReason.Malformed));
        Assert.Equal(256 - 4 - 16, _engine.Counters.Dropped(DropReason.NotStunOrChannelData));
    }

    /// <summary>Checklist 116: a ChannelData datagram shorter than its length is dropped; padding after it is fine.</summary>
    [Fact]
    public void Rfc8656_S12_6_short_channel_data_is_dropped_and_padding_ignored()
    {
        _engine.AllocateOk();
        Bind(0x4001, Peer);
        byte[] truncated = ChannelDataMessage(0x4001, [1, 2, 3, 4]);
        _engine.Send(truncated[..^1]);
        Assert.Empty(Relay.Sent);
        byte[] padded = [.. ChannelDataMessage(0x4001, [1, 2, 3]), 0];
        _engine.Send(padded);
        Assert.Equal(new byte[] { 1, 2, 3 }, Assert.Single(Relay.Sent).Payload);
    }

    /// <summary>
    /// Checklist 96, 118, RFC 8656 §12.6, §9: ChannelData refreshes neither channel nor permission; with the permission
    /// expired (300 s) the channel (600 s) carries nothing until a ChannelBind refreshes both.
    /// </summary>
    [Fact]
    public void Rfc8656_S12_6_channel_data_needs_a_live_permission()
    {
        _engine.AllocateOk();
        Bind(0x4001, Peer);
        _engine.Advance(301);
        _engine.Send(ChannelDataMessage(0x4001, [1]));
        Assert.Empty(Relay.Sent);
        Bind(0x4001, Peer);
        _engine.Send(ChannelDataMessage(0x4001, [2]));
        Assert.Single(Relay.Sent);
    }

    /// <summary>Checklist 90, 132, RFC 8656 §9, §11.3: a peer datagram without a permission is discarded.</summary>
    [Fact]
    public void Rfc8656_S11_3_peer_data_without_permission_is_dropped()
    {
        _engine.AllocateOk();
        Assert.Null(Relay.FromPeer(Peer, [1, 2, 3]));
        Permit(OtherPeer);
        Assert.Null(Relay.FromPeer(Peer, [1, 2, 3]));
    }

    /// <summary>Checklist 104, RFC 8656 §11.3: with a permission and no channel, a Data indication with XOR-PEER-ADDRESS and DATA.</summary>
    [Fact]
    public void Rfc8656_S11_3_peer_data_becomes_a_data_indication()
    {
        _engine.AllocateOk();
        Permit(Peer);
        byte[] payload = [10, 20, 30, 40, 50];
        byte[]? message = Relay.FromPeer(Peer.WithPort(4242), payload);
        Assert.NotNull(message);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(new StunMessageType(StunMethod.Data, StunClass.Indication), reader.Header.Type);
        Assert.True(reader.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute peer));
        Assert.True(XorAddressValue.TryRead(peer.Value, reader.Header.TransactionId, out TransportAddress from));
        Assert.Equal(Peer.WithPort(4242), from);
        Assert.True(reader.TryGetAttribute(StunAttributeType.Data, out StunAttribute data));
        Assert.Equal(payload, data.Value.ToArray());
        Assert.Equal(0, message.Length % 4);
    }

    /// <summary>
    /// Checklist 59, RFC 8489 §7, §14.7 (checklist 24): with --fingerprint a Data indication ends with a valid FINGERPRINT, whatever the
    /// payload's padding; without it there is none.
    /// </summary>
    [Theory]
    [InlineData(5)]
    [InlineData(8)]
    [InlineData(1203)]
    public void Rfc8489_S7_data_indications_carry_fingerprint_when_asked(int size)
    {
        byte[] payload = [.. Enumerable.Range(0, size).Select(i => (byte)i)];
        var engine = new EngineHarness(new TurnEngineOptions { FingerprintDataIndications = true });
        engine.AllocateOk();
        Assert.Equal(StunClass.SuccessResponse, engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)))!.Class);
        byte[]? message = Assert.Single(engine.Ports.Endpoints).FromPeer(Peer, payload);
        Assert.NotNull(message);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.HasFingerprint);
        Assert.True(reader.VerifyFingerprint());
        Assert.True(reader.TryGetAttribute(StunAttributeType.Data, out StunAttribute data));
        Assert.Equal(payload, data.Value.ToArray());

        _engine.AllocateOk();
        Permit(Peer);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(Relay.FromPeer(Peer, payload), out StunMessageReader plain));
        Assert.False(plain.HasFingerprint);
    }

    private static (TransportAddress Peer, byte Type, byte Code, uint ErrorData, bool HasData) ReadIcmpIndication(ReadOnlySpan<byte> message)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(new StunMessageType(StunMethod.Data, StunClass.Indication), reader.Header.Type);
        Assert.True(reader.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute peer));
        Assert.True(XorAddressValue.TryRead(peer.Value, reader.Header.TransactionId, out TransportAddress from));
        Assert.True(reader.TryGetAttribute(StunAttributeType.Icmp, out StunAttribute icmp));
        Assert.True(IcmpValue.TryRead(icmp.Value, out byte type, out byte code, out uint errorData));
        return (from, type, code, errorData, reader.TryGetAttribute(StunAttributeType.Data, out _));
    }

    /// <summary>
    /// Checklist 105, 106, RFC 8656 §11.5, §12.5, §18.13: ICMPv4 3 and 11 and ICMPv6 1, 2 and 3 about a permitted peer
    /// become a Data indication with XOR-PEER-ADDRESS and ICMP (MTU as error data for "fragmentation needed" and
    /// "packet too big", else 0), even on a bound channel; other types, and peers without a permission, are dropped.
    /// </summary>
    [Fact]
    public void Rfc8656_S11_5_icmp_errors_become_data_indications_for_permitted_peers_only()
    {
        _engine.AllocateOk();
        Bind(0x4100, Peer);
        Allocation allocation = Relay.Allocation!;
        byte[] buffer = new byte[PeerDataFraming.IcmpIndicationLength];

        int length = _engine.Processor.HandlePeerIcmp(allocation, Peer, false, 3, 4, 1400, buffer);
        Assert.True(length > 0);
        var report = ReadIcmpIndication(buffer.AsSpan(0, length));
        Assert.Equal((Peer, (byte)3, (byte)4, 1400u, false), report);

        length = _engine.Processor.HandlePeerIcmp(allocation, Peer, false, 11, 0, 99, buffer);
        Assert.Equal((Peer, (byte)11, (byte)0, 0u, false), ReadIcmpIndication(buffer.AsSpan(0, length)));

        // Port unreachable (3/3) carries no MTU even when the kernel reports a number.
        length = _engine.Processor.HandlePeerIcmp(allocation, Peer, false, 3, 3, 7, buffer);
        Assert.Equal(0u, ReadIcmpIndication(buffer.AsSpan(0, length)).ErrorData);

        // ICMPv4 types outside 3 and 11 (e.g. 12 parameter problem, 5 redirect) are not relayed.
        Assert.Equal(0, _engine.Processor.HandlePeerIcmp(allocation, Peer, false, 12, 0, 0, buffer));
        Assert.Equal(0, _engine.Processor.HandlePeerIcmp(allocation, Peer, false, 5, 1, 0, buffer));
        // ICMPv6: 1, 2 and 3 only; 2 (packet too big) carries the MTU.
        Assert.Equal(0, _engine.Processor.HandlePeerIcmp(allocation, Peer, true, 4, 0, 0, buffer));

        // No permission for the peer: dropped.
        Assert.Equal(0, _engine.Processor.HandlePeerIcmp(allocation, OtherPeer, false, 3, 3, 0, buffer));
        Assert.Equal(3, _engine.Counters.IcmpRelayed);
        Assert.Equal(4, _engine.Counters.IcmpDropped);
    }

    /// <summary>Checklist 105: ICMPv6 Packet Too Big (type 2) about an IPv6 peer carries the MTU as error data.</summary>
    [Fact]
    public void Rfc8656_S18_13_icmpv6_packet_too_big_carries_the_mtu()
    {
        var engine = new EngineHarness(null, null, StunAddressFamily.IPv6);
        TransportAddress peer6 = Address("2606:4700::1111", 9);
        Assert.Equal(StunClass.SuccessResponse, engine.Send(Allocate((ref StunMessageWriter w) =>
            w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, StunAddressFamily.IPv6)))!.Class);
        Assert.Equal(StunClass.SuccessResponse, engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer6)))!.Class);
        Allocation allocation = Assert.Single(engine.Ports.Endpoints).Allocation!;
        byte[] buffer = new byte[PeerDataFraming.IcmpIndicationLength];
        int length = engine.Processor.HandlePeerIcmp(allocation, peer6, true, 2, 0, 1280, buffer);
        Assert.Equal((peer6, (byte)2, (byte)0, 1280u, false), ReadIcmpIndication(buffer.AsSpan(0, length)));
    }

    /// <summary>Checklist 113, 120, RFC 8656 §12.5: with a channel bound to the peer, ChannelData goes to the client.</summary>
    [Fact]
    public void Rfc8656_S12_5_peer_data_uses_the_channel()
    {
        _engine.AllocateOk();
        Bind(0x4ABC, Peer);
        byte[]? message = Relay.FromPeer(Peer, [1, 2, 3, 4, 5]);
        Assert.Equal(new byte[] { 0x4A, 0xBC, 0x00, 0x05, 1, 2, 3, 4, 5 }, message);

        // From the same IP on another port there is a permission but no channel: a Data indication.
        byte[]? other = Relay.FromPeer(Peer.WithPort(1), [7]);
        Assert.Equal(0x00, other![0]);
    }

    /// <summary>Checklist 114, RFC 8656 §12.5: over TCP/TLS ChannelData to the client is padded to a multiple of 4.</summary>
    [Fact]
    public void Rfc8656_S12_5_channel_data_is_padded_on_streams()
    {
        FiveTuple tcp = Client with { Protocol = TransportProtocol.Tcp };
        _engine.AllocateOk(tcp);
        _engine.Send(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(0x4000);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
        }), tcp);
        byte[]? message = Assert.Single(_engine.Ports.Endpoints).FromPeer(Peer, [1, 2, 3, 4, 5]);
        Assert.Equal(new byte[] { 0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0 }, message);
    }

    /// <summary>Checklist 80: once the allocation expires, nothing more is relayed either way.</summary>
    [Fact]
    public void Rfc8656_S6_nothing_is_relayed_after_expiry()
    {
        _engine.AllocateOk();
        Bind(0x4000, Peer);
        _engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(600)));
        _engine.Advance(601);
        _engine.Send(ChannelDataMessage(0x4000, [1]));
        Assert.Empty(Relay.Sent);
        Assert.Null(Relay.FromPeer(Peer, [1]));
    }
}
