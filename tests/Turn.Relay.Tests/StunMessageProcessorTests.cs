using System.Buffers.Binary;
using System.Net;
using Turn.Stun;

namespace Turn.Relay.Tests;

/// <summary>The protocol engine without sockets: bytes and a 5-tuple in, answer bytes out.</summary>
public class StunMessageProcessorTests
{
    private static readonly FiveTuple ClientV4 = new(
        TransportAddress.FromIPAddress(IPAddress.Parse("192.0.2.1"), 32853),
        TransportAddress.FromIPAddress(IPAddress.Parse("198.51.100.7"), 3478),
        TransportProtocol.Udp);

    private static readonly FiveTuple ClientV6 = new(
        TransportAddress.FromIPAddress(IPAddress.Parse("2001:db8:1234:5678:11:2233:4455:6677"), 32853),
        TransportAddress.FromIPAddress(IPAddress.Parse("2001:db8::7"), 3478),
        TransportProtocol.Tcp);

    private readonly ServerCounters _counters = new();

    private StunMessageProcessor Processor(string? software = "engine-test") => new(new TurnEngineOptions { Software = software }, _counters);

    private static byte[] Request(StunMethod method, StunClass cls, TransactionId id, params (ushort Type, byte[] Value)[] attributes)
    {
        byte[] buffer = new byte[2048];
        var writer = new StunMessageWriter(buffer, new StunMessageType(method, cls), id);
        foreach (var (type, value) in attributes)
        {
            writer.AddAttribute(type, value);
        }

        return buffer[..writer.Length];
    }

    private byte[]? Process(byte[] packet, FiveTuple tuple, string? software = "engine-test")
    {
        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        int length = Processor(software).Process(packet, tuple, response);
        return length == 0 ? null : response[..length];
    }

    /// <summary>Checklist 21, RFC 8489 §12, §14.2: XOR-MAPPED-ADDRESS is the 5-tuple's client address, IPv4 and IPv6 alike.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Rfc8489_S12_binding_answers_with_the_client_address(bool ipv6)
    {
        FiveTuple tuple = ipv6 ? ClientV6 : ClientV4;
        var id = TransactionId.NewRandom();
        byte[]? answer = Process(Request(StunMethod.Binding, StunClass.Request, id), tuple);
        Assert.NotNull(answer);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
        Assert.Equal(StunClass.SuccessResponse, reader.Header.Class);
        Assert.Equal(id, reader.Header.TransactionId);
        Assert.True(reader.TryGetAttribute(StunAttributeType.XorMappedAddress, out StunAttribute xor));
        Assert.True(XorAddressValue.TryRead(xor.Value, id, out TransportAddress mapped));
        Assert.Equal(tuple.Client, mapped);
        Assert.True(reader.VerifyFingerprint());
        Assert.Equal(1, _counters.BindingRequests);
        Assert.Equal(1, _counters.SuccessResponses);
    }

    /// <summary>RFC 8489 §14.14: SOFTWARE is optional; an empty setting leaves it out.</summary>
    [Fact]
    public void Rfc8489_S14_14_software_is_left_out_when_not_configured()
    {
        byte[]? answer = Process(Request(StunMethod.Binding, StunClass.Request, TransactionId.NewRandom()), ClientV4, software: "");
        Assert.NotNull(answer);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
        Assert.False(reader.TryGetAttribute(StunAttributeType.Software, out _));
        Assert.True(reader.HasFingerprint);
    }

