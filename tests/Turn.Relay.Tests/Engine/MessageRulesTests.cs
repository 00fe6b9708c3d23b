using System.Buffers.Binary;
using System.Text;
using Turn.Relay.Allocations;
using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>
/// RFC 8489 §6.3 and §14 (checklist section A) as the TURN engine applies them: which messages are answered, what every
/// answer carries, and how attributes the engine does not act on are treated.
/// </summary>
public class MessageRulesTests
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly EngineHarness _engine = new();

    private FakeRelayEndpoint Relay => Assert.Single(_engine.Ports.Endpoints);

    private static byte[] CreatePermission(TransportAddress peer) =>
        Request(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peer));

    private static byte[] ChannelBind(ushort channel, TransportAddress peer) =>
        Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(channel);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        });

    private static byte[] SendIndication(TransportAddress peer, byte[] data, Attributes? more = null) =>
        Request(StunMethod.Send, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            w.AddAttribute(StunAttributeType.Data, data);
            more?.Invoke(ref w);
        }, user: null, cls: StunClass.Indication);

    private Allocation Allocation()
    {
        Assert.True(_engine.Allocations.TryGet(Client, out Allocation allocation));
        return allocation;
    }

    /// <summary>
    /// Requests of every method the engine serves, answered with success and with the usual errors (from 300 to 508),
    /// each with the answer the engine gave.
    /// </summary>
    private static List<(byte[] Request, Answer Answer)> Exchanges()
    {
        var engine = new EngineHarness(new TurnEngineOptions { Software = "engine", UserQuota = 1, AlternateServers = [Address("192.0.2.10", 3478)] });
        var exchanges = new List<(byte[], Answer)>();
        void Exchange(byte[] request, FiveTuple? tuple = null) =>
            exchanges.Add((request, engine.Send(request, tuple) ?? throw new InvalidOperationException("no answer")));

        FiveTuple other = Tuple("198.51.100.77", 4000);
        Exchange(Request(StunMethod.Binding, user: null));
        Exchange(Request(StunMethod.Refresh));                                                                        // 437
        Exchange(Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17), user: null)); // 401
        Exchange(Request(StunMethod.Allocate));                                                                       // 400
        Exchange(Allocate((ref StunMessageWriter w) => w.AddAttribute(0x7F00, [1, 2, 3, 4])));                        // 420
        Exchange(Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(1)));             // 442
        Exchange(Allocate((ref StunMessageWriter w) => w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, StunAddressFamily.IPv6))); // 440
        Exchange(Allocate((ref StunMessageWriter w) => w.AddReservationToken(42)));                                   // 508
        Exchange(Allocate());                                                                                         // success
        Exchange(Allocate());                                                                                         // 437
        Exchange(Allocate(), other);                                                                                  // 486
        Exchange(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(1200)));                      // success
        Exchange(Request(StunMethod.Refresh, user: "bob"));                                                           // 441
        Exchange(CreatePermission(Peer));                                                                             // success
        Exchange(CreatePermission(Address("127.0.0.1", 9)));                                                          // 403
        Exchange(CreatePermission(Address("2a00:1450::1", 443)));                                                     // 443
        Exchange(ChannelBind(0x4000, Peer));                                                                          // success
        Exchange(ChannelBind(0x3FFF, OtherPeer));                                                                     // 400
        Exchange(Request(StunMethod.Connect, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer))); // 400
        Exchange(Request(StunMethod.ConnectionBind, (ref StunMessageWriter w) => w.AddConnectionId(1)));              // 400
        engine.Processor.Draining = true;
        Exchange(Allocate(user: "bob"), Tuple("198.51.100.78", 4000));                                                // 300
        return exchanges;
    }

    /// <summary>
    /// Checklist 7, RFC 8489 §5, §6.3.1.1: every answer, success or error, carries the request's transaction ID and
    /// method.
    /// </summary>
    [Fact]
    public void Rfc8489_S6_3_1_1_every_answer_echoes_the_transaction_id_and_method()
    {
        var methods = new HashSet<StunMethod>();
        foreach (var (request, answer) in Exchanges())
        {
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(request, out StunMessageReader sent));
            Assert.Equal(sent.Header.TransactionId, answer.TransactionId);
            Assert.Equal(sent.Header.Method, answer.Method);
            Assert.True(answer.Class is StunClass.SuccessResponse or StunClass.ErrorResponse);
            methods.Add(answer.Method);
        }

        Assert.Equal(
            [StunMethod.Binding, StunMethod.Allocate, StunMethod.Refresh, StunMethod.CreatePermission, StunMethod.ChannelBind,
             StunMethod.Connect, StunMethod.ConnectionBind],
            methods.Order());
    }

    /// <summary>
    /// Checklist 17, RFC 8489 §6.3.1.1, §14.8: every error response carries ERROR-CODE with the reserved bits zero, the
    /// class 3-6, the number 0-99 and a UTF-8 reason phrase of fewer than 128 characters.
    /// </summary>
    [Fact]
    public void Rfc8489_S14_8_every_error_response_carries_a_well_formed_error_code()
    {
        var codes = new List<int>();
        foreach (var (_, answer) in Exchanges())
        {
            if (answer.Class != StunClass.ErrorResponse)
            {
                continue;
            }

            Assert.True(answer.Reader.TryGetAttribute(StunAttributeType.ErrorCode, out StunAttribute error), "an error response without ERROR-CODE");
            byte[] value = error.Value.ToArray();
            Assert.True(value.Length >= 4);
            Assert.Equal(0, value[0]);
            Assert.Equal(0, value[1]);
            Assert.Equal(0, value[2] & 0xF8);
            Assert.InRange(value[2], 3, 6);
            Assert.InRange(value[3], 0, 99);
            string reason = StrictUtf8.GetString(value, 4, value.Length - 4);
            Assert.InRange(reason.EnumerateRunes().Count(), 1, 127);
            codes.Add((value[2] * 100) + value[3]);
        }

        Assert.Equal([300, 400, 401, 403, 420, 437, 440, 441, 442, 443, 486, 508], codes.Distinct().Order());
    }

    /// <summary>
    /// Checklist 18, RFC 8656 §5, RFC 8489 §6.3.1.1, §14.14: every Allocate and Refresh response, success or error,
    /// carries SOFTWARE (fewer than 128 characters).
    /// </summary>
    [Fact]
    public void Rfc8656_S5_allocate_and_refresh_responses_carry_software()
    {
        int checkedAnswers = 0;
        foreach (var (_, answer) in Exchanges())
        {
            if (answer.Method is not (StunMethod.Allocate or StunMethod.Refresh))
            {
                continue;
            }

            Assert.True(answer.Reader.TryGetAttribute(StunAttributeType.Software, out StunAttribute software), $"{answer.Method} {answer.ErrorCode}");
            Assert.Equal("engine", StrictUtf8.GetString(software.Value));
            Assert.True(TextValue.IsValid(StunAttributeType.Software, software.Value));
            checkedAnswers++;
        }

        Assert.Equal(13, checkedAnswers);
    }

    /// <summary>
    /// Checklist 5, 6, RFC 8489 §6.3, RFC 8656 §17, RFC 6062 §6.1: a method the server does not serve, a class its
    /// method does not allow (Send, Data, ConnectionAttempt as requests; the request methods as indications; a Data
    /// indication from a client) and any success or error response are discarded without an answer or an effect.
    /// </summary>
    [Fact]
    public void Rfc8489_S6_3_methods_and_classes_the_server_does_not_serve_are_discarded()
    {
        _engine.AllocateOk();
        byte[][] unsupported =
        [
            Request(StunMethod.Send, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)),
            Request(StunMethod.Data, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)),
            Request(StunMethod.ConnectionAttempt, (ref StunMessageWriter w) => w.AddConnectionId(1)),
            Request((StunMethod)0x0AB),
            Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17), user: null, cls: StunClass.Indication),
            Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0), user: null, cls: StunClass.Indication),
            Request(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer),
                user: null, cls: StunClass.Indication),
            Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4000);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
            }, user: null, cls: StunClass.Indication),
            Request(StunMethod.Connect, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer), user: null,
                cls: StunClass.Indication),
            Request(StunMethod.ConnectionBind, (ref StunMessageWriter w) => w.AddConnectionId(1), user: null, cls: StunClass.Indication),
            Request(StunMethod.Data, (ref StunMessageWriter w) =>
            {
                w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
                w.AddAttribute(StunAttributeType.Data, [1]);
            }, user: null, cls: StunClass.Indication),
            Request(StunMethod.ConnectionAttempt, (ref StunMessageWriter w) => w.AddConnectionId(1), user: null, cls: StunClass.Indication),
        ];
        var responses = new List<byte[]>();
        foreach (StunMethod method in new[] { StunMethod.Binding, StunMethod.Allocate, StunMethod.Refresh, StunMethod.CreatePermission, StunMethod.ChannelBind })
        {
            responses.Add(Request(method, user: null, cls: StunClass.SuccessResponse));
            responses.Add(Request(method, (ref StunMessageWriter w) => w.AddErrorCode(StunErrorCode.BadRequest), user: null, cls: StunClass.ErrorResponse));
        }

        foreach (byte[] message in unsupported.Concat(responses))
        {
            Assert.Null(_engine.Send(message));
        }

        Assert.Equal(unsupported.Length, _engine.Counters.Dropped(DropReason.UnsupportedMethod));
        Assert.Equal(responses.Count, _engine.Counters.Dropped(DropReason.UnexpectedResponse));
        Assert.Equal(1, _engine.Counters.SuccessResponses);
        Assert.Equal(0, _engine.Counters.ErrorResponses);

        // Nothing took effect: still one allocation, alive, without permissions or channels, and nothing relayed.
        Assert.Equal(1, _engine.Allocations.Count);
        Assert.Equal(0, Allocation().PermissionCount);
        Assert.False(Allocation().TryGetChannel(0x4000, _engine.Time.GetTimestamp(), out _));
        Assert.Empty(Relay.Sent);
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(Request(StunMethod.Refresh))!.Class);
    }

    /// <summary>
    /// Checklist 15, 16, RFC 8489 §6.3.2: a Send indication with an unknown comprehension-required attribute is discarded
    /// (nothing is relayed); one with an unknown comprehension-optional attribute is relayed; neither is answered.
    /// </summary>
    [Fact]
    public void Rfc8489_S6_3_2_send_indication_with_an_unknown_required_attribute_is_discarded()
    {
        _engine.AllocateOk();
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(CreatePermission(Peer))!.Class);

        Assert.Null(_engine.Send(SendIndication(Peer, [1], (ref StunMessageWriter w) => w.AddAttribute(0x7F00, [9, 9, 9, 9]))));
        Assert.Empty(Relay.Sent);
        Assert.Equal(1, _engine.Counters.Dropped(DropReason.UnknownAttributeInIndication));

        Assert.Null(_engine.Send(SendIndication(Peer, [2], (ref StunMessageWriter w) => w.AddAttribute(0x8F00, [9, 9, 9, 9]))));
        Assert.Equal(new byte[] { 2 }, Assert.Single(Relay.Sent).Payload);
    }

    /// <summary>
    /// Checklist 12, 13, RFC 8489 §6.3: unknown comprehension-optional attributes and known attributes that have no
    /// meaning in the request at hand are ignored: Binding, Allocate and CreatePermission succeed as without them.
    /// </summary>
    [Fact]
    public void Rfc8489_S6_3_unknown_optional_and_unexpected_known_attributes_are_ignored()
    {
        void Extras(ref StunMessageWriter w)
        {
            w.AddAttribute(0x8F00, [1, 2, 3]);
            w.AddAttribute(0xC0DE, []);
            w.AddChannelNumber(0x4000);
            w.AddAttribute(StunAttributeType.Data, [1, 2, 3]);
            w.AddIcmp(3, 3, 0);
            w.AddAddress(StunAttributeType.AlternateServer, Address("192.0.2.10", 3478));
            w.AddConnectionId(7);
        }

        Answer binding = _engine.Send(Request(StunMethod.Binding, (ref StunMessageWriter w) =>
        {
            Extras(ref w);
            w.AddLifetime(600);
            w.AddRequestedTransport(17);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
        }, user: null))!;
        Assert.Equal(StunClass.SuccessResponse, binding.Class);
        Assert.Equal(Client.Client, binding.XorAddress(StunAttributeType.XorMappedAddress));

        Answer allocate = _engine.Send(Allocate(Extras))!;
        Assert.Equal(StunClass.SuccessResponse, allocate.Class);
        Assert.Equal(600u, allocate.Lifetime);
        Assert.False(Allocation().TryGetChannel(0x4000, _engine.Time.GetTimestamp(), out _));
        Assert.Empty(Relay.Sent);

        Answer permission = _engine.Send(Request(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
            Extras(ref w);
            w.AddLifetime(0);
            w.AddRequestedTransport(6);
        }))!;
        Assert.Equal(StunClass.SuccessResponse, permission.Class);
        Assert.Equal(1, Allocation().PermissionCount);
        Assert.True(Allocation().IsLive(_engine.Time.GetTimestamp()));
        Assert.Empty(Relay.Sent);
    }

    /// <summary>
    /// Checklist 11, RFC 8489 §14: of duplicate attributes the first is the one acted on, and the same one is checked:
    /// a Send indication goes to its first XOR-PEER-ADDRESS only if that one has a permission, and a ChannelBind's
    /// first XOR-PEER-ADDRESS is both checked against the address policy and bound.
    /// </summary>
    [Fact]
    public void Rfc8489_S14_the_first_of_duplicate_attributes_is_checked_and_used()
    {
        _engine.AllocateOk();
        Assert.Equal(StunClass.SuccessResponse, _engine.Send(CreatePermission(Peer))!.Class);

        _engine.Send(SendIndication(Peer, [1], (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, OtherPeer)));
        var (payload, to) = Assert.Single(Relay.Sent);
        Assert.Equal(new byte[] { 1 }, payload);
        Assert.Equal(Peer, to);
        _engine.Send(SendIndication(OtherPeer, [2], (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)));
        Assert.Single(Relay.Sent);

        TransportAddress loopback = Address("127.0.0.1", 9);
        Answer refused = _engine.Send(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(0x4000);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, loopback);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, OtherPeer);
        }))!;
        Assert.Equal(StunErrorCode.Forbidden, refused.ErrorCode);

        Answer bound = _engine.Send(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(0x4001);
            w.AddChannelNumber(0x4002);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, OtherPeer);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, loopback);
        }))!;
        Assert.Equal(StunClass.SuccessResponse, bound.Class);
        long now = _engine.Time.GetTimestamp();
        Assert.True(Allocation().TryGetChannel(0x4001, now, out ChannelBinding channel));
        Assert.Equal(OtherPeer, channel.Peer);
        Assert.False(Allocation().TryGetChannel(0x4002, now, out _));
        Assert.False(Allocation().HasPermission(loopback, now));
    }

    /// <summary>
    /// Checklist 3, 10, RFC 8489 §5, §6.3, §14: a request whose header Length is not a multiple of 4, or one with an
    /// attribute running past the end of the message, is discarded without an answer, not cut short and served.
    /// </summary>
    [Fact]
    public void Rfc8489_S6_3_broken_lengths_are_discarded_not_answered()
    {
        byte[] overrun = [.. Request(StunMethod.Binding, (ref StunMessageWriter w) => w.AddText(StunAttributeType.Software, "abcd"), user: null, fingerprint: false),
            0x80, 0x22, 0x00, 0x09, (byte)'e', (byte)'f', (byte)'g', (byte)'h'];
        BinaryPrimitives.WriteUInt16BigEndian(overrun.AsSpan(2), (ushort)(overrun.Length - StunConstants.HeaderLength));
        Assert.Null(_engine.Send(overrun));

        byte[] allocate = Allocate();
        byte[] allocateOverrun = [.. allocate, 0x00, 0x0D, 0x00, 0x08, 0, 0, 2, 88];
        BinaryPrimitives.WriteUInt16BigEndian(allocateOverrun.AsSpan(2), (ushort)(allocateOverrun.Length - StunConstants.HeaderLength));
        Assert.Null(_engine.Send(allocateOverrun));

        byte[] notMultipleOfFour = Request(StunMethod.Binding, user: null, fingerprint: false);
        notMultipleOfFour = [.. notMultipleOfFour, 0, 0];
        BinaryPrimitives.WriteUInt16BigEndian(notMultipleOfFour.AsSpan(2), 2);
        Assert.Null(_engine.Send(notMultipleOfFour));

        Assert.Equal(3, _engine.Counters.Dropped(DropReason.Malformed));
        Assert.Equal(0, _engine.Allocations.Count);
        Assert.Empty(_engine.Ports.Endpoints);
    }

    /// <summary>
    /// Checklist 23, RFC 8489 §14.3, §14.9, §14.10: a USERNAME of up to 763 bytes and a REALM or NONCE of 127 characters
    /// are accepted; one byte or one character more makes the request malformed (400).
    /// </summary>
    [Theory]
    [InlineData(StunAttributeType.Username, 763, true)]
    [InlineData(StunAttributeType.Username, 764, false)]
    [InlineData(StunAttributeType.Realm, 127, true)]
    [InlineData(StunAttributeType.Realm, 128, false)]
    [InlineData(StunAttributeType.Nonce, 127, true)]
    [InlineData(StunAttributeType.Nonce, 128, false)]
    public void Rfc8489_S14_3_text_attribute_limits_on_receipt(StunAttributeType type, int length, bool accepted)
    {
        byte[] text = Encoding.ASCII.GetBytes(new string('u', length));
        Answer answer = _engine.Send(Request(StunMethod.Binding, (ref StunMessageWriter w) => w.AddAttribute(type, text), user: null))!;
        Assert.Equal(accepted ? StunClass.SuccessResponse : StunClass.ErrorResponse, answer.Class);
        Assert.Equal(accepted ? (int?)null : StunErrorCode.BadRequest, answer.ErrorCode);
    }

    /// <summary>
    /// Checklist 20, RFC 8489 §6.3.1, RFC 8656 §5: a retransmitted CreatePermission, ChannelBind or Refresh (same
    /// transaction ID, over UDP) gets the same success as the first copy, so the client ends in the same state whichever
    /// answer it sees.
    /// </summary>
    [Fact]
    public void Rfc8489_S6_3_1_retransmitted_requests_get_the_same_success()
    {
        _engine.AllocateOk();
        foreach (byte[] request in new[]
        {
            CreatePermission(Peer),
            ChannelBind(0x4000, Peer),
            Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(1200)),
        })
        {
            Answer first = _engine.Send(request)!;
            _engine.Advance(1);
            Answer again = _engine.Send(request)!;
            Assert.Equal(StunClass.SuccessResponse, first.Class);
            Assert.Equal(StunClass.SuccessResponse, again.Class);
            Assert.Equal(first.TransactionId, again.TransactionId);
            Assert.Equal(first.Lifetime, again.Lifetime);
        }

        long now = _engine.Time.GetTimestamp();
        Assert.Equal(1, Allocation().PermissionCount);
        Assert.True(Allocation().TryGetChannel(0x4000, now, out ChannelBinding channel));
        Assert.Equal(Peer, channel.Peer);
    }
}
