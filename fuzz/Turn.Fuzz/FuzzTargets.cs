using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using Microsoft.Extensions.Time.Testing;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Relay.Policy;
using Turn.Relay.Tests.Engine;
using Turn.Stun;

namespace Turn.Fuzz;

/// <summary>
/// What each fuzz target does with one input. A target returns normally when the code under test behaved: it may
/// refuse the input, never throw; and the invariants checked here hold. Anything else throws, which the fuzzer records
/// as a crash (and the regression tests replay).
/// </summary>
public static class FuzzTargets
{
    public static readonly string[] Names = ["stun", "framing", "engine"];

    public static void Run(string target, ReadOnlySpan<byte> input)
    {
        switch (target)
        {
            case "stun":
                Stun(input);
                break;
            case "framing":
                Framing(input);
                break;
            case "engine":
                Engine(input);
                break;
            default:
                throw new ArgumentException($"unknown target '{target}' (known: {string.Join(", ", Names)})", nameof(target));
        }
    }

    /// <summary>
    /// The codec: classify, parse, walk and check every attribute, read every typed value, verify FINGERPRINT and
    /// MESSAGE-INTEGRITY; a message that parses is written again attribute by attribute and must parse the same way.
    /// </summary>
    public static void Stun(ReadOnlySpan<byte> input)
    {
        PacketClassifier.Classify(input);
        if (ChannelData.TryParse(input, out ushort channel, out ReadOnlySpan<byte> data))
        {
            Check(ChannelData.IsValidChannel(channel) && data.Length <= input.Length - 4, "ChannelData parsed outside its bounds");
        }

        if (ChannelData.TryParse(input, allowLegacy: true, out ushort legacy, out ReadOnlySpan<byte> legacyData))
        {
            Check(ChannelData.IsValidChannel(legacy, allowLegacy: true) && legacyData.Length <= input.Length - 4, "ChannelData parsed outside its bounds");
        }
        if (StunMessageReader.TryParse(input, out StunMessageReader reader) != StunParseStatus.Success)
        {
            return;
        }

        Check(reader.Header.Length + StunConstants.HeaderLength == input.Length, "the header length does not cover the message");
        int count = 0;
        foreach (StunAttribute attribute in reader.AllAttributes)
        {
            count++;
            Check(attribute.Offset >= StunConstants.HeaderLength && attribute.Offset + 4 + attribute.Value.Length <= input.Length,
                "an attribute lies outside the message");
            StunAttributeValidator.IsWellFormed(attribute.Type, attribute.Value);
            ReadTypedValue(attribute, reader.Header.TransactionId);
        }

        reader.VerifyFingerprint();
        reader.VerifyMessageIntegrity(new byte[16]);
        reader.VerifyMessageIntegritySha256(new byte[32]);
        RoundTrip(reader, count);
    }

    /// <summary>
    /// The stream framer (TCP and TLS): the input cut into frames as it is, and again after splitting it in two
    /// segments at a point the input chooses; both must give the same frames, each within what was there.
    /// </summary>
    public static void Framing(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        bool legacy = (input[0] & 0x80) != 0;
        byte[] bytes = input[1..].ToArray();
        int split = bytes.Length == 0 ? 0 : input[0] % (bytes.Length + 1);
        List<(PacketKind, int)> whole = Frames(new ReadOnlySequence<byte>(bytes), legacy);
        List<(PacketKind, int)> segmented = Frames(Segments(bytes, split), legacy);
        Check(whole.SequenceEqual(segmented), "splitting the stream changed its frames");
    }

    /// <summary>
    /// The protocol engine: a sequence of datagrams from several 5-tuples (UDP, and one over TCP) and from peers to the
    /// relayed addresses, with the clock moved on between them. Records of the input: [selector][length: 2][bytes].
    /// The authenticator trusts USERNAME (the fuzzer cannot sign), so every method is reached. Every answer must be a
    /// well-formed STUN message; the allocation table must stay consistent.
    /// </summary>
    public static void Engine(ReadOnlySpan<byte> input)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
        var allocations = new AllocationTable();
        var ports = new FakePortAllocator { Capacity = 64 };
        ports.Families.Add(StunAddressFamily.IPv6);
        var transport = new FakeClientTransport();
        var options = new TurnEngineOptions { Software = "fuzz", UserQuota = 8, TotalQuota = 32, MaxPermissionsPerAllocation = 16, MaxChannelsPerAllocation = 16 };
        var processor = new StunMessageProcessor(options, new ServerCounters(), time, allocations, ports, PeerAddressPolicy.Default,
            new TrustingAuthenticator());
        FiveTuple[] tuples =
        [
            Tuple("198.51.100.10", 40000, TransportProtocol.Udp),
            Tuple("198.51.100.11", 40001, TransportProtocol.Udp),
            Tuple("2001:db8:1::10", 40002, TransportProtocol.Udp),
            Tuple("198.51.100.12", 40003, TransportProtocol.Tcp),
        ];
        TransportAddress[] peers = [Address("192.0.2.7", 5000), Address("192.0.2.8", 6000), Address("2001:db8:2::8", 7000)];
        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        while (input.Length >= 3)
        {
            byte selector = input[0];
            int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(input[1..]), input.Length - 3);
            ReadOnlySpan<byte> packet = input.Slice(3, length);
            input = input[(3 + length)..];
            time.Advance(TimeSpan.FromSeconds((selector >> 5) switch { 0 => 0, 1 => 1, 2 => 30, 3 => 299, 4 => 601, _ => 0 }));
            if ((selector & 0x10) != 0 && ports.Endpoints.Count > 0)
            {
                // From a peer to one of the relayed addresses.
                FakeRelayEndpoint endpoint = ports.Endpoints[(selector & 0x0F) % ports.Endpoints.Count];
                if (endpoint.Handler is not null && !endpoint.Disposed && endpoint.Allocation is not null)
                {
                    byte[]? framed = endpoint.FromPeer(peers[selector % peers.Length], packet.ToArray());
                    Check(framed is null || framed.Length >= 4, "peer data framed into less than a header");
                }

                continue;
            }

