using System.Net;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Relay.Tests.Engine;

/// <summary>A relay endpoint that records what the engine sends to peers.</summary>
internal sealed class FakeRelayEndpoint(TransportAddress address) : IRelayEndpoint
{
    public TransportAddress LocalAddress { get; } = address;

    public List<(byte[] Payload, TransportAddress Peer)> Sent { get; } = [];

    /// <summary>Whether each sent datagram asked for DF on its own (a Send indication's DONT-FRAGMENT).</summary>
    public List<bool> SentWithDontFragment { get; } = [];

    public bool Disposed { get; private set; }

    public bool DontFragment { get; private set; }

    public Allocation? Allocation { get; private set; }

    public IPeerDataHandler? Handler { get; private set; }

    public void SendToPeer(ReadOnlySpan<byte> payload, in TransportAddress peer, bool dontFragment = false)
    {
        Sent.Add((payload.ToArray(), peer));
        SentWithDontFragment.Add(dontFragment);
    }

    public void SetDontFragment(bool enabled) => DontFragment = enabled;

    public void Attach(Allocation allocation, IPeerDataHandler handler)
    {
        Allocation = allocation;
        Handler = handler;
    }

    public void Dispose() => Disposed = true;

    /// <summary>Delivers a datagram from a peer as a relay socket would, returning what goes to the client (or null).</summary>
    public byte[]? FromPeer(TransportAddress peer, byte[] payload)
    {
        byte[] buffer = new byte[PeerDataFraming.Headroom + payload.Length + PeerDataFraming.Tailroom];
        payload.CopyTo(buffer, PeerDataFraming.Headroom);
        int length = Handler!.HandlePeerData(Allocation!, peer, buffer, payload.Length, out int start);
        return length == 0 ? null : buffer.AsSpan(start, length).ToArray();
    }
}

/// <summary>Hands out fake endpoints on 203.0.113.1 from port 50000 up, honouring EVEN-PORT and reservations.</summary>
internal sealed class FakePortAllocator : IRelayPortAllocator
{
    private readonly Dictionary<ulong, FakeRelayEndpoint> _reservations = [];
    private int _nextPort = 50000;
    private ulong _nextToken = 0x1122334455667700;

    public static readonly IPAddress RelayIp = IPAddress.Parse("203.0.113.1");

    public static readonly IPAddress RelayIp6 = IPAddress.Parse("2001:db8::1");

    public int Capacity { get; set; } = int.MaxValue;

    /// <summary>How many IPv6 endpoints can be had (IPv4 ones count against <see cref="Capacity"/>).</summary>
    public int Ipv6Capacity { get; set; } = int.MaxValue;

    /// <summary>The families relayed (IPv4 only unless a test says otherwise).</summary>
    public HashSet<StunAddressFamily> Families { get; } = [StunAddressFamily.IPv4];

    public List<FakeRelayEndpoint> Endpoints { get; } = [];

    public List<RelayPortRequest> Requests { get; } = [];

    public bool Supports(StunAddressFamily family) => Families.Contains(family);

    public bool SupportsTcp => true;

    public List<FakeTcpRelayEndpoint> TcpEndpoints { get; } = [];

    public ITcpRelayEndpoint? TryAllocateTcp(StunAddressFamily family)
    {
        if (!Families.Contains(family))
        {
            return null;
        }

        var endpoint = new FakeTcpRelayEndpoint(TransportAddress.FromIPAddress(family == StunAddressFamily.IPv6 ? RelayIp6 : RelayIp, _nextPort++));
        TcpEndpoints.Add(endpoint);
        return endpoint;
    }

    public RelayPortGrant? TryAllocate(RelayPortRequest request)
    {
        Requests.Add(request);
        if (!Families.Contains(request.Family))
        {
            return null;
        }

        if (request.Family == StunAddressFamily.IPv6)
        {
            if (Endpoints.Count(e => e.LocalAddress.Family == StunAddressFamily.IPv6) >= Ipv6Capacity)
            {
                return null;
            }

            var ipv6 = new FakeRelayEndpoint(TransportAddress.FromIPAddress(RelayIp6, _nextPort++));
            Endpoints.Add(ipv6);
            return new RelayPortGrant(ipv6, null);
        }

        if (Endpoints.Count >= Capacity)
        {
            return null;
        }

        if (request.EvenPort && (_nextPort & 1) != 0)
        {
            _nextPort++;
        }

        FakeRelayEndpoint endpoint = New(_nextPort++);
        ulong? token = null;
        if (request.ReserveNextPort)
        {
            token = ++_nextToken;
            _reservations[token.Value] = new FakeRelayEndpoint(TransportAddress.FromIPAddress(RelayIp, _nextPort++));
        }

        return new RelayPortGrant(endpoint, token);
    }

