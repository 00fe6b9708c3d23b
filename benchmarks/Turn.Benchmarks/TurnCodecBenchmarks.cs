using System.Net;
using BenchmarkDotNet.Attributes;
using Turn.Stun;
using static Turn.Benchmarks.CodecSamples;

namespace Turn.Benchmarks;

/// <summary>
/// The STUN codec on the TURN messages of an allocation's start: Allocate request, its 401 and success responses,
/// CreatePermission request and success response, each parsed and written. The HMAC is left out on purpose: a parse
/// reads a message that carries MESSAGE-INTEGRITY but does not verify it, and a write does not add it, because
/// <see cref="CodecBenchmarks"/> measures exactly that (ParseAndVerifyMessageIntegrity,
/// WriteResponseWithMessageIntegrity). FINGERPRINT is checked on parse and added on write. Messages are built once in
/// <see cref="Setup"/>; every measured method must allocate nothing.
/// </summary>
[MemoryDiagnoser]
public class TurnCodecBenchmarks
{
    private static readonly StunMessageType AllocateRequest = new(StunMethod.Allocate, StunClass.Request);
    private static readonly StunMessageType AllocateSuccess = new(StunMethod.Allocate, StunClass.SuccessResponse);
    private static readonly StunMessageType AllocateError = new(StunMethod.Allocate, StunClass.ErrorResponse);
    private static readonly StunMessageType CreatePermissionRequest = new(StunMethod.CreatePermission, StunClass.Request);
    private static readonly StunMessageType CreatePermissionSuccess = new(StunMethod.CreatePermission, StunClass.SuccessResponse);
    private static readonly PasswordAlgorithm[] Algorithms = [PasswordAlgorithm.Sha256, PasswordAlgorithm.Md5];

    private readonly byte[] _buffer = new byte[1500];
    private readonly byte[] _md5Key = new byte[16];
    private readonly byte[] _nonce = System.Text.Encoding.ASCII.GetBytes(Nonce);

    private TransactionId _transactionId;
    private TransportAddress _client;
    private TransportAddress _relayed;
    private TransportAddress _peer;
    private byte[] _allocateRequest = [];
    private byte[] _allocateChallenge = [];
    private byte[] _allocateSuccess = [];
    private byte[] _createPermissionRequest = [];
    private byte[] _createPermissionSuccess = [];

    [GlobalSetup]
    public void Setup()
    {
        _transactionId = TransactionId.Read([0xB7, 0xE7, 0xA7, 0x01, 0xBC, 0x34, 0xD6, 0x86, 0xFA, 0x87, 0xDF, 0xAE]);
        _client = TransportAddress.FromIPAddress(IPAddress.Parse("192.0.2.1"), 32853);
        _relayed = TransportAddress.FromIPAddress(IPAddress.Parse("203.0.113.7"), 49152);
        _peer = TransportAddress.FromIPAddress(IPAddress.Parse("203.0.113.10"), 5000);
        StunCredentials.DeriveLongTermKey(Username, Realm, Password, PasswordAlgorithm.Md5, _md5Key);

        // The messages as they travel: the parse benchmarks read these, MESSAGE-INTEGRITY included.
        _allocateRequest = Signed(WriteAllocateRequest());
        _allocateChallenge = _buffer.AsSpan(0, WriteAllocateChallenge()).ToArray();
        _allocateSuccess = Signed(WriteAllocateSuccess());
        _createPermissionRequest = Signed(WriteCreatePermissionRequest());
        _createPermissionSuccess = Signed(WriteCreatePermissionSuccess());

        // The measured paths must succeed, or the numbers would time an early exit.
        Check(ParseAllocateRequest() > 0, nameof(ParseAllocateRequest));
        Check(ParseAllocateChallenge() > 0, nameof(ParseAllocateChallenge));
        Check(ParseAllocateSuccess() > 0, nameof(ParseAllocateSuccess));
        Check(ParseCreatePermissionRequest() > 0, nameof(ParseCreatePermissionRequest));
        Check(ParseCreatePermissionSuccess() > 0, nameof(ParseCreatePermissionSuccess));
    }

    /// <summary>
    /// Server side: the signed Allocate (REQUESTED-TRANSPORT, LIFETIME, DONT-FRAGMENT, USERNAME, REALM, NONCE,
    /// MESSAGE-INTEGRITY, FINGERPRINT): parse, check every attribute is well formed, decode the TURN attributes and
    /// the credentials' text, verify FINGERPRINT.
    /// </summary>
    [Benchmark]
    public int ParseAllocateRequest()
    {
        if (StunMessageReader.TryParse(_allocateRequest, out StunMessageReader reader) != StunParseStatus.Success)
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

            switch (attribute.KnownType)
            {
                case StunAttributeType.RequestedTransport:
                    score += RequestedTransportValue.TryRead(attribute.Value, out byte protocol) && protocol == RequestedTransportValue.Udp ? 1 : -100;
                    break;
                case StunAttributeType.Lifetime:
                    score += UInt32Value.TryRead(attribute.Value, out uint lifetime) ? (int)(lifetime & 1) + 1 : -100;
                    break;
                case StunAttributeType.DontFragment:
                    score++;
                    break;
                case StunAttributeType.Username or StunAttributeType.Realm or StunAttributeType.Nonce:
                    score += TextValue.IsValid(attribute.KnownType, attribute.Value) ? 1 : -100;
                    break;
            }
        }

