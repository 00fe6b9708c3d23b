using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Turn.Relay;
using Turn.Stun;
using Turn.Transports;
using static Turn.Server.Tests.StunTestClient;

namespace Turn.Server.Tests;

/// <summary>
/// Binding over UDP against the real server on loopback (RFC 8489 §6.3, §12; RFC 3489 compatibility). Runs once per
/// UDP serving mode (see the classes below).
/// </summary>
public abstract class UdpBindingTestsBase<TFixture>(TFixture server) : IClassFixture<TFixture>
    where TFixture : ServerFixture
{
    /// <summary>Whether the server under test serves UDP with batched system calls.</summary>
    protected abstract bool Batched { get; }

    [Fact]
    public void Udp_serving_mode_is_the_one_this_class_tests()
    {
        UdpIoSetup udpIo = server.Services.GetRequiredService<UdpIoSetup>();
        Assert.Equal(Batched, udpIo.IsBatched);
    }

    /// <summary>
    /// Checklist 7, 18, 21, RFC 8489 §6.3.1.1, §12, §14.2, §14.7: the success response echoes the transaction id, carries
    /// XOR-MAPPED-ADDRESS = the request's source, SOFTWARE and a valid FINGERPRINT as the last attribute.
    /// </summary>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Rfc8489_S12_Binding_success_has_xor_mapped_address_software_and_fingerprint(string address)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(address), server.Port);
        using Socket socket = UdpSocket(endPoint);
        var id = TransactionId.NewRandom();

        byte[]? response = await ExchangeUdpAsync(socket, BindingRequest(id));

        Assert.NotNull(response);
        Answer answer = Decode(response);
        Assert.Equal(new StunMessageType(StunMethod.Binding, StunClass.SuccessResponse), answer.Type);
        Assert.Equal(id, answer.TransactionId);
        Assert.Equal(StunConstants.MagicCookie, answer.Cookie);
        Assert.Equal(LocalAddress(socket), answer.XorMapped);
        Assert.Null(answer.Mapped);
        Assert.Equal(ServerFixture.Software, answer.Software);
        Assert.True(answer.FingerprintValid);
        Assert.Equal((ushort)StunAttributeType.Fingerprint, answer.AttributeOrder[^1]);
    }

    /// <summary>
    /// Checklist 19, RFC 8489 §6.3.1.2: over UDP the response leaves from the address and port the request was sent to
    /// and goes to the address and port it came from (an unconnected socket sees the sender), over IPv4 and IPv6.
    /// </summary>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Rfc8489_S6_3_1_2_udp_response_comes_from_where_the_request_went(string address)
    {
        var endPoint = new IPEndPoint(IPAddress.Parse(address), server.Port);
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(endPoint.Address, 0));
        var id = TransactionId.NewRandom();
        await socket.SendToAsync(BindingRequest(id), endPoint);

        byte[] buffer = new byte[2048];
        using var cts = new CancellationTokenSource(AnswerTimeout);
        var any = new IPEndPoint(endPoint.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        SocketReceiveFromResult result = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, cts.Token);
        Assert.Equal(endPoint, result.RemoteEndPoint);
        Answer answer = Decode(buffer[..result.ReceivedBytes]);
        Assert.Equal(id, answer.TransactionId);
        Assert.Equal(LocalAddress(socket), answer.XorMapped);
    }

    /// <summary>
    /// --udp-receive-loops (default one per core): several sockets share the port through SO_REUSEPORT, and every
    /// client, whichever socket the kernel hands it to, is answered from the port it sent to.
    /// </summary>
    [Fact]
    public async Task Several_udp_sockets_share_the_port_and_every_client_is_answered()
    {
        var registry = server.Services.GetRequiredService<ListenerRegistry>();
        Assert.Equal(2 * Environment.ProcessorCount, registry.UdpEndPoints.Count);
        Assert.All(registry.UdpEndPoints, e => Assert.Equal(server.Port, e.Port));
        for (int i = 0; i < 32; i++)
        {
            using Socket socket = UdpSocket(server.V4);
            var id = TransactionId.NewRandom();
            byte[]? response = await ExchangeUdpAsync(socket, BindingRequest(id));
            Assert.NotNull(response);
            Assert.Equal(id, Decode(response).TransactionId);
            Assert.Equal(LocalAddress(socket), Decode(response).XorMapped);
        }
    }

    /// <summary>Checklist 25, RFC 8489 §12: a stand-alone server MUST NOT require FINGERPRINT; a bare 20-byte request is answered.</summary>
    [Fact]
    public async Task Rfc8489_S12_Binding_without_fingerprint_is_answered()
    {
        using Socket socket = UdpSocket(server.V4);
        var id = TransactionId.NewRandom();
        byte[]? response = await ExchangeUdpAsync(socket, BindingRequest(id, fingerprint: false));
        Assert.NotNull(response);
        Assert.Equal(LocalAddress(socket), Decode(response).XorMapped);
    }

    /// <summary>
    /// RFC 5389 §12.2 / RFC 3489 §11: a request without the magic cookie is answered with MAPPED-ADDRESS (not XORed),
    /// echoing all 128 bits of its transaction id, and nothing an RFC 3489 parser would trip on.
    /// </summary>
    [Fact]
    public async Task Rfc5389_S12_2_classic_client_gets_mapped_address()
    {
        using Socket socket = UdpSocket(server.V4);
        byte[] id128 = RandomNumberGenerator.GetBytes(16);
        id128[0] = 0x7E; // anything but the magic cookie

        byte[]? response = await ExchangeUdpAsync(socket, ClassicBindingRequest(id128));

        Assert.NotNull(response);
        Assert.Equal(id128, response.AsSpan(4, 16).ToArray());
        Answer answer = Decode(response);
        Assert.Equal(new StunMessageType(StunMethod.Binding, StunClass.SuccessResponse), answer.Type);
        Assert.Equal(LocalAddress(socket), answer.Mapped);
        Assert.Null(answer.XorMapped);
        Assert.False(answer.HasFingerprint);
        Assert.Equal([(ushort)StunAttributeType.MappedAddress], answer.AttributeOrder);
    }

    /// <summary>
    /// RFC 5780 §7.2 / RFC 3489 §11.2.4: CHANGE-REQUEST with no flag set asks for nothing and is answered normally;
    /// a change of IP or port needs RFC 5780 support this server lacks, so it gets 420 listing 0x0003, with the
    /// list made even and the reason padded to 4 bytes as RFC 3489 §11.2.9-§11.2.10 parsers expect.
    /// </summary>
    [Theory]
    [InlineData(0u, false)]
    [InlineData(4u, true)]
    [InlineData(2u, true)]
    [InlineData(6u, true)]
    public async Task Rfc5780_S7_2_change_request_is_refused_unless_it_asks_for_nothing(uint flags, bool refused)
    {
        using Socket socket = UdpSocket(server.V4);
        byte[] id128 = RandomNumberGenerator.GetBytes(16);
        id128[0] = 0x01;

        byte[]? response = await ExchangeUdpAsync(socket, ClassicBindingRequest(id128, flags));

        Assert.NotNull(response);
        Answer answer = Decode(response);
        if (!refused)
        {
            Assert.Equal(StunClass.SuccessResponse, answer.Type.Class);
            Assert.Equal(LocalAddress(socket), answer.Mapped);
            return;
        }

        Assert.Equal(StunClass.ErrorResponse, answer.Type.Class);
        Assert.Equal(StunErrorCode.UnknownAttribute, answer.ErrorCode);
        Assert.Equal([(ushort)0x0003, (ushort)0x0003], answer.UnknownAttributes);
        Assert.Equal((ushort)StunAttributeType.ErrorCode, answer.AttributeOrder[0]);
        Assert.Null(answer.Mapped);
        foreach (StunAttribute attribute in ReaderOf(response).AllAttributes)
        {
            Assert.Equal(0, attribute.Value.Length % 4);
        }
    }

    /// <summary>
    /// Checklist 12, 14, RFC 8489 §6.3.1, §14.13: a request with unknown comprehension-required attributes (here PRIORITY 0x0024 as in
    /// RFC 5769 §2.1, twice, and 0x7FFF) gets 420 listing each once; unknown optional ones (0x8029) are ignored.
    /// </summary>
    [Fact]
    public async Task Rfc8489_S6_3_1_unknown_comprehension_required_attributes_get_420()
    {
        using Socket socket = UdpSocket(server.V4);
        var id = TransactionId.NewRandom();
        byte[] request = BindingRequest(id, extra: (ref StunMessageWriter w) =>
        {
            w.AddUInt32((StunAttributeType)0x0024, 0x6e0001ff);
            w.AddAttribute(0x8029, [1, 2, 3, 4, 5, 6, 7, 8]);
            w.AddUInt32((StunAttributeType)0x0024, 1);
            w.AddAttribute(0x7FFF, []);
        });

        byte[]? response = await ExchangeUdpAsync(socket, request);

        Assert.NotNull(response);
        Answer answer = Decode(response);
        Assert.Equal(new StunMessageType(StunMethod.Binding, StunClass.ErrorResponse), answer.Type);
        Assert.Equal(id, answer.TransactionId);
        Assert.Equal(StunErrorCode.UnknownAttribute, answer.ErrorCode);
        Assert.Equal([(ushort)0x0024, (ushort)0x7FFF], answer.UnknownAttributes);
        Assert.True(answer.FingerprintValid);
        Assert.Equal(ServerFixture.Software, answer.Software);
    }

    /// <summary>Checklist 12, RFC 8489 §6.3: unknown comprehension-optional attributes (0x8000-0xFFFF) are ignored.</summary>
    [Fact]
    public async Task Rfc8489_S6_3_unknown_optional_attributes_are_ignored()
    {
        using Socket socket = UdpSocket(server.V4);
        byte[] request = BindingRequest(TransactionId.NewRandom(), extra: (ref StunMessageWriter w) =>
        {
            w.AddAttribute(0x8029, [9, 9, 9, 9, 9, 9, 9, 9]);
            w.AddAttribute(0xC001, [1]);
        });
        byte[]? response = await ExchangeUdpAsync(socket, request);
        Assert.NotNull(response);
        Assert.Equal(StunClass.SuccessResponse, Decode(response).Type.Class);
    }

    /// <summary>RFC 8489 §14.8 (400 Bad Request): a known attribute whose value cannot be what its RFC says.</summary>
    [Theory]
    [InlineData((ushort)StunAttributeType.XorPeerAddress, 5)]
    [InlineData((ushort)StunAttributeType.Lifetime, 3)]
    [InlineData((ushort)StunAttributeType.ChangeRequest, 2)]
    [InlineData((ushort)StunAttributeType.UserHash, 31)]
    public async Task Rfc8489_S14_8_malformed_known_attribute_gets_400(ushort type, int length)
    {
        using Socket socket = UdpSocket(server.V4);
        var id = TransactionId.NewRandom();
        byte[] request = BindingRequest(id, extra: (ref StunMessageWriter w) => w.AddAttribute(type, new byte[length]));
        byte[]? response = await ExchangeUdpAsync(socket, request);
        Assert.NotNull(response);
        Answer answer = Decode(response);
        Assert.Equal(StunClass.ErrorResponse, answer.Type.Class);
        Assert.Equal(StunErrorCode.BadRequest, answer.ErrorCode);
        Assert.Equal(id, answer.TransactionId);
    }

    /// <summary>
    /// Checklist 1, 3, 6, 16, 25, 115, RFC 8489 §6.3, §7, §6.3.2; RFC 8656 §12.6, RFC 7983: anything that is not a good request is dropped without
    /// an answer and counted, and the server goes on answering afterwards.
    /// </summary>
    [Fact]
    public async Task Rfc8489_S6_3_bad_input_is_dropped_silently_and_counted()
    {
        using Socket socket = UdpSocket(server.V4);
        var id = TransactionId.NewRandom();
        byte[] good = BindingRequest(id);

        byte[] badFingerprint = (byte[])good.Clone();
        badFingerprint[^1] ^= 0xFF;
        byte[] lengthMismatch = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(lengthMismatch.AsSpan(2), (ushort)(good.Length - 20 + 4));
        byte[] response = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(response, StunMessageType.Encode(StunMethod.Binding, StunClass.SuccessResponse));
        response = Refingerprint(response);
        byte[] indication = BindingRequest(TransactionId.NewRandom(), cls: StunClass.Indication);
        byte[] channelData = [0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4];
        byte[][] bad =
        [
            [0xFF, 0x01, 0x02],
            [0x17, 0x03, 0x03, 0x00, 0x10],  // a TLS record
            [],
            good[..19],                      // truncated header
            lengthMismatch,
            badFingerprint,
            response,                        // RFC 8489 §6.3: responses are discarded by a server
            indication,                      // RFC 8489 §6.3.2: never answered
            channelData,                     // RFC 8656 §5: no allocation on this 5-tuple
            [0x50, 0x00, 0x00, 0x00],        // RFC 8656 §12: reserved channel range
        ];

        long droppedBefore = server.Counters.TotalDropped;
        long indicationsBefore = server.Counters.BindingIndications;
        foreach (byte[] datagram in bad)
        {
            await socket.SendAsync(datagram);
        }

        byte[]? answer = await ExchangeUdpAsync(socket, good);
        Assert.NotNull(answer);
        Answer decoded = Decode(answer);
        Assert.Equal(id, decoded.TransactionId); // the first answer is to the good request: nothing else was answered
        Assert.Null(await ReceiveUdpAsync(socket, TimeSpan.FromMilliseconds(300)));
        Assert.True(server.Counters.TotalDropped - droppedBefore >= bad.Length - 2, "drops were counted");
        Assert.True(server.Counters.BindingIndications - indicationsBefore >= 1);
        Assert.True(server.Counters.Dropped(DropReason.BadFingerprint) >= 1);
        Assert.True(server.Counters.Dropped(DropReason.UnexpectedResponse) >= 1);
        Assert.True(server.Counters.Dropped(DropReason.NotStunOrChannelData) >= 1);
    }

    /// <summary>Checklist 135, RFC 8489 §6.3, RFC 8656 §21.3.1: a bounded burst of random datagrams never stops the server answering.</summary>
    [Fact]
    public async Task Rfc8489_S6_3_random_datagrams_do_not_stop_the_server()
    {
        using Socket socket = UdpSocket(server.V4);
        var random = new Random(8489);
        for (int i = 0; i < 2000; i++)
        {
            byte[] datagram = new byte[random.Next(0, 600)];
            random.NextBytes(datagram);
            if (datagram.Length > 0 && (i & 1) == 0)
            {
                datagram[0] &= 0x03; // half of them start like STUN so parsing goes deep
            }

            if (datagram.Length >= 8 && (i & 3) == 0)
            {
                BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(4), StunConstants.MagicCookie);
            }

            await socket.SendAsync(datagram);
        }

        // Drain whatever the random requests legitimately produced (e.g. 400/420 to well-formed junk requests).
        while (await ReceiveUdpAsync(socket, TimeSpan.FromMilliseconds(200)) is not null)
        {
        }

        var id = TransactionId.NewRandom();
        byte[]? answer = await ExchangeUdpAsync(socket, BindingRequest(id));
        Assert.NotNull(answer);
        Assert.Equal(id, Decode(answer).TransactionId);
    }

    private static StunMessageReader ReaderOf(byte[] message)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        return reader;
    }

    private static byte[] Refingerprint(byte[] message)
    {
        int offset = message.Length - 8;
        uint crc = StunIntegrity.ComputeFingerprint(message.AsSpan(0, offset), message.Length - 20);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(offset + 4), crc);
        return message;
    }
}

/// <summary>The UDP Binding tests in the default UDP mode: batched system calls on 64-bit Linux.</summary>
public sealed class UdpBindingTests(ServerFixture server) : UdpBindingTestsBase<ServerFixture>(server)
{
    protected override bool Batched => UdpBatching.IsSupported;
}

/// <summary>The UDP Binding tests with --udp-io sockets: the portable .NET socket loops.</summary>
public sealed class UdpBindingSocketsModeTests(SocketsServerFixture server) : UdpBindingTestsBase<SocketsServerFixture>(server)
{
    protected override bool Batched => false;
}