            int written = processor.Process(packet, tuples[selector % tuples.Length], transport, response);
            if (written > 0)
            {
                Check(written <= response.Length, "the answer overran its buffer");
                Check(StunMessageReader.TryParse(response.AsSpan(0, written), out _) == StunParseStatus.Success, "an answer does not parse");
            }

            Check(allocations.Count <= options.TotalQuota, "more allocations than the total quota");
        }

        allocations.Clear();
        Check(allocations.Count == 0, "allocations left after Clear");
    }

    private static void ReadTypedValue(StunAttribute attribute, TransactionId transactionId)
    {
        ReadOnlySpan<byte> value = attribute.Value;
        switch (attribute.KnownType)
        {
            case StunAttributeType.XorMappedAddress or StunAttributeType.XorPeerAddress or StunAttributeType.XorRelayedAddress:
                XorAddressValue.TryRead(value, transactionId, out _);
                break;
            case StunAttributeType.MappedAddress or StunAttributeType.AlternateServer or StunAttributeType.ResponseOrigin
                or StunAttributeType.OtherAddress:
                AddressValue.TryRead(value, out _);
                break;
            case StunAttributeType.ErrorCode:
                ErrorCodeValue.TryRead(value, out _, out _);
                break;
            case StunAttributeType.ChannelNumber:
                ChannelNumberValue.TryRead(value, out _);
                break;
            case StunAttributeType.EvenPort:
                EvenPortValue.TryRead(value, out _);
                break;
            case StunAttributeType.RequestedTransport:
                RequestedTransportValue.TryRead(value, out _);
                break;
            case StunAttributeType.ReservationToken:
                ReservationTokenValue.TryRead(value, out _);
                break;
            case StunAttributeType.RequestedAddressFamily or StunAttributeType.AdditionalAddressFamily:
                AddressFamilyValue.TryRead(value, out _);
                break;
            case StunAttributeType.AddressErrorCode:
                AddressErrorCodeValue.TryRead(value, out _, out _, out _);
                break;
            case StunAttributeType.Icmp:
                IcmpValue.TryRead(value, out _, out _, out _);
                break;
            case StunAttributeType.PasswordAlgorithm:
                PasswordAlgorithmsValue.TryReadSingle(value, out _, out _);
                break;
            default:
                UInt32Value.TryRead(value, out _);
                break;
        }
    }

    /// <summary>The attributes before MESSAGE-INTEGRITY written again (with their padding) must parse back alike.</summary>
    private static void RoundTrip(in StunMessageReader reader, int count)
    {
        byte[] buffer = new byte[reader.Bytes.Length + 64];
        var writer = new StunMessageWriter(buffer, reader.Header.Type, reader.Header.TransactionId);
        var written = new List<(ushort Type, byte[] Value)>();
        foreach (StunAttribute attribute in reader.AllAttributes)
        {
            if (attribute.KnownType is StunAttributeType.MessageIntegrity or StunAttributeType.MessageIntegritySha256 or StunAttributeType.Fingerprint)
            {
                break;
            }

            Check(writer.AddAttribute(attribute.Type, attribute.Value), "an attribute that was read cannot be written back");
            written.Add((attribute.Type, attribute.Value.ToArray()));
        }

        Check(written.Count <= count, "more attributes written than read");
        Check(StunMessageReader.TryParse(buffer.AsSpan(0, writer.Length), out StunMessageReader again) == StunParseStatus.Success,
            "a message written from parsed attributes does not parse");
        int i = 0;
        foreach (StunAttribute attribute in again.AllAttributes)
        {
            Check(i < written.Count && attribute.Type == written[i].Type && attribute.Value.SequenceEqual(written[i].Value),
                "an attribute changed on the way round");
            i++;
        }

        Check(i == written.Count, "attributes were lost on the way round");
    }

    private static List<(PacketKind, int)> Frames(ReadOnlySequence<byte> buffer, bool legacy)
    {
        var frames = new List<(PacketKind, int)>();
        while (StunFraming.TryReadFrame(buffer, legacy, out PacketKind kind, out int frameLength) == FrameStatus.Complete)
        {
            Check(frameLength > 0 && frameLength <= buffer.Length, "a frame longer than the bytes there");
            frames.Add((kind, frameLength));
            buffer = buffer.Slice(frameLength);
        }

        return frames;
    }

    private static ReadOnlySequence<byte> Segments(byte[] bytes, int split)
    {
        var first = new Segment(bytes.AsMemory(0, split), 0);
        Segment last = first.Append(bytes.AsMemory(split));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private static FiveTuple Tuple(string ip, int port, TransportProtocol protocol)
    {
        TransportAddress client = Address(ip, port);
        TransportAddress server = client.Family == StunAddressFamily.IPv6 ? Address("2001:db8::1", 3478) : Address("198.51.100.1", 3478);
        return new FiveTuple(client, server, protocol);
    }

    private static TransportAddress Address(string ip, int port) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), port);

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(what);
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

/// <summary>An invariant of the code under test did not hold for a fuzz input.</summary>
public sealed class FuzzInvariantException(string message) : Exception(message);