        return reader.VerifyFingerprint() && reader.HasMessageIntegrity ? score : -3;
    }

    /// <summary>Client side: the same Allocate, every attribute but MESSAGE-INTEGRITY, then FINGERPRINT.</summary>
    [Benchmark]
    public int WriteAllocateRequest()
    {
        var writer = new StunMessageWriter(_buffer, AllocateRequest, _transactionId);
        writer.AddRequestedTransport(RequestedTransportValue.Udp);
        writer.AddLifetime(3600);
        writer.AddAttribute(StunAttributeType.DontFragment, default);
        writer.AddText(StunAttributeType.Username, Username);
        writer.AddText(StunAttributeType.Realm, Realm);
        writer.AddAttribute(StunAttributeType.Nonce, _nonce);
        writer.AddFingerprint();
        return writer.HasOverflowed ? -1 : writer.Length;
    }

    /// <summary>
    /// Server side: the 401 to an unsigned Allocate (ERROR-CODE, REALM, NONCE, PASSWORD-ALGORITHMS, SOFTWARE,
    /// FINGERPRINT), with a ready nonce: issuing one (an HMAC-SHA256) is part of the engine's cost, not the codec's.
    /// </summary>
    [Benchmark]
    public int WriteAllocateChallenge()
    {
        var writer = new StunMessageWriter(_buffer, AllocateError, _transactionId);
        writer.AddErrorCode(StunErrorCode.Unauthenticated);
        writer.AddText(StunAttributeType.Realm, Realm);
        writer.AddAttribute(StunAttributeType.Nonce, _nonce);
        writer.AddPasswordAlgorithms(Algorithms);
        writer.AddText(StunAttributeType.Software, Software);
        writer.AddFingerprint();
        return writer.HasOverflowed ? -1 : writer.Length;
    }

    /// <summary>Client side: the 401: ERROR-CODE, REALM, NONCE and PASSWORD-ALGORITHMS read and checked, FINGERPRINT verified.</summary>
    [Benchmark]
    public int ParseAllocateChallenge()
    {
        if (StunMessageReader.TryParse(_allocateChallenge, out StunMessageReader reader) != StunParseStatus.Success
            || !reader.VerifyFingerprint()
            || !reader.TryGetAttribute(StunAttributeType.ErrorCode, out StunAttribute error)
            || !ErrorCodeValue.TryRead(error.Value, out int code, out _)
            || code != StunErrorCode.Unauthenticated
            || !reader.TryGetAttribute(StunAttributeType.Realm, out StunAttribute realm)
            || !TextValue.IsValid(StunAttributeType.Realm, realm.Value)
            || !reader.TryGetAttribute(StunAttributeType.Nonce, out StunAttribute nonce)
            || !TextValue.IsValid(StunAttributeType.Nonce, nonce.Value)
            || !reader.TryGetAttribute(StunAttributeType.PasswordAlgorithms, out StunAttribute algorithms)
            || !PasswordAlgorithmsValue.IsValid(algorithms.Value)
            || !PasswordAlgorithmsValue.Contains(algorithms.Value, PasswordAlgorithm.Sha256))
        {
            return -1;
        }

        return realm.Value.Length + nonce.Value.Length;
    }

    /// <summary>
    /// Server side: Allocate success (XOR-RELAYED-ADDRESS, LIFETIME, XOR-MAPPED-ADDRESS, SOFTWARE, FINGERPRINT), the
    /// same response as WriteResponseWithMessageIntegrity without the HMAC.
    /// </summary>
    [Benchmark]
    public int WriteAllocateSuccess()
    {
        var writer = new StunMessageWriter(_buffer, AllocateSuccess, _transactionId);
        writer.AddXorAddress(StunAttributeType.XorRelayedAddress, _relayed);
        writer.AddLifetime(600);
        writer.AddXorAddress(StunAttributeType.XorMappedAddress, _client);
        writer.AddText(StunAttributeType.Software, Software);
        writer.AddFingerprint();
        return writer.HasOverflowed ? -1 : writer.Length;
    }

    /// <summary>Client side: Allocate success: XOR-RELAYED-ADDRESS, XOR-MAPPED-ADDRESS and LIFETIME decoded, FINGERPRINT verified.</summary>
    [Benchmark]
    public int ParseAllocateSuccess()
    {
        if (StunMessageReader.TryParse(_allocateSuccess, out StunMessageReader reader) != StunParseStatus.Success
            || !reader.VerifyFingerprint()
            || !reader.TryGetAttribute(StunAttributeType.XorRelayedAddress, out StunAttribute relayedAttribute)
            || !XorAddressValue.TryRead(relayedAttribute.Value, reader.Header.TransactionId, out TransportAddress relayed)
            || !reader.TryGetAttribute(StunAttributeType.XorMappedAddress, out StunAttribute mappedAttribute)
            || !XorAddressValue.TryRead(mappedAttribute.Value, reader.Header.TransactionId, out TransportAddress mapped)
            || !reader.TryGetAttribute(StunAttributeType.Lifetime, out StunAttribute lifetimeAttribute)
            || !UInt32Value.TryRead(lifetimeAttribute.Value, out uint lifetime)
            || relayed != _relayed || mapped != _client)
        {
            return -1;
        }

        return (int)lifetime;
    }

    /// <summary>
    /// Server side: CreatePermission for one peer (XOR-PEER-ADDRESS, USERNAME, REALM, NONCE, MESSAGE-INTEGRITY,
    /// FINGERPRINT): parse, check every attribute is well formed, decode each XOR-PEER-ADDRESS and the credentials'
    /// text, verify FINGERPRINT.
    /// </summary>
    [Benchmark]
    public int ParseCreatePermissionRequest()
    {
        if (StunMessageReader.TryParse(_createPermissionRequest, out StunMessageReader reader) != StunParseStatus.Success)
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

            switch (attribute.KnownType)
            {
                case StunAttributeType.XorPeerAddress:
                    score += XorAddressValue.TryRead(attribute.Value, reader.Header.TransactionId, out TransportAddress peer)
                        && peer.Family == StunAddressFamily.IPv4 ? 1 : -100;
                    break;
                case StunAttributeType.Username or StunAttributeType.Realm or StunAttributeType.Nonce:
                    score += TextValue.IsValid(attribute.KnownType, attribute.Value) ? 1 : -100;
                    break;
            }
        }

        return reader.VerifyFingerprint() && reader.HasMessageIntegrity ? score : -3;
    }

    /// <summary>Client side: the same CreatePermission, every attribute but MESSAGE-INTEGRITY, then FINGERPRINT.</summary>
    [Benchmark]
    public int WriteCreatePermissionRequest()
    {
        var writer = new StunMessageWriter(_buffer, CreatePermissionRequest, _transactionId);
        writer.AddXorAddress(StunAttributeType.XorPeerAddress, _peer);
        writer.AddText(StunAttributeType.Username, Username);
        writer.AddText(StunAttributeType.Realm, Realm);
        writer.AddAttribute(StunAttributeType.Nonce, _nonce);
        writer.AddFingerprint();
        return writer.HasOverflowed ? -1 : writer.Length;
    }

    /// <summary>Server side: CreatePermission success (SOFTWARE, FINGERPRINT; no attributes of its own).</summary>
    [Benchmark]
    public int WriteCreatePermissionSuccess()
    {
        var writer = new StunMessageWriter(_buffer, CreatePermissionSuccess, _transactionId);
        writer.AddText(StunAttributeType.Software, Software);
        writer.AddFingerprint();
        return writer.HasOverflowed ? -1 : writer.Length;
    }

    /// <summary>Client side: CreatePermission success: parse, walk the attributes, verify FINGERPRINT.</summary>
    [Benchmark]
    public int ParseCreatePermissionSuccess()
    {
        if (StunMessageReader.TryParse(_createPermissionSuccess, out StunMessageReader reader) != StunParseStatus.Success
            || reader.Header.Class != StunClass.SuccessResponse)
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

        return reader.VerifyFingerprint() && reader.HasMessageIntegrity ? score : -3;
    }

    /// <summary>The message just written into the buffer, re-signed as sent: MESSAGE-INTEGRITY before FINGERPRINT.</summary>
    private byte[] Signed(int length)
    {
        Check(length > 0, "message fits");
        Check(StunMessageReader.TryParse(_buffer.AsSpan(0, length), out StunMessageReader reader) == StunParseStatus.Success
            && reader.HasFingerprint, "written message reads back");
        Span<byte> copy = stackalloc byte[1500];
        var writer = new StunMessageWriter(copy, reader.Header.Type, reader.Header.TransactionId);
        foreach (StunAttribute attribute in reader.Attributes)
        {
            if (attribute.KnownType != StunAttributeType.Fingerprint)
            {
                writer.AddAttribute(attribute.Type, attribute.Value);
            }
        }

        writer.AddMessageIntegrity(_md5Key);
        writer.AddFingerprint();
        Check(!writer.HasOverflowed, "signed message fits");
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