    public IRelayEndpoint? TryClaimReservation(ulong token)
    {
        if (!_reservations.Remove(token, out FakeRelayEndpoint? endpoint))
        {
            return null;
        }

        Endpoints.Add(endpoint);
        return endpoint;
    }

    private FakeRelayEndpoint New(int port)
    {
        var endpoint = new FakeRelayEndpoint(TransportAddress.FromIPAddress(RelayIp, port));
        Endpoints.Add(endpoint);
        return endpoint;
    }
}

/// <summary>Records what the engine sends to a client outside of responses (Data indications, ChannelData).</summary>
internal sealed class FakeClientTransport : IClientTransport
{
    public List<byte[]> Sent { get; } = [];

    public IClientSender CreateSender(in FiveTuple tuple) => new Sender(Sent);

    private sealed class Sender(List<byte[]> sent) : IClientSender
    {
        public void Send(ReadOnlySpan<byte> message) => sent.Add(message.ToArray());
    }
}

/// <summary>A TCP peer connection that only records being closed.</summary>
internal sealed class FakeTcpPeerConnection(TransportAddress peer) : ITcpPeerConnection
{
    public TransportAddress Peer { get; } = peer;

    public bool IsClosed { get; private set; }

    public void Dispose() => IsClosed = true;
}

/// <summary>A TCP relayed address whose connects succeed (or fail) at once and whose peers are handed in by the test.</summary>
internal sealed class FakeTcpRelayEndpoint(TransportAddress address) : ITcpRelayEndpoint
{
    public TransportAddress LocalAddress { get; } = address;

    public bool ConnectSucceeds { get; set; } = true;

    public List<FakeTcpPeerConnection> Connected { get; } = [];

    public Allocation? Allocation { get; private set; }

    public ITcpPeerConnectionHandler? Handler { get; private set; }

    public bool Disposed { get; private set; }

    public Task<ITcpPeerConnection?> ConnectAsync(TransportAddress peer, TimeSpan timeout)
    {
        if (!ConnectSucceeds)
        {
            return Task.FromResult<ITcpPeerConnection?>(null);
        }

        var connection = new FakeTcpPeerConnection(peer);
        Connected.Add(connection);
        return Task.FromResult<ITcpPeerConnection?>(connection);
    }

    public void StartAccepting(Allocation allocation, ITcpPeerConnectionHandler handler)
    {
        Allocation = allocation;
        Handler = handler;
    }

    /// <summary>A peer connects to the relayed address.</summary>
    public FakeTcpPeerConnection Incoming(TransportAddress peer)
    {
        var connection = new FakeTcpPeerConnection(peer);
        Handler!.HandleIncomingPeer(Allocation!, connection);
        return connection;
    }

    public void SendToPeer(ReadOnlySpan<byte> payload, in TransportAddress peer, bool dontFragment = false)
    {
    }

    public void SetDontFragment(bool enabled)
    {
    }

    public void Attach(Allocation allocation, IPeerDataHandler handler)
    {
    }

    public void Dispose() => Disposed = true;
}

/// <summary>A client connection that can become a data connection (RFC 6062 §5.4): records what it was bound to.</summary>
internal sealed class FakeDataConnection : IClientTransport, IDataConnectionTransport
{
    public List<byte[]> Sent { get; } = [];

    public ITcpPeerConnection? Bound { get; private set; }

    public IClientSender CreateSender(in FiveTuple tuple) => new FakeClientTransport().CreateSender(tuple);

    public bool TryBindPeer(ITcpPeerConnection peer, Allocation allocation)
    {
        if (Bound is not null)
        {
            return false;
        }

        Bound = peer;
        return true;
    }
}
