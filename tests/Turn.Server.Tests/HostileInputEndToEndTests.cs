using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>The transports the hostile-input battery runs over.</summary>
public enum HostileTransport
{
    Udp,
    Tcp,
    Tls,
}

/// <summary>
/// RFC 8489 §6.3, §14.7, RFC 8656 §12.4, §12.5, §21.3.1: hostile input end to end over UDP, TCP and TLS against a real
/// server. The attacker sends from 127.0.0.2; the honest clients, and their allocations relaying all along, are on
/// 127.0.0.1. Each case checks the server's own reaction (a clean STUN error, a silent drop, or, on a stream whose
/// framing is lost, a closed connection) and then that the server still answers a Binding request over the same
/// transport and that other clients' allocations (over UDP and over TCP) still relay both ways.
/// </summary>
public sealed class HostileInputEndToEndTests(RelayServerFixture server) : IClassFixture<RelayServerFixture>, IAsyncLifetime
{
    private static readonly IPAddress Attacker = IPAddress.Parse("127.0.0.2");
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
    private const ushort UnknownRequired = 0x0077;
    private const ushort UnknownRequired2 = 0x0078;

    private readonly List<Bystander> _bystanders = [];

    /// <summary>What the server did with a hostile message.</summary>
    private enum Reaction
    {
        /// <summary>Nothing came back and the connection (if any) stays open.</summary>
        Silent,
        /// <summary>A STUN answer came back.</summary>
        Answered,
        /// <summary>The server closed the connection (a stream whose framing is lost).</summary>
        Closed,
    }

    private ListenerRegistry Registry => server.Services.GetRequiredService<ListenerRegistry>();

    public static TheoryData<HostileTransport, string> Cases()
    {
        var data = new TheoryData<HostileTransport, string>();
        foreach (HostileTransport transport in Enum.GetValues<HostileTransport>())
        {
            foreach (string name in CaseNames)
            {
                if (!name.Contains("datagram", StringComparison.Ordinal) || transport == HostileTransport.Udp)
                {
                    data.Add(transport, name);
                }
            }
        }

        return data;
    }

    private static readonly string[] CaseNames =
    [
        "truncated-message", "header-claims-more-than-sent", "datagram-longer-than-its-header", "length-not-multiple-of-four", "attribute-past-the-end",
        "oversized-message", "duplicate-attributes", "wrong-message-integrity", "wrong-fingerprint",
        "unknown-comprehension-required", "channel-data-unbound-channel", "channel-data-length-past-the-end",
        "zero-length-datagram", "success-response-sent-to-server", "error-response-sent-to-server",
        "binding-indication", "send-indication-without-allocation", "not-stun-at-all",
    ];

    public async ValueTask InitializeAsync()
    {
        _bystanders.Add(await Bystander.StartAsync(server.V4, tcp: false));
        _bystanders.Add(await Bystander.StartAsync(server.V4, tcp: true));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (Bystander bystander in _bystanders)
        {
            await bystander.DisposeAsync();
        }
    }

