using System.Net;
using Microsoft.Extensions.Time.Testing;
using Turn.Relay.Allocations;
using Turn.Relay.Policy;
using Turn.Stun;

namespace Turn.Relay.Tests.Engine;

/// <summary>A TURN engine over fakes: fake clock, fake relay ports, fake client transport, test credentials.</summary>
internal sealed class EngineHarness
{
    public static readonly FiveTuple Client = Tuple("198.51.100.10", 40000);
    public static readonly TransportAddress Peer = Address("1.2.3.4", 5000);
    public static readonly TransportAddress OtherPeer = Address("5.6.7.8", 6000);

    public EngineHarness(TurnEngineOptions? options = null, PeerAddressPolicy? policy = null, params StunAddressFamily[] families)
    {
        if (families.Length > 0)
        {
            Ports.Families.Clear();
            Ports.Families.UnionWith(families);
        }

        Options = options ?? new TurnEngineOptions { Software = "engine" };
        Processor = new StunMessageProcessor(Options, Counters, Time, Allocations, Ports, policy ?? PeerAddressPolicy.Default,
            new TestAuthenticator(("alice", "alice-pass"), ("bob", "bob-pass")));
    }

    public TurnEngineOptions Options { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 26, 12, 0, 0, TimeSpan.Zero));

    public ServerCounters Counters { get; } = new();

    public AllocationTable Allocations { get; } = new();

    public FakePortAllocator Ports { get; } = new();

    public FakeClientTransport Transport { get; } = new();

    public StunMessageProcessor Processor { get; }

    public static FiveTuple Tuple(string ip, int port) =>
        new(Address(ip, port), Address("198.51.100.1", 3478), TransportProtocol.Udp);

    public static TransportAddress Address(string ip, int port) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), port);

    public delegate void Attributes(ref StunMessageWriter writer);

    /// <summary>A request signed as <paramref name="user"/> (null: unsigned), with the given attributes first.</summary>
    public static byte[] Request(StunMethod method, Attributes? attributes = null, string? user = "alice", string? password = null,
        TransactionId? id = null, StunClass cls = StunClass.Request, bool fingerprint = true)
    {
        byte[] buffer = new byte[2048];
        var writer = new StunMessageWriter(buffer, new StunMessageType(method, cls), id ?? TransactionId.NewRandom());
        attributes?.Invoke(ref writer);
        if (user is not null)
        {
            writer.AddText(StunAttributeType.Username, user);
            writer.AddText(StunAttributeType.Realm, TestAuthenticator.Realm);
            writer.AddText(StunAttributeType.Nonce, TestAuthenticator.Nonce);
            writer.AddMessageIntegrity(TestAuthenticator.Key(user, password ?? user + "-pass"));
        }

        if (fingerprint)
        {
            writer.AddFingerprint();
        }

        return buffer[..writer.Length];
    }

    public static byte[] Allocate(Attributes? more = null, string user = "alice", TransactionId? id = null) =>
        Request(StunMethod.Allocate, (ref StunMessageWriter w) =>
        {
            w.AddRequestedTransport(RequestedTransportValue.Udp);
            more?.Invoke(ref w);
        }, user, id: id);

    /// <summary>Runs one packet through the engine; the decoded answer, or null when there is none.</summary>
    public Answer? Send(byte[] packet, FiveTuple? tuple = null, IClientTransport? transport = null)
    {
        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        int length = Processor.Process(packet, tuple ?? Client, transport ?? Transport, response);
        return length == 0 ? null : new Answer(response[..length]);
    }

    public Answer AllocateOk(FiveTuple? tuple = null, string user = "alice")
    {
        Answer answer = Send(Allocate(user: user), tuple) ?? throw new InvalidOperationException("no answer");
        Assert.Equal(StunClass.SuccessResponse, answer.Class);
        return answer;
    }

    public void Advance(TimeSpan by) => Time.Advance(by);

    public void Advance(int seconds) => Time.Advance(TimeSpan.FromSeconds(seconds));
}

/// <summary>A decoded answer from the engine.</summary>
internal sealed class Answer
{
    public Answer(byte[] bytes)
    {
        Bytes = bytes;
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(bytes, out StunMessageReader reader));
        Class = reader.Header.Class;
        Method = reader.Header.Method;
        TransactionId = reader.Header.TransactionId;
        if (reader.TryGetAttribute(StunAttributeType.ErrorCode, out StunAttribute error))
        {
            Assert.True(ErrorCodeValue.TryRead(error.Value, out int code, out _));
            ErrorCode = code;
        }

        HasMessageIntegrity = reader.HasMessageIntegrity;
        FingerprintValid = reader.HasFingerprint && reader.VerifyFingerprint();
    }

    public byte[] Bytes { get; }

    public StunClass Class { get; }

    public StunMethod Method { get; }

    public TransactionId TransactionId { get; }

    public int? ErrorCode { get; }

    public bool HasMessageIntegrity { get; }

    public bool FingerprintValid { get; }

    public StunMessageReader Reader
    {
        get
        {
            StunMessageReader.TryParse(Bytes, out StunMessageReader reader);
            return reader;
        }
    }

    public TransportAddress? XorAddress(StunAttributeType type)
    {
        StunMessageReader reader = Reader;
        return reader.TryGetAttribute(type, out StunAttribute attribute) && XorAddressValue.TryRead(attribute.Value, reader.Header.TransactionId, out TransportAddress address)
            ? address
            : null;
    }

    public uint? Lifetime => UInt(StunAttributeType.Lifetime);

    public uint? UInt(StunAttributeType type)
    {
        StunMessageReader reader = Reader;
        return reader.TryGetAttribute(type, out StunAttribute attribute) && UInt32Value.TryRead(attribute.Value, out uint value) ? value : null;
    }

    public bool Has(StunAttributeType type) => Reader.TryGetAttribute(type, out _);

    public bool VerifyIntegrity(byte[] key) => Reader.VerifyMessageIntegrity(key);
}
