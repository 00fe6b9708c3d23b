using System.Net;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Relay.Tests;

/// <summary>
/// RFC 5780 §6.1, §7 in the engine: a Binding request over a UDP listener of a server with a second address gets
/// RESPONSE-ORIGIN and OTHER-ADDRESS (SOURCE-ADDRESS and CHANGED-ADDRESS for RFC 3489 clients), CHANGE-REQUEST and
/// RESPONSE-PORT send the response from or to another address, PADDING is answered with padding; without a second
/// address those requests get 420.
/// </summary>
public class NatDiscoveryTests
{
    private static readonly TransportAddress Primary = Address("198.51.100.7", 3478);
    private static readonly TransportAddress Other = Address("198.51.100.8", 3479);
    private static readonly FiveTuple Client = new(Address("192.0.2.1", 40000), Primary, TransportProtocol.Udp);

    private readonly StunMessageProcessor _processor = new(new TurnEngineOptions { Software = "nat" }, new ServerCounters());

    private static TransportAddress Address(string ip, int port) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), port);

    private static byte[] Binding(bool cookie = true, uint? change = null, ushort? responsePort = null, int padding = 0)
    {
        byte[] buffer = new byte[2048];
        var id = TransactionId.NewRandom();
        var writer = cookie
            ? new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), id)
            : new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), id, 0x01020304);
        if (change is { } flags)
        {
            writer.AddUInt32(StunAttributeType.ChangeRequest, flags);
        }

        if (responsePort is { } port)
        {
            writer.AddAttribute(StunAttributeType.ResponsePort, [(byte)(port >> 8), (byte)port, 0, 0]);
        }

        if (padding > 0)
        {
            writer.AddAttribute(StunAttributeType.Padding, new byte[padding]);
        }

        return buffer[..writer.Length];
    }

    private (byte[]? Direct, FakeNatEndpoint Nat) Process(byte[] request, bool enabled = true)
    {
        var nat = new FakeNatEndpoint(enabled);
        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        int length = _processor.Process(request, Client, nat, response);
        return (length == 0 ? null : response[..length], nat);
    }

    private static TransportAddress? Plain(byte[] message, StunAttributeType type)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        return reader.TryGetAttribute(type, out StunAttribute attribute) && AddressValue.TryRead(attribute.Value, out TransportAddress address)
            ? address
            : null;
    }

    /// <summary>RFC 5780 §6.1, §7.3, §7.4: a plain Binding gets RESPONSE-ORIGIN (where it left from) and OTHER-ADDRESS.</summary>
    [Fact]
    public void Rfc5780_S6_1_binding_carries_response_origin_and_other_address()
    {
        var (direct, nat) = Process(Binding());
        Assert.NotNull(direct);
        Assert.Empty(nat.Sent);
        Assert.Equal(Primary, Plain(direct, StunAttributeType.ResponseOrigin));
        Assert.Equal(Other, Plain(direct, StunAttributeType.OtherAddress));
    }

    /// <summary>RFC 5780 §6.1, §7.2: CHANGE-REQUEST sends the response from the changed IP, port or both, telling where from.</summary>
    [Theory]
    [InlineData(0x4u, true, false)]
    [InlineData(0x2u, false, true)]
    [InlineData(0x6u, true, true)]
    public void Rfc5780_S7_2_change_request_answers_from_the_changed_address(uint flags, bool changeIp, bool changePort)
    {
        var (direct, nat) = Process(Binding(change: flags));
        Assert.Null(direct);
        var (ip, port, message, destination) = Assert.Single(nat.Sent);
        Assert.Equal((changeIp, changePort), (ip, port));
        Assert.Equal(Client.Client, destination);
        Assert.Equal(nat.OriginFor(changeIp, changePort), Plain(message, StunAttributeType.ResponseOrigin));
        Assert.Equal(Other, Plain(message, StunAttributeType.OtherAddress));
    }

    /// <summary>RFC 5780 §7.5, §7.6: RESPONSE-PORT sends the response to that port of the client's IP; PADDING is mirrored.</summary>
    [Fact]
    public void Rfc5780_S7_5_response_port_and_padding()
    {
        var (direct, nat) = Process(Binding(responsePort: 50123, padding: 600));
        Assert.Null(direct);
        var (_, _, message, destination) = Assert.Single(nat.Sent);
        Assert.Equal(Client.Client.WithPort(50123), destination);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute(StunAttributeType.Padding, out StunAttribute padding));
        Assert.Equal(600, padding.Value.Length);
        Assert.True(message.Length > 600);
    }

    /// <summary>RFC 3489 §11.2.3, §11.2.5: a classic client (no magic cookie) gets SOURCE-ADDRESS and CHANGED-ADDRESS instead.</summary>
    [Fact]
    public void Rfc3489_classic_client_gets_source_and_changed_address()
    {
        var (direct, _) = Process(Binding(cookie: false, change: 0));
        Assert.NotNull(direct);
        Assert.Equal(Primary, Plain(direct, StunAttributeType.SourceAddress));
        Assert.Equal(Other, Plain(direct, StunAttributeType.ChangedAddress));
        Assert.Null(Plain(direct, StunAttributeType.ResponseOrigin));
    }

    /// <summary>RFC 8489 §6.3.1: without a second address, CHANGE-REQUEST with flags, RESPONSE-PORT and PADDING are unknown: 420.</summary>
    [Fact]
    public void Rfc8489_S6_3_1_without_a_second_address_discovery_attributes_get_420()
    {
        foreach (byte[] request in new[] { Binding(change: 0x4), Binding(responsePort: 9), Binding(padding: 8) })
        {
            var (direct, nat) = Process(request, enabled: false);
            Assert.NotNull(direct);
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(direct, out StunMessageReader reader));
            Assert.Equal(StunClass.ErrorResponse, reader.Header.Class);
            Assert.Empty(nat.Sent);
        }

        var (plain, _) = Process(Binding(change: 0), enabled: false);
        Assert.Null(Plain(plain!, StunAttributeType.OtherAddress));
    }

    private sealed class FakeNatEndpoint(bool enabled) : INatDiscoveryEndpoint, IClientTransport
    {
        public List<(bool ChangeIp, bool ChangePort, byte[] Message, TransportAddress Destination)> Sent { get; } = [];

        public bool TryGetOtherAddress(out TransportAddress other)
        {
            other = enabled ? Other : default;
            return enabled;
        }

        public TransportAddress OriginFor(bool changeIp, bool changePort) =>
            Address(changeIp ? "198.51.100.8" : "198.51.100.7", changePort ? 3479 : 3478);

        public void SendFrom(bool changeIp, bool changePort, ReadOnlySpan<byte> message, in TransportAddress destination) =>
            Sent.Add((changeIp, changePort, message.ToArray(), destination));

        public IClientSender CreateSender(in FiveTuple tuple) => throw new NotSupportedException();
    }
}