    /// <summary>Checklist 135: each hostile message gets its clean reaction; the server and other allocations carry on.</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Rfc8489_S6_3_hostile_message_gets_a_clean_reaction_and_nothing_else_breaks(HostileTransport transport, string name)
    {
        bool stream = transport != HostileTransport.Udp;
        using TurnTestClient attacker = await ConnectAsync(transport, Attacker, RelayServerFixture.User, "not-the-password");
        switch (name)
        {
            case "truncated-message":
                // RFC 8489 §6.3: shorter than its header says. A datagram is dropped; a stream waits for the rest.
                await AssertReactionAsync(attacker, Binding((ref StunMessageWriter w) => w.AddText(StunAttributeType.Software, "cut short"))[..30],
                    Reaction.Silent);
                break;
            case "header-claims-more-than-sent":
                await AssertReactionAsync(attacker, Header(0x0001, length: 64), Reaction.Silent);
                break;
            case "datagram-longer-than-its-header":
                // RFC 8489 §6.3: the datagram must be the message; bytes past Length make it malformed (dropped).
                await AssertReactionAsync(attacker, [.. Binding(), .. new byte[100]], Reaction.Silent);
                break;
            case "length-not-multiple-of-four":
                // RFC 8489 §5: Length is a multiple of 4. On a stream, framing is lost and the connection closes.
                await AssertReactionAsync(attacker, [.. Header(0x0001, length: 6), 0, 0x22, 0, 2, 1, 2],
                    stream ? Reaction.Closed : Reaction.Silent);
                break;
            case "attribute-past-the-end":
            {
                byte[] message = [.. Header(0x0001, length: 8), 0x80, 0x22, 0x00, 0xC8, 1, 2, 3, 4];
                await AssertReactionAsync(attacker, message, Reaction.Silent);
                break;
            }

            case "oversized-message":
                await OversizedAsync(attacker, transport);
                break;
            case "duplicate-attributes":
            {
                // RFC 8489 §14: only the first of a repeated attribute counts; the request is answered.
                byte[] answer = await AnsweredAsync(attacker, Binding((ref StunMessageWriter w) =>
                {
                    w.AddText(StunAttributeType.Software, "first");
                    w.AddText(StunAttributeType.Software, "second");
                    w.AddText(StunAttributeType.Software, "third");
                }));
                Assert.Equal(new StunMessageType(StunMethod.Binding, StunClass.SuccessResponse), StunTestClient.Decode(answer).Type);
                break;
            }

            case "wrong-message-integrity":
            {
                // RFC 8489 §9.2.4: integrity that does not check gets 401 (the attacker holds a real nonce).
                byte[] answer = await attacker.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
                Assert.Equal(StunErrorCode.Unauthenticated, TurnTestClient.ErrorCode(answer));
                break;
            }

            case "wrong-fingerprint":
            {
                // RFC 8489 §7.3: a FINGERPRINT that does not match is not STUN; dropped.
                byte[] message = Binding();
                message[^1] ^= 0xFF;
                await AssertReactionAsync(attacker, message, Reaction.Silent);
                break;
            }

            case "unknown-comprehension-required":
            {
                // RFC 8489 §6.3.1, §14.9: 420 naming each unknown comprehension-required attribute.
                byte[] answer = await AnsweredAsync(attacker, Binding((ref StunMessageWriter w) =>
                {
                    w.AddAttribute(UnknownRequired, [1, 2, 3, 4]);
                    w.AddAttribute(UnknownRequired2, []);
                    w.AddAttribute((ushort)0x8077, [5, 6, 7, 8]);
                }));
                StunTestClient.Answer decoded = StunTestClient.Decode(answer);
                Assert.Equal(StunErrorCode.UnknownAttribute, decoded.ErrorCode);
                Assert.Equal([UnknownRequired, UnknownRequired2], decoded.UnknownAttributes);
                break;
            }

            case "channel-data-unbound-channel":
            {
                // RFC 8656 §12.4: ChannelData on a channel not bound on this 5-tuple is dropped.
                byte[] frame = new byte[8];
                ChannelData.WriteHeader(frame, 0x4123, 4);
                await AssertReactionAsync(attacker, frame, Reaction.Silent);
                break;
            }

            case "channel-data-length-past-the-end":
            {
                // RFC 8656 §12.5: a Length past the datagram is dropped; on a stream it is a frame not yet complete.
                byte[] frame = new byte[8];
                ChannelData.WriteHeader(frame, 0x4000, 200);
                await AssertReactionAsync(attacker, frame, Reaction.Silent);
                break;
            }

            case "zero-length-datagram":
                await AssertReactionAsync(attacker, [], Reaction.Silent);
                break;
            case "success-response-sent-to-server":
                // RFC 8489 §6.3: a server takes requests and indications; a response it never asked for is dropped.
                await AssertReactionAsync(attacker, StunTestClient.BindingRequest(TransactionId.NewRandom(), cls: StunClass.SuccessResponse), Reaction.Silent);
                break;
            case "error-response-sent-to-server":
                await AssertReactionAsync(attacker, StunTestClient.BindingRequest(TransactionId.NewRandom(),
                    extra: (ref StunMessageWriter w) => w.AddErrorCode(400), cls: StunClass.ErrorResponse), Reaction.Silent);
                break;
            case "binding-indication":
                // RFC 8489 §6.3.2: an indication is never answered.
                await AssertReactionAsync(attacker, StunTestClient.BindingRequest(TransactionId.NewRandom(), cls: StunClass.Indication), Reaction.Silent);
                break;
            case "send-indication-without-allocation":
            {
                // RFC 8656 §11.2: a Send indication with no allocation on its 5-tuple is dropped.
                byte[] buffer = new byte[256];
                var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Send, StunClass.Indication), TransactionId.NewRandom());
                writer.AddXorAddress(StunAttributeType.XorPeerAddress, PeerSockets.AddressOf(_bystanders[0].Peer));
                writer.AddAttribute(StunAttributeType.Data, [9, 9, 9]);
                writer.AddFingerprint();
                await AssertReactionAsync(attacker, buffer[..writer.Length], Reaction.Silent);
                Assert.Null(await PeerSockets.ReceiveFromAsync(_bystanders[0].Peer, Quiet));
                break;
            }

