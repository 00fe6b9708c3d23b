using System.Net;
using BenchmarkDotNet.Attributes;
using Turn.Relay;
using Turn.Stun;
using static Turn.Benchmarks.CodecSamples;

namespace Turn.Benchmarks;

/// <summary>
/// The STUN codec on the paths a server takes per message: parse a request (framing, attribute walk, FINGERPRINT or
/// MESSAGE-INTEGRITY(-SHA256) check) and write the response into a buffer it owns. Every request is built once in
/// <see cref="Setup"/>; the measured methods must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private static readonly StunMessageType BindingRequest = new(StunMethod.Binding, StunClass.Request);
    private static readonly StunMessageType BindingSuccess = new(StunMethod.Binding, StunClass.SuccessResponse);
    private static readonly StunMessageType AllocateRequest = new(StunMethod.Allocate, StunClass.Request);
    private static readonly StunMessageType AllocateSuccess = new(StunMethod.Allocate, StunClass.SuccessResponse);

    private readonly byte[] _response = new byte[1500];
    private readonly byte[] _md5Key = new byte[16];
    private readonly byte[] _sha256Key = new byte[32];
    private readonly StunMessageProcessor _processor = new(new TurnEngineOptions { Software = Software }, new ServerCounters());

    private byte[] _bindingRequest = [];
    private byte[] _longTermRequest = [];
    private byte[] _sha256Request = [];
    private TransactionId _transactionId;
    private TransportAddress _clientV4;
    private TransportAddress _clientV6;
    private TransportAddress _relayed;
    private FiveTuple _tuple;

    [GlobalSetup]
    public void Setup()
    {
        _transactionId = TransactionId.Read([0xB7, 0xE7, 0xA7, 0x01, 0xBC, 0x34, 0xD6, 0x86, 0xFA, 0x87, 0xDF, 0xAE]);
        _clientV4 = TransportAddress.FromIPAddress(IPAddress.Parse("192.0.2.1"), 32853);
        _clientV6 = TransportAddress.FromIPAddress(IPAddress.Parse("2001:db8:1234:5678:11:2233:4455:6677"), 32853);
        _relayed = TransportAddress.FromIPAddress(IPAddress.Parse("203.0.113.7"), 49152);
        _tuple = new FiveTuple(_clientV4, TransportAddress.FromIPAddress(IPAddress.Parse("198.51.100.1"), 3478), TransportProtocol.Udp);
        StunCredentials.DeriveLongTermKey(Username, Realm, Password, PasswordAlgorithm.Md5, _md5Key);
        StunCredentials.DeriveLongTermKey(Username, Realm, Password, PasswordAlgorithm.Sha256, _sha256Key);

        // RFC 5389 Binding request as a client sends it: SOFTWARE, then FINGERPRINT last.
        _bindingRequest = Build(BindingRequest, static (ref StunMessageWriter w, CodecBenchmarks _) =>
        {
            w.AddText(StunAttributeType.Software, "STUN test client");
            w.AddFingerprint();
        });

        // Long-term credentials (RFC 8489 §9.2, MD5 key): the second Allocate after the 401 challenge.
        _longTermRequest = Build(AllocateRequest, static (ref StunMessageWriter w, CodecBenchmarks b) =>
        {
            w.AddRequestedTransport(17);
            w.AddText(StunAttributeType.Software, "STUN test client");
            w.AddText(StunAttributeType.Username, Username);
            w.AddText(StunAttributeType.Realm, Realm);
            w.AddText(StunAttributeType.Nonce, Nonce);
            w.AddMessageIntegrity(b._md5Key);
            w.AddFingerprint();
        });

        // RFC 8489 §9.2 with PASSWORD-ALGORITHM SHA-256 and MESSAGE-INTEGRITY-SHA256 only.
        _sha256Request = Build(AllocateRequest, static (ref StunMessageWriter w, CodecBenchmarks b) =>
        {
            w.AddRequestedTransport(17);
            w.AddText(StunAttributeType.Username, Username);
            w.AddText(StunAttributeType.Realm, Realm);
            w.AddText(StunAttributeType.Nonce, Nonce);
            w.AddPasswordAlgorithm(PasswordAlgorithm.Sha256);
            w.AddMessageIntegritySha256(b._sha256Key);
            w.AddFingerprint();
        });

        // The measured paths must succeed, or the numbers would time an early exit.
        Check(ParseBindingRequest() > 0, nameof(ParseBindingRequest));
        Check(WriteBindingResponseIPv4() > 0, nameof(WriteBindingResponseIPv4));
        Check(WriteBindingResponseIPv6() > 0, nameof(WriteBindingResponseIPv6));
        Check(HandleBindingRequest() > 0, nameof(HandleBindingRequest));
        Check(ParseAndVerifyMessageIntegrity() > 0, nameof(ParseAndVerifyMessageIntegrity));
        Check(WriteResponseWithMessageIntegrity() > 0, nameof(WriteResponseWithMessageIntegrity));
        Check(ParseAndVerifyMessageIntegritySha256() > 0, nameof(ParseAndVerifyMessageIntegritySha256));
        Check(WriteResponseWithMessageIntegritySha256() > 0, nameof(WriteResponseWithMessageIntegritySha256));

        // The written responses must read back as what was meant.
        int length = WriteResponseWithMessageIntegrity();
        Check(StunMessageReader.TryParse(_response.AsSpan(0, length), out StunMessageReader reader) == StunParseStatus.Success
            && reader.VerifyMessageIntegrity(_md5Key) && reader.VerifyFingerprint(), "MESSAGE-INTEGRITY response round trip");
        length = WriteBindingResponseIPv6();
        Check(StunMessageReader.TryParse(_response.AsSpan(0, length), out reader) == StunParseStatus.Success
            && reader.VerifyFingerprint()
            && reader.TryGetAttribute(StunAttributeType.XorMappedAddress, out StunAttribute mapped)
            && XorAddressValue.TryRead(mapped.Value, reader.Header.TransactionId, out TransportAddress address)
            && address == _clientV6, "XOR-MAPPED-ADDRESS IPv6 round trip");
    }

    /// <summary>(a) Parse a Binding request, walk and check its attributes, verify FINGERPRINT.</summary>
    [Benchmark]
    public int ParseBindingRequest()
    {
        if (StunMessageReader.TryParse(_bindingRequest, out StunMessageReader reader) != StunParseStatus.Success)
        {
            return -1;
        }

        int score = 0;
        foreach (StunAttribute attribute in reader.Attributes)
        {
            if (!StunAttributeValidator.IsWellFormed(attribute.Type, attribute.Value))
            {
                return -2;
            }

            score += attribute.Value.Length;
        }

        return reader.VerifyFingerprint() ? score : -3;
    }

    /// <summary>(b) Binding success response: XOR-MAPPED-ADDRESS (IPv4), SOFTWARE, FINGERPRINT.</summary>
    [Benchmark]
    public int WriteBindingResponseIPv4() => WriteBindingResponse(_transactionId, _clientV4);

    /// <summary>(b) Binding success response: XOR-MAPPED-ADDRESS (IPv6), SOFTWARE, FINGERPRINT.</summary>
    [Benchmark]
    public int WriteBindingResponseIPv6() => WriteBindingResponse(_transactionId, _clientV6);

    /// <summary>
    /// (c) What the server does per Binding (RFC 8489 §6.3, §7, §12), through the server's own protocol engine:
    /// classify, parse, check FINGERPRINT, refuse unknown comprehension-required and malformed known attributes, answer
    /// with XOR-MAPPED-ADDRESS of the source, SOFTWARE and FINGERPRINT.
    /// </summary>
    [Benchmark]
    public int HandleBindingRequest() => _processor.Process(_bindingRequest, _tuple, _response);

    /// <summary>(d) Parse a long-term-authenticated Allocate, read USERNAME/REALM/NONCE, verify MESSAGE-INTEGRITY.</summary>
    [Benchmark]
    public int ParseAndVerifyMessageIntegrity()
    {
        if (StunMessageReader.TryParse(_longTermRequest, out StunMessageReader reader) != StunParseStatus.Success
            || !reader.TryGetAttribute(StunAttributeType.Username, out StunAttribute username)
            || !reader.TryGetAttribute(StunAttributeType.Realm, out StunAttribute realm)
            || !reader.TryGetAttribute(StunAttributeType.Nonce, out StunAttribute nonce)
            || !TextValue.IsValid(StunAttributeType.Username, username.Value)
            || !TextValue.IsValid(StunAttributeType.Realm, realm.Value)
            || !TextValue.IsValid(StunAttributeType.Nonce, nonce.Value))
        {
            return -1;
        }

        return reader.VerifyMessageIntegrity(_md5Key) && reader.VerifyFingerprint()
            ? username.Value.Length + realm.Value.Length + nonce.Value.Length
            : -2;
    }

    /// <summary>(d) Allocate success: XOR-RELAYED-ADDRESS, XOR-MAPPED-ADDRESS, LIFETIME, SOFTWARE, MESSAGE-INTEGRITY, FINGERPRINT.</summary>
    [Benchmark]
    public int WriteResponseWithMessageIntegrity()
    {
        var writer = new StunMessageWriter(_response, AllocateSuccess, _transactionId);
        writer.AddXorAddress(StunAttributeType.XorRelayedAddress, _relayed);
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, _clientV4);
        writer.AddLifetime(600);
        writer.AddText(StunAttributeType.Software, Software);
        writer.AddMessageIntegrity(_md5Key);
        writer.AddFingerprint();
        return writer.HasOverflowed ? -1 : writer.Length;
    }

    /// <summary>(e) Parse an Allocate protected by MESSAGE-INTEGRITY-SHA256 (SHA-256 key) and verify it.</summary>
    [Benchmark]
    public int ParseAndVerifyMessageIntegritySha256()
    {
        if (StunMessageReader.TryParse(_sha256Request, out StunMessageReader reader) != StunParseStatus.Success
            || !reader.TryGetAttribute(StunAttributeType.Username, out StunAttribute username)
            || !reader.TryGetAttribute(StunAttributeType.PasswordAlgorithm, out StunAttribute algorithm)
            || !PasswordAlgorithmsValue.TryReadSingle(algorithm.Value, out PasswordAlgorithm passwordAlgorithm, out _)
            || passwordAlgorithm != PasswordAlgorithm.Sha256)
        {
            return -1;
        }

        return reader.VerifyMessageIntegritySha256(_sha256Key) && reader.VerifyFingerprint()
            ? username.Value.Length
            : -2;
    }

    /// <summary>(e) The same Allocate success protected by MESSAGE-INTEGRITY-SHA256.</summary>
    [Benchmark]
    public int WriteResponseWithMessageIntegritySha256()
    {
        var writer = new StunMessageWriter(_response, AllocateSuccess, _transactionId);
        writer.AddXorAddress(StunAttributeType.XorRelayedAddress, _relayed);
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, _clientV4);
        writer.AddLifetime(600);
        writer.AddText(StunAttributeType.Software, Software);
        writer.AddMessageIntegritySha256(_sha256Key);
        writer.AddFingerprint();
        return writer.HasOverflowed ? -1 : writer.Length;
    }

    private int WriteBindingResponse(TransactionId transactionId, TransportAddress mapped)
    {
        var writer = new StunMessageWriter(_response, BindingSuccess, transactionId);
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, mapped);
        writer.AddText(StunAttributeType.Software, Software);
        writer.AddFingerprint();
        return writer.HasOverflowed ? -1 : writer.Length;
    }

    private delegate void Compose(ref StunMessageWriter writer, CodecBenchmarks benchmarks);

    private byte[] Build(StunMessageType type, Compose compose)
    {
        Span<byte> buffer = stackalloc byte[1500];
        var writer = new StunMessageWriter(buffer, type, _transactionId);
        compose(ref writer, this);
        Check(!writer.HasOverflowed, "request fits");
        return writer.WrittenSpan.ToArray();
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"Benchmark precondition failed: {what}.");
        }
    }
}
