using System.Net;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Relay.Policy;
using Turn.Stun;

namespace Turn.Transports.Tests.Native;

/// <summary>
/// The real TURN engine over the given relay ports, with every request taken as authenticated (credentials have their
/// own tests in Turn.Relay.Tests) and loopback peers allowed. Its allocations are the real thing: only the engine can
/// make one.
/// </summary>
internal sealed class TestEngine
{
    public static readonly TransportAddress Server = TransportAddress.FromIPAddress(IPAddress.Loopback, 3478);

    public TestEngine(IRelayPortAllocator ports)
    {
        Processor = new StunMessageProcessor(new TurnEngineOptions(), Counters, TimeProvider.System, Allocations, ports,
            new PeerAddressPolicy(new PeerAddressPolicyOptions { AllowLoopbackPeers = true }), new OpenAuthenticator());
    }

    public delegate void Attributes(ref StunMessageWriter writer);

    public ServerCounters Counters { get; } = new();

    public AllocationTable Allocations { get; } = new();

    public StunMessageProcessor Processor { get; }

    public static FiveTuple Tuple(TransportAddress client) => new(client, Server, TransportProtocol.Udp);

    /// <summary>
    /// An allocation for a client that <paramref name="client"/> sends to, made by the engine; its relay endpoint does
    /// nothing, so a test can attach a relay socket of its own to it.
    /// </summary>
    public static Allocation CreateAllocation(IClientSender client, TransportAddress clientAddress)
    {
        var engine = new TestEngine(new DetachedRelayPorts());
        FiveTuple tuple = Tuple(clientAddress);
        engine.Allocate(tuple, client);
        return engine.AllocationOf(tuple);
    }

    public Allocation AllocationOf(in FiveTuple tuple)
    {
        Assert.True(Allocations.TryGet(tuple, out Allocation allocation), $"no allocation for {tuple}");
        return allocation;
    }

    /// <summary>RFC 8656 §7.2: Allocate (UDP); returns XOR-RELAYED-ADDRESS.</summary>
    public TransportAddress Allocate(in FiveTuple tuple, IClientSender client)
    {
        byte[] bytes = Succeed(StunMethod.Allocate, tuple, new FixedClientTransport(client),
            (ref StunMessageWriter w) => w.AddRequestedTransport(RequestedTransportValue.Udp));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(bytes, out StunMessageReader answer));
        Assert.True(answer.TryGetAttribute(StunAttributeType.XorRelayedAddress, out StunAttribute relayed));
        Assert.True(XorAddressValue.TryRead(relayed.Value, answer.Header.TransactionId, out TransportAddress address));
        return address;
    }

    /// <summary>RFC 8656 §10: CreatePermission for <paramref name="peer"/>'s IP.</summary>
    public void CreatePermission(in FiveTuple tuple, TransportAddress peer) =>
        _ = Succeed(StunMethod.CreatePermission, tuple, null, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peer));

    /// <summary>RFC 8656 §12.1: ChannelBind of <paramref name="number"/> to <paramref name="peer"/>.</summary>
    public void ChannelBind(in FiveTuple tuple, ushort number, TransportAddress peer) =>
        _ = Succeed(StunMethod.ChannelBind, tuple, null, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(number);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        });

    private byte[] Succeed(StunMethod method, in FiveTuple tuple, IClientTransport? transport, Attributes attributes)
    {
        byte[] request = new byte[512];
        var writer = new StunMessageWriter(request, new StunMessageType(method, StunClass.Request), TransactionId.NewRandom());
        attributes(ref writer);
        writer.AddFingerprint();
        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        int length = Processor.Process(request.AsSpan(0, writer.Length), tuple, transport, response);
        Assert.True(length > 0, $"{method}: no answer");
        byte[] answer = response[..length];
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
        Assert.Equal(StunClass.SuccessResponse, reader.Header.Class);
        return answer;
    }

    /// <summary>Takes every request as coming from one user.</summary>
    private sealed class OpenAuthenticator : ITurnAuthenticator
    {
        private static readonly byte[] Key = new byte[16];

        public AuthenticationStatus Authenticate(in StunMessageReader request, in FiveTuple tuple, out RequestKey key)
        {
            key = new RequestKey("test", Key, sha256: false);
            return AuthenticationStatus.Authenticated;
        }

        public void AddChallenge(ref StunMessageWriter writer, in FiveTuple tuple)
        {
        }
    }

    private sealed class FixedClientTransport(IClientSender sender) : IClientTransport
    {
        public IClientSender CreateSender(in FiveTuple tuple) => sender;
    }

    /// <summary>Relay "ports" that are no socket at all: the allocation exists, nothing is bound for it.</summary>
    private sealed class DetachedRelayPorts : IRelayPortAllocator
    {
        public bool Supports(StunAddressFamily family) => family == StunAddressFamily.IPv4;

        public RelayPortGrant? TryAllocate(RelayPortRequest request) => new RelayPortGrant(new DetachedRelayEndpoint(), null);

        public IRelayEndpoint? TryClaimReservation(ulong token) => null;
    }

    private sealed class DetachedRelayEndpoint : IRelayEndpoint
    {
        public TransportAddress LocalAddress { get; } = TransportAddress.FromIPAddress(IPAddress.Parse("192.0.2.1"), 50000);

        public void SendToPeer(ReadOnlySpan<byte> payload, in TransportAddress peer, bool dontFragment = false)
        {
        }

        public void SetDontFragment(bool enabled)
        {
        }

        public void Attach(Allocation allocation, IPeerDataHandler handler)
        {
        }

        public void Dispose()
        {
        }
    }
}
