using BenchmarkDotNet.Attributes;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Benchmarks;

/// <summary>
/// One relayed datagram through the real engine, in memory, on an allocation made in <see cref="Setup"/> by the
/// real exchanges (401, Allocate, CreatePermission, ChannelBind). Client to peer goes in through
/// <see cref="StunMessageProcessor.Process(ReadOnlySpan{byte}, in FiveTuple, IClientTransport?, Span{byte})"/> and
/// ends in a relay endpoint whose SendToPeer only counts; peer to client goes in through
/// <see cref="IPeerDataHandler.HandlePeerData"/> (the handler the engine attached to the endpoint, as a relay socket
/// calls it) and ends in the allocation's client sender, which only counts. The clock is
/// <see cref="TimeProvider.System"/>, read per datagram as in the server. Every method must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class RelayPathBenchmarks
{
    private const ushort Channel = 0x4000;

    private readonly TransportAddress _channelPeer = BenchmarkEngine.Address("203.0.113.10", 5000);
    private readonly TransportAddress _indicationPeer = BenchmarkEngine.Address("203.0.113.20", 6000);
    private readonly byte[] _response = new byte[StunMessageProcessor.MaxResponseLength];

    private BenchmarkEngine _engine = null!;
    private StunMessageProcessor _processor = null!;
    private IClientTransport _transport = null!;
    private FiveTuple _tuple;
    private CountingRelayEndpoint _endpoint = null!;
    private Allocation _allocation = null!;
    private IPeerDataHandler _handler = null!;
    private byte[] _payload = [];
    private byte[] _channelData = [];
    private byte[] _sendIndication = [];
    private byte[] _fromChannelPeer = [];
    private byte[] _fromIndicationPeer = [];

    /// <summary>Bytes of application data per datagram: a small message, and a typical media packet.</summary>
    [Params(100, 1200)]
    public int PayloadSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _engine = new BenchmarkEngine();
        _processor = _engine.Processor;
        // As the server runs by default: relayed data is looked at for ICE checks to time (relay-side call quality).
        _processor.CallQuality = new IgnoredCallQuality();
        _transport = _engine.Transport;
        _tuple = BenchmarkEngine.UdpTuple(BenchmarkEngine.Address("198.51.100.10", 40000));

        byte[] nonce = _engine.Allocate(_tuple);
        _endpoint = _engine.Ports.Last!;
        _allocation = _endpoint.Allocation!;
        _handler = _endpoint.Handler!;
        TransportAddress channelPeer = _channelPeer;
        TransportAddress indicationPeer = _indicationPeer;
        _engine.ExpectSuccess(_engine.Process(_engine.Request(StunMethod.CreatePermission, TransactionId.NewRandom(), (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, channelPeer);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, indicationPeer);
        }, nonce), _tuple), "CreatePermission");
        _engine.ExpectSuccess(_engine.Process(_engine.Request(StunMethod.ChannelBind, TransactionId.NewRandom(), (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(Channel);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, channelPeer);
        }, nonce), _tuple), "ChannelBind");

        _payload = new byte[PayloadSize];
        new Random(42).NextBytes(_payload);
        // An (S)RTP header in front, as media has: the worst case for call quality, which then follows the stream.
        _payload[0] = 0x80;
        _payload[1] = 111;

        // RFC 8656 §12.4: ChannelData over UDP, not padded.
        _channelData = new byte[ChannelData.HeaderLength + PayloadSize];
        ChannelData.WriteHeader(_channelData, Channel, PayloadSize);
        _payload.CopyTo(_channelData, ChannelData.HeaderLength);

        // RFC 8656 §11.1: Send indication with XOR-PEER-ADDRESS and DATA, plus FINGERPRINT as libwebrtc sends it.
        Span<byte> buffer = stackalloc byte[1500];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Send, StunClass.Indication), TransactionId.NewRandom());
        writer.AddXorAddress(StunAttributeType.XorPeerAddress, _indicationPeer);
        writer.AddAttribute(StunAttributeType.Data, _payload);
        writer.AddFingerprint();
        BenchmarkEngine.Check(!writer.HasOverflowed, "Send indication fits");
        _sendIndication = writer.WrittenSpan.ToArray();

        // What a relay socket receives into: the payload at Headroom, Tailroom spare bytes after it.
        _fromChannelPeer = PeerBuffer(_payload);
        _fromIndicationPeer = PeerBuffer(_payload);

        CheckEveryPath();
    }

    /// <summary>Client to peer: ChannelData on a bound channel (5-tuple lookup, channel and permission check, send).</summary>
    [Benchmark]
    public long ChannelDataToPeer()
    {
        _processor.Process(_channelData, _tuple, _transport, _response);
        return _endpoint.SentToPeer;
    }

    /// <summary>
    /// Client to peer: Send indication (parse, FINGERPRINT, unknown-attribute check, 5-tuple lookup, XOR-PEER-ADDRESS
    /// and DATA, permission check, send).
    /// </summary>
    [Benchmark]
    public long SendIndicationToPeer()
    {
        _processor.Process(_sendIndication, _tuple, _transport, _response);
        return _endpoint.SentToPeer;
    }

    /// <summary>Peer to client on a bound channel: permission check, ChannelData header written in place, send.</summary>
    [Benchmark]
    public int PeerToClientChannelData() => FromPeer(_channelPeer, _fromChannelPeer, out _);

    /// <summary>Peer to client without a channel: permission check, Data indication written around the payload, send.</summary>
    [Benchmark]
    public int PeerToClientDataIndication() => FromPeer(_indicationPeer, _fromIndicationPeer, out _);

    /// <summary>Every measured call relayed: nothing dropped (e.g. an expired permission) and every datagram sent.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        ServerCounters counters = _engine.Counters;
        Console.WriteLine($"// RelayPath cleanup: to peer {_endpoint.SentToPeer}, to client {_engine.Transport.Sender.Sent}, dropped {counters.TotalDropped}");
        BenchmarkEngine.Check(counters.TotalDropped == 0, "no datagram was dropped during the run");
    }

    private int FromPeer(in TransportAddress peer, byte[] buffer, out int start)
    {
        int length = _handler.HandlePeerData(_allocation, peer, buffer, PayloadSize, out start);
        _allocation.Client.Send(buffer.AsSpan(start, length));
        return length;
    }

    private static byte[] PeerBuffer(byte[] payload)
    {
        byte[] buffer = new byte[PeerDataFraming.Headroom + payload.Length + PeerDataFraming.Tailroom];
        payload.CopyTo(buffer, PeerDataFraming.Headroom);
        return buffer;
    }

    /// <summary>Runs every measured method once and checks it did the whole relay step, not an early exit.</summary>
    private void CheckEveryPath()
    {
        CountingClientSender sender = _engine.Transport.Sender;
        BenchmarkEngine.Check(ReferenceEquals(_allocation.Client, sender), "the allocation sends through the counting sender");

        long sent = _endpoint.SentToPeer;
        ChannelDataToPeer();
        BenchmarkEngine.Check(_endpoint.SentToPeer == sent + 1 && _endpoint.BytesToPeer == PayloadSize, "ChannelData relayed to the peer");
        SendIndicationToPeer();
        BenchmarkEngine.Check(_endpoint.SentToPeer == sent + 2 && _endpoint.BytesToPeer == 2 * PayloadSize, "Send indication relayed to the peer");

        int length = FromPeer(_channelPeer, _fromChannelPeer, out int start);
        BenchmarkEngine.Check(sender.Sent == 1 && length == ChannelData.HeaderLength + PayloadSize
            && ChannelData.TryParse(_fromChannelPeer.AsSpan(start, length), out ushort channel, out ReadOnlySpan<byte> data)
            && channel == Channel && data.SequenceEqual(_payload), "peer datagram framed as ChannelData");

        length = FromPeer(_indicationPeer, _fromIndicationPeer, out start);
        BenchmarkEngine.Check(sender.Sent == 2
            && StunMessageReader.TryParse(_fromIndicationPeer.AsSpan(start, length), out StunMessageReader reader) == StunParseStatus.Success
            && reader.Header.Method == StunMethod.Data && reader.Header.Class == StunClass.Indication
            && reader.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute peer)
            && XorAddressValue.TryRead(peer.Value, reader.Header.TransactionId, out TransportAddress address) && address == _indicationPeer
            && reader.TryGetAttribute(StunAttributeType.Data, out StunAttribute dataAttribute)
            && dataAttribute.Value.SequenceEqual(_payload), "peer datagram framed as a Data indication");

        BenchmarkEngine.Check(_engine.Counters.TotalDropped == 0, "nothing dropped");
    }

    private sealed class IgnoredCallQuality : ICallQualityObserver
    {
        public void CheckRoundTrip(TransportProtocol transport, bool clientLeg, double seconds)
        {
        }

        public void RtpInterval(TransportProtocol transport, bool toPeer, double lossFraction, double jitterSeconds)
        {
        }
    }
}
