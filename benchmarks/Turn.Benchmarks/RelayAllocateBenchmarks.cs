using BenchmarkDotNet.Attributes;
using Turn.Relay;
using Turn.Stun;

namespace Turn.Benchmarks;

/// <summary>
/// What one allocation costs the server, through the real engine with long-term authentication: the unsigned
/// Allocate answered with 401 (REALM, a fresh NONCE, PASSWORD-ALGORITHMS), the signed Allocate answered with the
/// relayed address, and the Refresh with LIFETIME 0 that deletes it again, so the table never grows. Every call uses
/// the same 5-tuple. The requests are written once in <see cref="Setup"/>, signed with a nonce the engine issued to
/// this client then; the client's own work (reading the 401, computing its HMAC) is not measured. The fake port
/// allocator reuses endpoints and the fake transport one sender, so the bytes allocated are the engine's own.
/// </summary>
[MemoryDiagnoser]
public class RelayAllocateBenchmarks
{
    private BenchmarkEngine _engine = null!;
    private StunMessageProcessor _processor = null!;
    private FiveTuple _tuple;
    private byte[] _unsignedAllocate = [];
    private byte[] _signedAllocate = [];
    private byte[] _deleteRefresh = [];
    private long _challenges;
    private long _cycles;

    [GlobalSetup]
    public void Setup()
    {
        _engine = new BenchmarkEngine();
        _processor = _engine.Processor;
        _tuple = BenchmarkEngine.UdpTuple(BenchmarkEngine.Address("198.51.100.10", 40000));
        byte[] nonce = _engine.Challenge(_tuple);
        _unsignedAllocate = _engine.AllocateRequest(TransactionId.NewRandom(), default);
        _signedAllocate = _engine.AllocateRequest(TransactionId.NewRandom(), nonce);
        _deleteRefresh = _engine.RefreshRequest(TransactionId.NewRandom(), 0, nonce);

        // Each step answers as it should, and the cycle leaves the table as it found it.
        BenchmarkEngine.Check(Challenge401() > 0, "unsigned Allocate is answered");
        BenchmarkEngine.Check(StunMessageReader.TryParse(_engine.Response.AsSpan(0, Challenge401()), out StunMessageReader reader) == StunParseStatus.Success
            && reader.TryGetAttribute(StunAttributeType.ErrorCode, out StunAttribute error)
            && ErrorCodeValue.TryRead(error.Value, out int code, out _) && code == StunErrorCode.Unauthenticated
            && reader.TryGetAttribute(StunAttributeType.Nonce, out _), "401 with a NONCE");
        _engine.ExpectSuccess(Process(_signedAllocate), "signed Allocate");
        BenchmarkEngine.Check(_engine.Allocations.Count == 1, "allocation made");
        _engine.ExpectSuccess(Process(_deleteRefresh), "Refresh 0");
        BenchmarkEngine.Check(_engine.Allocations.Count == 0, "allocation deleted");
        BenchmarkEngine.Check(AllocateWithChallengeAndDelete() > 0 && _engine.Allocations.Count == 0, "whole cycle");
        _challenges = _engine.Counters.ErrorResponses;
        _cycles = _engine.Counters.AllocationsCreated;
    }

    /// <summary>The 401 round alone: unsigned Allocate, answered with REALM, a fresh NONCE and PASSWORD-ALGORITHMS.</summary>
    [Benchmark]
    public int Challenge401() => Process(_unsignedAllocate);

    /// <summary>Signed Allocate (verify, quota, relay port, allocation, signed success) and the Refresh 0 that deletes it.</summary>
    [Benchmark]
    public int AllocateAndDelete() => Process(_signedAllocate) + Process(_deleteRefresh);

    /// <summary>The whole life of an allocation as the server sees it: 401, signed Allocate, Refresh 0.</summary>
    [Benchmark]
    public int AllocateWithChallengeAndDelete() => Process(_unsignedAllocate) + Process(_signedAllocate) + Process(_deleteRefresh);

    /// <summary>Every Allocate of the run succeeded and was deleted again; only the unsigned ones were refused.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        ServerCounters counters = _engine.Counters;
        Console.WriteLine($"// RelayAllocate cleanup: errors {counters.ErrorResponses - _challenges}, allocations {counters.AllocationsCreated - _cycles}, "
            + $"created {counters.AllocationsCreated}, deleted {counters.AllocationsDeleted}, live {_engine.Allocations.Count}, "
            + $"endpoints {_engine.Ports.Created}, dropped {counters.TotalDropped}");
        long challenges = counters.ErrorResponses - _challenges;
        long allocations = counters.AllocationsCreated - _cycles;
        BenchmarkEngine.Check(counters.AllocationsCreated == counters.AllocationsDeleted && _engine.Allocations.Count == 0
            && counters.TotalDropped == 0 && _engine.Ports.Created == 1, "every allocation was made and deleted");
        BenchmarkEngine.Check(challenges == 0 || allocations == 0 || challenges == allocations, "the only errors were the 401s");
    }

    private int Process(byte[] packet) => _processor.Process(packet, _tuple, _engine.Transport, _engine.Response);
}
