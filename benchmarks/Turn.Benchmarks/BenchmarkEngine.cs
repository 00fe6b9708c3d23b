using System.Buffers.Binary;
using System.Net;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Relay.Auth;
using Turn.Relay.Policy;
using Turn.Stun;

namespace Turn.Benchmarks;

/// <summary>
/// The real TURN engine (<see cref="StunMessageProcessor"/>) as the server builds it: a real
/// <see cref="LongTermAuthenticator"/> with one static user, a real <see cref="PeerAddressPolicy"/> and the system
/// clock. Only the transport is fake: relay endpoints that count (<see cref="BenchmarkPortAllocator"/>) and a client
/// transport that counts (<see cref="CountingClientTransport"/>). The client side of the exchanges (401 round, signed
/// requests) is written here for setting up; it is never part of a measured method.
/// </summary>
internal sealed class BenchmarkEngine
{
    public const string Software = "turn-bench 1.0";
    public const string Realm = "example.org";
    public const string Username = "alice";
    public const string Password = "VOkJxbRl1RmTxUk/WvJxBt";

    /// <summary>The listening address every client tuple goes to.</summary>
    public static readonly TransportAddress ServerAddress = Address("198.51.100.1", 3478);

    private readonly byte[] _md5Key = new byte[16];

    public BenchmarkEngine(TurnEngineOptions? options = null)
    {
        Options = options ?? new TurnEngineOptions { Software = Software };
        Authenticator = LongTermAuthenticator.Create(new LongTermAuthOptions
        {
            Realm = Realm,
            Users = [$"{Username}:{Password}"],
            // Longer than the default 600 s so that a nonce fetched in GlobalSetup outlives any benchmark run.
            NonceLifetime = TimeSpan.FromHours(2),
        }, Time);
        // As a deployment would configure it: the server's own address is refused, relay-to-relay pairs on the relay
        // port range are not, and the documentation range the peers live in is allowed explicitly.
        Policy = new PeerAddressPolicy(new PeerAddressPolicyOptions
        {
            ServerAddresses = [IPAddress.Parse("198.51.100.1")],
            RelayMinPort = 49152,
            RelayMaxPort = 65535,
            AllowedPeerRanges = ["203.0.113.0/24"],
        });
        Processor = new StunMessageProcessor(Options, Counters, Time, Allocations, Ports, Policy, Authenticator);
        StunCredentials.DeriveLongTermKey(Username, Realm, Password, PasswordAlgorithm.Md5, _md5Key);
    }

    public TurnEngineOptions Options { get; }

    public TimeProvider Time { get; } = TimeProvider.System;

    public ServerCounters Counters { get; } = new();

    public AllocationTable Allocations { get; } = new();

    public BenchmarkPortAllocator Ports { get; } = new();

    public CountingClientTransport Transport { get; } = new();

    public LongTermAuthenticator Authenticator { get; }

    public PeerAddressPolicy Policy { get; }

    public StunMessageProcessor Processor { get; }

    /// <summary>The answer buffer every <see cref="Process"/> writes into.</summary>
    public byte[] Response { get; } = new byte[StunMessageProcessor.MaxResponseLength];