    /// <summary>RFC 8489 §6.3.1, §14.13: each unknown comprehension-required type is listed once, at most 16 of them.</summary>
    [Fact]
    public void Rfc8489_S14_13_unknown_attribute_list_is_deduplicated_and_bounded()
    {
        var attributes = new List<(ushort, byte[])>();
        for (ushort type = 0x7000; type < 0x7000 + 40; type++)
        {
            attributes.Add((type, []));
            attributes.Add((type, []));
        }

        byte[]? answer = Process(Request(StunMethod.Binding, StunClass.Request, TransactionId.NewRandom(), [.. attributes]), ClientV4);
        Assert.NotNull(answer);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute(StunAttributeType.UnknownAttributes, out StunAttribute unknown));
        Assert.Equal(16, UnknownAttributesValue.Count(unknown.Value));
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(0x7000 + i, UnknownAttributesValue.Get(unknown.Value, i));
        }

        Assert.Equal(1, _counters.ErrorResponses);
    }

    /// <summary>
    /// Checklist 26, RFC 8489 §9: attributes after MESSAGE-INTEGRITY do not count, so an unknown required attribute placed there
    /// does not turn the answer into a 420.
    /// </summary>
    [Fact]
    public void Rfc8489_S9_attributes_after_message_integrity_are_ignored()
    {
        byte[] buffer = new byte[256];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), TransactionId.NewRandom());
        writer.AddMessageIntegrity("key"u8);
        writer.AddAttribute(0x7ABC, [1, 2, 3, 4]);
        byte[]? answer = Process(buffer[..writer.Length], ClientV4);
        Assert.NotNull(answer);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
        Assert.Equal(StunClass.SuccessResponse, reader.Header.Class);
    }

    /// <summary>
    /// Checklist 1, 3, 5, 6, 15, 16, 25, RFC 8489 §6.3, §6.3.2, §7; RFC 8656 §5, §12; RFC 7983: what gets no answer, and which counter says why.
    /// </summary>
    [Fact]
    public void Rfc8489_S6_3_silent_drops_are_counted_by_reason()
    {
        var id = TransactionId.NewRandom();
        byte[] good = Request(StunMethod.Binding, StunClass.Request, id);
        byte[] withFingerprint = new byte[good.Length + 8];
        var writer = new StunMessageWriter(withFingerprint, new StunMessageType(StunMethod.Binding, StunClass.Request), id);
        writer.AddFingerprint();
        withFingerprint[^1] ^= 1;

        byte[] classicAllocate = Request(StunMethod.Allocate, StunClass.Request, id);
        BinaryPrimitives.WriteUInt32BigEndian(classicAllocate.AsSpan(4), 0x01020304);

        Assert.Null(Process([0x80, 0, 0, 0], ClientV4));
        Assert.Null(Process([0x40, 0x00, 0x00, 0x00], ClientV4));
        Assert.Null(Process(good[..(good.Length - 1)], ClientV4));
        Assert.Null(Process(withFingerprint, ClientV4));
        Assert.Null(Process(Request(StunMethod.Binding, StunClass.SuccessResponse, id), ClientV4));
        Assert.Null(Process(Request(StunMethod.Binding, StunClass.ErrorResponse, id), ClientV4));
        Assert.Null(Process(Request(StunMethod.Binding, StunClass.Indication, id), ClientV4));
        Assert.Null(Process(Request(StunMethod.Binding, StunClass.Indication, id, (0x0024, [0, 0, 0, 1])), ClientV4));
        Assert.Null(Process(Request((StunMethod)0x0FF, StunClass.Request, id), ClientV4));
        Assert.Null(Process(classicAllocate, ClientV4));

        Assert.Equal(1, _counters.Dropped(DropReason.NotStunOrChannelData));
        Assert.Equal(1, _counters.Dropped(DropReason.NoAllocation));
        Assert.Equal(1, _counters.Dropped(DropReason.Malformed));
        Assert.Equal(1, _counters.Dropped(DropReason.BadFingerprint));
        Assert.Equal(2, _counters.Dropped(DropReason.UnexpectedResponse));
        Assert.Equal(1, _counters.BindingIndications);
        Assert.Equal(1, _counters.Dropped(DropReason.UnknownAttributeInIndication));
        Assert.Equal(1, _counters.Dropped(DropReason.UnsupportedMethod));
        Assert.Equal(1, _counters.Dropped(DropReason.MissingMagicCookie));
        Assert.Equal(0, _counters.SuccessResponses + _counters.ErrorResponses);
    }

    /// <summary>Checklist 135, RFC 8489 §6.3: random input never throws; whatever is answered is a well-formed STUN message.</summary>
    [Fact]
    public void Rfc8489_S6_3_random_input_never_throws()
    {
        var random = new Random(6062);
        StunMessageProcessor processor = Processor();
        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        for (int i = 0; i < 20_000; i++)
        {
            byte[] packet = new byte[random.Next(0, 200)];
            random.NextBytes(packet);
            if (packet.Length >= 20)
            {
                packet[0] &= 0x01;
                BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)((packet.Length - 20) & ~3));
                BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), StunConstants.MagicCookie);
                packet = packet[..(20 + ((packet.Length - 20) & ~3))];
            }

            int length = processor.Process(packet, ClientV4, response);
            if (length > 0)
            {
                Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(response.AsSpan(0, length), out _));
            }
        }
    }
}