            case "not-stun-at-all":
                // First byte neither STUN (0-3) nor ChannelData (64-79): dropped; a stream cannot be framed any more.
                await AssertReactionAsync(attacker, [0xFF, 0xFE, 0xFD, 0xFC, .. new byte[60]], stream ? Reaction.Closed : Reaction.Silent);
                break;
            default:
                Assert.Fail($"no such case: {name}");
                break;
        }

        await AssertServerCarriesOnAsync(transport);
    }

    /// <summary>
    /// Checklist 135, RFC 8489 §6.3, RFC 8656 §21.3.1: 10,000 random or mutated messages from several attacker 5-tuples
    /// (one with an allocation and a bound channel, so mutations of its own requests, indications and ChannelData reach
    /// the deeper handlers) are all taken in; the server logs no error, still answers, and other allocations still relay.
    /// Over a stream the messages are framed as they claim, so the server's framing must stay in step through all of them;
    /// one in a hundred is garbage, which closes the connection (and the attacker reconnects).
    /// </summary>
    [Theory]
    [InlineData(HostileTransport.Udp)]
    [InlineData(HostileTransport.Tcp)]
    [InlineData(HostileTransport.Tls)]
    public async Task Rfc8489_S6_3_ten_thousand_random_messages_break_nothing(HostileTransport transport)
    {
        const int Messages = 10_000;
        var random = new Random(8489 + (int)transport);
        // Its own source address (127.0.0.3-5), so the failed-authentication budget it spends is not the other cases'.
        var attacker = new IPAddress([127, 0, 0, (byte)(3 + (int)transport)]);
        using TurnTestClient insider = await ConnectAsync(transport, attacker, RelayServerFixture.User, RelayServerFixture.Password);
        byte[] allocate = await insider.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        Assert.Null(TurnTestClient.ErrorCode(allocate));
        using Socket insiderPeer = PeerSockets.Peer();
        TransportAddress insiderPeerAddress = PeerSockets.AddressOf(insiderPeer);
        Assert.Null(TurnTestClient.ErrorCode(await insider.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(0x4001);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, insiderPeerAddress);
        })));
        byte[][] seeds = Seeds(insider, insiderPeerAddress);

        int errorsBefore = ErrorLogCount();
        if (transport == HostileTransport.Udp)
        {
            await RandomDatagramsAsync(insider, attacker, seeds, random, Messages);
        }
        else
        {
            await RandomFramesAsync(transport, insider, attacker, seeds, random, Messages);
        }

        Assert.Equal(errorsBefore, ErrorLogCount());
        await AssertServerCarriesOnAsync(transport);
        // The insider's own allocation survived its own garbage too (checked over UDP, where nothing closes it).
        if (transport == HostileTransport.Udp)
        {
            while (await StunTestClient.ReceiveUdpAsync(insider.Socket, Quiet) is not null)
            {
                // Answers to the random requests, still queued.
            }

            Assert.Null(TurnTestClient.ErrorCode(await insider.RequestAsync(StunMethod.Refresh)));
        }
    }

    private async Task RandomDatagramsAsync(TurnTestClient insider, IPAddress attacker, byte[][] seeds, Random random, int count)
    {
        using Socket second = StunTestClient.UdpSocket(server.V4, attacker);
        using Socket third = StunTestClient.UdpSocket(server.V4, attacker);
        Socket[] sockets = [insider.Socket, second, third];
        long before = server.TransportCounters.DatagramsReceived;
        int sent = 0;
        while (sent < count)
        {
            // In bursts the kernel will not drop, each then waited for: every datagram reaches the server.
            for (int i = 0; i < 100 && sent < count; i++, sent++)
            {
                await sockets[random.Next(sockets.Length)].SendAsync(RandomMessage(seeds, random, framed: false));
            }

            long expected = before + sent;
            await Eventually.WaitForAsync(() => server.TransportCounters.DatagramsReceived >= expected,
                $"the server took in {server.TransportCounters.DatagramsReceived - before} of {sent} datagrams");
        }
    }

    private async Task RandomFramesAsync(HostileTransport transport, TurnTestClient insider, IPAddress attacker, byte[][] seeds, Random random,
        int count)
    {
        TurnTestClient connection = insider;
        var extra = new List<TurnTestClient>();
        // Answers are read as they come, as a client does; the server's bounded queue for a client that stops reading is
        // tested elsewhere.
        var reader = new AnswerReader(connection);
        try
        {
            for (int i = 0; i < count; i++)
            {
                if (random.Next(100) == 0)
                {
                    // Garbage: framing is lost, the server closes, the attacker comes back.
                    await connection.SendRawAsync([0xEE, .. RandomBytes(random, random.Next(1, 64))]);
                    Assert.Equal(Reaction.Closed, await reader.Ended.WaitAsync(TimeSpan.FromSeconds(10)));
                    connection = await ConnectAsync(transport, attacker, RelayServerFixture.User, RelayServerFixture.Password);
                    extra.Add(connection);
                    reader = new AnswerReader(connection);
                    continue;
                }

                await connection.SendRawAsync(RandomMessage(seeds, random, framed: true));
            }

            // Framing stayed in step through every message: a Binding on the same connection is answered.
            byte[] binding = Binding();
            await connection.SendRawAsync(binding);
            TransactionId id = TransactionId.Read(binding.AsSpan(8, 12));
            await Eventually.WaitForAsync(() => reader.Answered(id), $"the Binding after the random frames was not answered ({reader.Ended.Status})");
        }
        finally
        {
            foreach (TurnTestClient client in extra)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>Reads every frame of a stream connection until it closes, keeping the transaction ids of STUN answers.</summary>
    private sealed class AnswerReader
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<TransactionId, bool> _answered = new();

        public AnswerReader(TurnTestClient client) => Ended = Task.Run(() => ReadAsync(client));

        /// <summary>How reading ended: Closed when the server closed the connection.</summary>
        public Task<Reaction> Ended { get; }

        public bool Answered(TransactionId id) => _answered.ContainsKey(id);

        private async Task<Reaction> ReadAsync(TurnTestClient client)
        {
            while (true)
            {
                byte[]? frame;
                try
                {
                    frame = await client.ReceiveAsync(TimeSpan.FromSeconds(60));
                }
                catch (Exception ex) when (ex is EndOfStreamException or IOException or SocketException or ObjectDisposedException)
                {
                    return Reaction.Closed;
                }

                if (frame is null)
                {
                    return Reaction.Silent;
                }

                if (frame[0] < 0x40 && frame.Length >= 20)
                {
                    _answered[TransactionId.Read(frame.AsSpan(8, 12))] = true;
                }
            }
        }
    }

    /// <summary>Valid messages of the insider's 5-tuple to mutate: Binding, signed TURN requests, a Send indication, ChannelData.</summary>
    private static byte[][] Seeds(TurnTestClient insider, TransportAddress peer)
    {
        byte[] channelData = new byte[4 + 12];
        ChannelData.WriteHeader(channelData, 0x4001, 12);
        byte[] send = new byte[256];
        var writer = new StunMessageWriter(send, new StunMessageType(StunMethod.Send, StunClass.Indication), TransactionId.NewRandom());
        writer.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        writer.AddAttribute(StunAttributeType.Data, [1, 2, 3, 4, 5, 6, 7, 8]);
        writer.AddFingerprint();
        return
        [
            Binding(),
            insider.SignedRequest(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(600)),
            insider.SignedRequest(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peer)),
            insider.SignedRequest(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4001);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            }),
            insider.SignedRequest(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17)),
            send[..writer.Length],
            channelData,
        ];
    }

    /// <summary>
    /// One hostile message: random bytes, a random STUN-looking header with a random body, or a valid message with a
    /// few bytes changed (never its first byte or its Length when <paramref name="framed"/>, so a stream stays framed).
    /// </summary>
    private static byte[] RandomMessage(byte[][] seeds, Random random, bool framed)
    {
        int kind = random.Next(10);
        if (kind < 2)
        {
            byte[] body = RandomBytes(random, random.Next(0, 200) * 4);
            // Any method and class: the two top bits of the type are 0 (RFC 8489 §5).
            byte[] stun = [.. Header((ushort)random.Next(0x400), body.Length), .. body];
            return stun;
        }

        if (kind < 3 && !framed)
        {
            return RandomBytes(random, random.Next(1, 1400));
        }

        byte[] message = [.. seeds[random.Next(seeds.Length)]];
        int changes = random.Next(1, 4);
        for (int i = 0; i < changes; i++)
        {
            int at = random.Next(message.Length);
            if (framed && at < 4)
            {
                at = 4 + random.Next(message.Length - 4);
            }

            message[at] ^= (byte)random.Next(1, 256);
        }

        return message;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        byte[] bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// The largest message each transport carries, well formed, is read whole and answered: over UDP the largest IPv4
    /// datagram (65,507 bytes) less padding, over a stream the largest STUN message (RFC 8489 §6.2.2: 20 + 65,532).
    /// </summary>
    private static async Task OversizedAsync(TurnTestClient attacker, HostileTransport transport)
    {
        int size = transport == HostileTransport.Udp ? 65504 : StunConstants.MaxMessageLength;
        byte[] largest = Binding((ref StunMessageWriter w) => w.AddAttribute((ushort)0x8077, new byte[size - 20 - 4 - 8]), size: size);
        Assert.Equal(size, largest.Length);
        byte[] answer = await AnsweredAsync(attacker, largest);
        Assert.Equal(new StunMessageType(StunMethod.Binding, StunClass.SuccessResponse), StunTestClient.Decode(answer).Type);
    }

    private static byte[] Binding(StunTestClient.WriterAction? extra = null, int size = 1024)
    {
        byte[] buffer = new byte[size];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, StunClass.Request), TransactionId.NewRandom());
        extra?.Invoke(ref writer);
        writer.AddFingerprint();
        Assert.False(writer.HasOverflowed);
        return buffer[..writer.Length];
    }

    /// <summary>A STUN header (magic cookie, random transaction id) claiming <paramref name="length"/> attribute bytes.</summary>
    private static byte[] Header(ushort type, int length)
    {
        byte[] header = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(header, type);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)length);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), StunConstants.MagicCookie);
        Random.Shared.NextBytes(header.AsSpan(8, 12));
        return header;
    }

    private static async Task<byte[]> AnsweredAsync(TurnTestClient client, byte[] message)
    {
        await client.SendRawAsync(message);
        byte[]? answer = await client.ReceiveAsync(StunTestClient.AnswerTimeout);
        Assert.NotNull(answer);
        Assert.Equal(message.AsSpan(4, 16), answer.AsSpan(4, 16));
        return answer;
    }

    private static async Task AssertReactionAsync(TurnTestClient client, byte[] message, Reaction expected)
    {
        await client.SendRawAsync(message);
        Assert.Equal(expected, expected == Reaction.Closed ? await ObserveUntilClosedAsync(client) : await ObserveAsync(client, Quiet));
    }

    private static async Task<Reaction> ObserveAsync(TurnTestClient client, TimeSpan wait)
    {
        try
        {
            return await client.ReceiveAsync(wait) is null ? Reaction.Silent : Reaction.Answered;
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or SocketException)
        {
            return Reaction.Closed;
        }
    }

    /// <summary>Reads (skipping answers) until the server closes the connection; Silent if it stays open for 5 s.</summary>
    private static async Task<Reaction> ObserveUntilClosedAsync(TurnTestClient client)
    {
        Reaction reaction;
        int answers = 0;
        while ((reaction = await ObserveAsync(client, StunTestClient.AnswerTimeout)) == Reaction.Answered && answers++ < 10_000)
        {
        }

        return reaction;
    }

    private async Task<TurnTestClient> ConnectAsync(HostileTransport transport, IPAddress local, string user, string password)
    {
        switch (transport)
        {
            case HostileTransport.Udp:
                return new TurnTestClient(server.V4, user, password, tcp: false, local);
            case HostileTransport.Tcp:
                return new TurnTestClient(server.V4, user, password, tcp: true, local);
            default:
                var (client, _) = await TurnTestClient.ConnectTlsAsync(new IPEndPoint(IPAddress.Loopback, Registry.TlsPort), user, password,
                    Registry.TlsCertificateSha256!, localAddress: local);
                return client;
        }
    }

    /// <summary>A fresh honest client on the same transport gets its Binding answered; every bystander still relays.</summary>
    private async Task AssertServerCarriesOnAsync(HostileTransport transport)
    {
        using TurnTestClient honest = await ConnectAsync(transport, IPAddress.Loopback, RelayServerFixture.User, RelayServerFixture.Password);
        byte[] answer = await honest.RequestAsync(StunMethod.Binding);
        Assert.Equal(honest.LocalAddress, TurnTestClient.XorAddress(answer, StunAttributeType.XorMappedAddress));
        foreach (Bystander bystander in _bystanders)
        {
            await bystander.AssertRelaysAsync();
        }
    }

    private int ErrorLogCount() => server.Logs.Events.Count(e => e.Level >= LogLevel.Error);

    /// <summary>An honest client on 127.0.0.1 with an allocation and a channel to its own peer.</summary>
    private sealed class Bystander : IAsyncDisposable
    {
        private const ushort Channel = 0x4ABC;
        private readonly TurnTestClient _client;
        private readonly TransportAddress _relayed;
        private readonly bool _tcp;

        private Bystander(TurnTestClient client, Socket peer, TransportAddress relayed, bool tcp)
        {
            _client = client;
            Peer = peer;
            _relayed = relayed;
            _tcp = tcp;
        }

        public Socket Peer { get; }

        public static async Task<Bystander> StartAsync(IPEndPoint server, bool tcp)
        {
            var client = new TurnTestClient(server, RelayServerFixture.User, RelayServerFixture.Password, tcp);
            byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
            Assert.Null(TurnTestClient.ErrorCode(answer));
            Socket peer = PeerSockets.Peer();
            TransportAddress peerAddress = PeerSockets.AddressOf(peer);
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(Channel);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
            })));
            return new Bystander(client, peer, TurnTestClient.XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value, tcp);
        }

        /// <summary>RFC 8656 §12: ChannelData out to the peer and back, both ways, with the payload intact.</summary>
        public async Task AssertRelaysAsync()
        {
            byte[] payload = RandomBytes(Random.Shared, 5);
            byte[] frame = new byte[_tcp ? 12 : 9];
            ChannelData.WriteHeader(frame, Channel, payload.Length);
            payload.CopyTo(frame, 4);
            await _client.SendRawAsync(frame);
            (byte[] Data, IPEndPoint From)? atPeer = await PeerSockets.ReceiveFromAsync(Peer, StunTestClient.AnswerTimeout);
            Assert.NotNull(atPeer);
            Assert.Equal(payload, atPeer.Value.Data);
            Assert.Equal(_relayed.ToIPEndPoint(), atPeer.Value.From);

            await Peer.SendToAsync(payload, _relayed.ToIPEndPoint());
            byte[]? back = await _client.ReceiveAsync(StunTestClient.AnswerTimeout);
            Assert.NotNull(back);
            Assert.Equal(Channel, BinaryPrimitives.ReadUInt16BigEndian(back));
            Assert.Equal(payload, back.AsSpan(4, payload.Length).ToArray());
        }

        /// <summary>Deletes the allocation (RFC 8656 §8: LIFETIME 0), so the battery does not pile allocations up.</summary>
        public async ValueTask DisposeAsync()
        {
            Assert.Null(TurnTestClient.ErrorCode(await _client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0))));
            _client.Dispose();
            Peer.Dispose();
        }
    }
}
