using Turn.Relay.Allocations;
using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>
/// RFC 6062 in the engine, over fakes and a fake clock: the deferred Connect answer, the 30 s a peer connection waits
/// for its ConnectionBind, ConnectionAttempt for peers with a permission only, the per-allocation connection limit, and
/// connections closed with their allocation (checklist section N).
/// </summary>
public class TcpRelayTests
{
    private static readonly FiveTuple Control = new(Address("198.51.100.10", 40000), Address("198.51.100.1", 3478), TransportProtocol.Tcp);
    private static readonly FiveTuple DataTuple = new(Address("198.51.100.10", 40001), Address("198.51.100.1", 3478), TransportProtocol.Tcp);

    private readonly EngineHarness _engine = new(new TurnEngineOptions { MaxTcpConnectionsPerAllocation = 2 });

    private FakeTcpRelayEndpoint AllocateTcp()
    {
        Answer answer = _engine.Send(Request(StunMethod.Allocate, (ref StunMessageWriter w) =>
            w.AddRequestedTransport(RequestedTransportValue.Tcp)), Control)!;
        Assert.Equal(StunClass.SuccessResponse, answer.Class);
        return Assert.Single(_engine.Ports.TcpEndpoints);
    }

    private byte[]? Connect(TransportAddress peer) =>
        _engine.Send(Request(StunMethod.Connect, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peer)), Control)?.Bytes;

    private static uint ConnectionId(byte[] message)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute(StunAttributeType.ConnectionId, out StunAttribute id));
        Assert.True(UInt32Value.TryRead(id.Value, out uint value));
        return value;
    }

    private Answer Bind(uint id, FakeDataConnection data, string user = "alice") =>
        _engine.Send(Request(StunMethod.ConnectionBind, (ref StunMessageWriter w) => w.AddConnectionId(id), user), DataTuple, data)!;

    /// <summary>Checklist 145, 146: Connect is answered when the connection is made, with CONNECTION-ID; a failure is 447.</summary>
    [Fact]
    public void Rfc6062_S5_2_connect_answer_comes_when_the_connection_is_made()
    {
        FakeTcpRelayEndpoint relay = AllocateTcp();
        Assert.Null(Connect(Peer));
        var success = new Answer(Assert.Single(_engine.Transport.Sent));
        Assert.Equal(new StunMessageType(StunMethod.Connect, StunClass.SuccessResponse), new StunMessageType(success.Method, success.Class));
        Assert.True(success.HasMessageIntegrity);
        Assert.NotEqual(0u, ConnectionId(success.Bytes));

        relay.ConnectSucceeds = false;
        Assert.Null(Connect(OtherPeer));
        Assert.Equal(StunErrorCode.ConnectionTimeoutOrFailure, new Answer(_engine.Transport.Sent[^1]).ErrorCode);

        // The failed peer is free again; the connected one is 446 while its connection lives.
        Assert.Equal(StunErrorCode.ConnectionAlreadyExists, new Answer(Connect(Peer)!).ErrorCode);
        relay.Connected[0].Dispose();
        relay.ConnectSucceeds = true;
        Assert.Null(Connect(Peer));
    }

    /// <summary>
    /// Checklist 144, RFC 6062 §5.2, RFC 8656 §21.2.2: with the default peer policy a Connect to loopback or to the cloud
    /// metadata address gets 403 before any connection is attempted.
    /// </summary>
    [Fact]
    public void Rfc6062_S5_2_connect_to_forbidden_peers_is_403_without_an_attempt()
    {
        FakeTcpRelayEndpoint relay = AllocateTcp();
        foreach (TransportAddress forbidden in new[] { Address("127.0.0.1", 80), Address("169.254.169.254", 80), Address("10.0.0.1", 22) })
        {
            Assert.Equal(StunErrorCode.Forbidden, new Answer(Connect(forbidden)!).ErrorCode);
        }

        Assert.Empty(relay.Connected);
    }

    /// <summary>Checklist 146, 147: a peer connection nobody binds within 30 s is closed; one bound in time is not.</summary>
    [Fact]
    public void Rfc6062_S5_2_unbound_peer_connection_closes_after_30_seconds()
    {
        FakeTcpRelayEndpoint relay = AllocateTcp();
        Connect(Peer);
        uint id = ConnectionId(_engine.Transport.Sent[^1]);
        _engine.Advance(29);
        Assert.Equal(0, _engine.Processor.SweepPendingTcpConnections(_engine.Time.GetTimestamp()));
        Assert.False(relay.Connected[0].IsClosed);
        _engine.Advance(2);
        Assert.Equal(1, _engine.Processor.SweepPendingTcpConnections(_engine.Time.GetTimestamp()));
        Assert.True(relay.Connected[0].IsClosed);
        Assert.Equal(StunErrorCode.BadRequest, Bind(id, new FakeDataConnection()).ErrorCode);
    }

    /// <summary>Checklist 132, 147, 149, 151: ConnectionAttempt for permitted peers only; ConnectionBind needs the control connection's user; all close with the allocation.</summary>
    [Fact]
    public void Rfc6062_S5_3_incoming_peers_need_a_permission_and_bind_with_the_same_user()
    {
        FakeTcpRelayEndpoint relay = AllocateTcp();
        FakeTcpPeerConnection stranger = relay.Incoming(Peer);
        Assert.True(stranger.IsClosed);
        Assert.Empty(_engine.Transport.Sent);

        Assert.Equal(StunClass.SuccessResponse, _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)), Control)!.Class);
        FakeTcpPeerConnection welcome = relay.Incoming(Peer.WithPort(7777));
        Assert.False(welcome.IsClosed);
        byte[] attempt = Assert.Single(_engine.Transport.Sent);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(attempt, out StunMessageReader reader));
        Assert.Equal(new StunMessageType(StunMethod.ConnectionAttempt, StunClass.Indication), reader.Header.Type);
        Assert.True(reader.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute from));
        Assert.True(XorAddressValue.TryRead(from.Value, reader.Header.TransactionId, out TransportAddress fromAddress));
        Assert.Equal(Peer.WithPort(7777), fromAddress);
        uint id = ConnectionId(attempt);

        var data = new FakeDataConnection();
        Assert.Equal(StunErrorCode.WrongCredentials, Bind(id, data, user: "bob").ErrorCode);
        Assert.Null(data.Bound);
        Assert.Equal(StunClass.SuccessResponse, Bind(id, data).Class);
        Assert.Same(welcome, data.Bound);

        // A connection that holds an allocation (the control connection) cannot be bound.
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Request(StunMethod.ConnectionBind, (ref StunMessageWriter w) => w.AddConnectionId(id)),
            Control, new FakeDataConnection())!.ErrorCode);

        Assert.True(_engine.Allocations.Remove(Assert.Single(_engine.Allocations.Live), AllocationEndReason.ClientDeleted));
        Assert.True(welcome.IsClosed);
        Assert.True(relay.Disposed);
    }

    /// <summary>The per-allocation limit on peer connections: a Connect beyond it is 508, an incoming peer is closed.</summary>
    [Fact]
    public void Rfc6062_connections_per_allocation_are_limited()
    {
        FakeTcpRelayEndpoint relay = AllocateTcp();
        Connect(Peer);
        Connect(OtherPeer);
        Assert.Equal(StunErrorCode.InsufficientCapacity, new Answer(Connect(Address("9.9.9.9", 1))!).ErrorCode);
        _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)), Control);
        Assert.True(relay.Incoming(Peer.WithPort(1)).IsClosed);
        Assert.Equal(2, relay.Connected.Count);
    }

    /// <summary>Checklist 136, 137: TCP over UDP is 400; Send indications on a TCP allocation relay nothing.</summary>
    [Fact]
    public void Rfc6062_S5_1_tcp_allocation_needs_a_stream_and_takes_no_send_indications()
    {
        Assert.Equal(StunErrorCode.BadRequest, _engine.Send(Request(StunMethod.Allocate, (ref StunMessageWriter w) =>
            w.AddRequestedTransport(RequestedTransportValue.Tcp)))!.ErrorCode);
        AllocateTcp();
        _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)), Control);
        _engine.Send(Request(StunMethod.Send, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
            w.AddAttribute(StunAttributeType.Data, [1]);
        }, user: null, cls: StunClass.Indication), Control);
        Assert.Equal(1, _engine.Counters.Dropped(DropReason.NoRelayForFamily));
    }
}