    public static TransportAddress Address(string ip, int port) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), port);

    public static FiveTuple UdpTuple(TransportAddress client) => new(client, ServerAddress, TransportProtocol.Udp);

    /// <summary>Client number <paramref name="index"/> of many: 100.64.0.0/10 (carrier-grade NAT) addresses, varied ports.</summary>
    public static FiveTuple ManyClientsTuple(int index)
    {
        Span<byte> ip = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(ip, 0x6440_0000u + (uint)index);
        return UdpTuple(TransportAddress.FromIPv4(ip, (ushort)(20000 + (index * 7919 % 40000))));
    }

    public int Process(ReadOnlySpan<byte> packet, in FiveTuple tuple) => Processor.Process(packet, tuple, Transport, Response);

    public delegate void Attributes(ref StunMessageWriter writer);

    /// <summary>
    /// A request as a client writes it: <paramref name="attributes"/>, then (with a nonce) USERNAME, REALM, NONCE and
    /// MESSAGE-INTEGRITY with the MD5 long-term key, then FINGERPRINT.
    /// </summary>
    public byte[] Request(StunMethod method, TransactionId id, Attributes? attributes, ReadOnlySpan<byte> nonce)
    {
        Span<byte> buffer = stackalloc byte[1500];
        var writer = new StunMessageWriter(buffer, new StunMessageType(method, StunClass.Request), id);
        attributes?.Invoke(ref writer);
        if (!nonce.IsEmpty)
        {
            writer.AddText(StunAttributeType.Username, Username);
            writer.AddText(StunAttributeType.Realm, Realm);
            writer.AddAttribute(StunAttributeType.Nonce, nonce);
            writer.AddMessageIntegrity(_md5Key);
        }

        writer.AddFingerprint();
        Check(!writer.HasOverflowed, "request fits");
        return writer.WrittenSpan.ToArray();
    }

    public byte[] AllocateRequest(TransactionId id, ReadOnlySpan<byte> nonce) =>
        Request(StunMethod.Allocate, id, static (ref StunMessageWriter w) => w.AddRequestedTransport(RequestedTransportValue.Udp), nonce);

    public byte[] RefreshRequest(TransactionId id, uint lifetime, ReadOnlySpan<byte> nonce) =>
        Request(StunMethod.Refresh, id, (ref StunMessageWriter w) => w.AddLifetime(lifetime), nonce);

    /// <summary>The first Allocate of a client: unsigned; the engine answers 401 with REALM and a NONCE for this client.</summary>
    public byte[] Challenge(in FiveTuple tuple)
    {
        int length = Process(AllocateRequest(TransactionId.NewRandom(), default), tuple);
        Check(StunMessageReader.TryParse(Response.AsSpan(0, length), out StunMessageReader reader) == StunParseStatus.Success
            && reader.Header.Class == StunClass.ErrorResponse
            && reader.TryGetAttribute(StunAttributeType.ErrorCode, out StunAttribute error)
            && ErrorCodeValue.TryRead(error.Value, out int code, out _) && code == StunErrorCode.Unauthenticated
            && reader.TryGetAttribute(StunAttributeType.Nonce, out _), "401 with NONCE");
        reader.TryGetAttribute(StunAttributeType.Nonce, out StunAttribute value);
        return value.Value.ToArray();
    }

    /// <summary>The whole Allocate exchange for one client (401, then signed); returns the nonce to sign more with.</summary>
    public byte[] Allocate(in FiveTuple tuple)
    {
        byte[] nonce = Challenge(tuple);
        ExpectSuccess(Process(AllocateRequest(TransactionId.NewRandom(), nonce), tuple), "Allocate");
        return nonce;
    }

    /// <summary>Checks that an answer of this length in <see cref="Response"/> is a success signed with the user's key.</summary>
    public void ExpectSuccess(int length, string what) =>
        Check(StunMessageReader.TryParse(Response.AsSpan(0, length), out StunMessageReader reader) == StunParseStatus.Success
            && reader.Header.Class == StunClass.SuccessResponse
            && reader.VerifyMessageIntegrity(_md5Key)
            && reader.VerifyFingerprint(), what + " succeeds");

    public static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"Benchmark precondition failed: {what}.");
        }
    }
}

/// <summary>
/// A relay endpoint whose <see cref="SendToPeer"/> only counts, and which keeps what <see cref="Attach"/> gave it so a
/// benchmark can deliver peer datagrams the way a relay socket does. Disposing it gives it back to its allocator.
/// </summary>
internal sealed class CountingRelayEndpoint(TransportAddress address, BenchmarkPortAllocator owner) : IRelayEndpoint
{
    public TransportAddress LocalAddress { get; } = address;

    public long SentToPeer { get; private set; }

    public long BytesToPeer { get; private set; }

    public Allocation? Allocation { get; private set; }

    public IPeerDataHandler? Handler { get; private set; }

    public void SendToPeer(ReadOnlySpan<byte> payload, in TransportAddress peer, bool dontFragment = false)
    {
        SentToPeer++;
        BytesToPeer += payload.Length;
    }

    public void SetDontFragment(bool enabled)
    {
    }

    public void Attach(Allocation allocation, IPeerDataHandler handler)
    {
        Allocation = allocation;
        Handler = handler;
    }

    public void Dispose()
    {
        Allocation = null;
        Handler = null;
        owner.Return(this);
    }
}

/// <summary>
/// Hands out counting endpoints on 192.0.2.0/24, ports 49152-65535, and reuses the ones given back, so that a
/// benchmark creating and deleting allocations measures the engine and not this fake.
/// </summary>
internal sealed class BenchmarkPortAllocator : IRelayPortAllocator
{
    private const int PortsPerAddress = 65536 - 49152;

    private readonly Stack<CountingRelayEndpoint> _free = new();
    private int _created;

    public int Created => _created;

    public CountingRelayEndpoint? Last { get; private set; }

    public bool Supports(StunAddressFamily family) => family == StunAddressFamily.IPv4;

    public RelayPortGrant? TryAllocate(RelayPortRequest request)
    {
        if (!_free.TryPop(out CountingRelayEndpoint? endpoint))
        {
            Span<byte> ip = [192, 0, 2, (byte)(1 + (_created / PortsPerAddress))];
            endpoint = new CountingRelayEndpoint(TransportAddress.FromIPv4(ip, (ushort)(49152 + (_created % PortsPerAddress))), this);
            _created++;
        }

        Last = endpoint;
        return new RelayPortGrant(endpoint, null);
    }

    public IRelayEndpoint? TryClaimReservation(ulong token) => null;

    internal void Return(CountingRelayEndpoint endpoint) => _free.Push(endpoint);
}

/// <summary>
/// The client transport: every allocation gets the same sender, which only counts what it is asked to send. (A real
/// transport makes one sender per allocation; that object is not the engine's cost.)
/// </summary>
internal sealed class CountingClientTransport : IClientTransport
{
    public CountingClientSender Sender { get; } = new();

    public IClientSender CreateSender(in FiveTuple tuple) => Sender;
}

internal sealed class CountingClientSender : IClientSender
{
    public long Sent { get; private set; }

    public long Bytes { get; private set; }

    public void Send(ReadOnlySpan<byte> message)
    {
        Sent++;
        Bytes += message.Length;
    }
}
