using BenchmarkDotNet.Attributes;
using Turn.Relay;
using Turn.Relay.Allocations;

namespace Turn.Benchmarks;

/// <summary>
/// The 5-tuple lookup every relayed client datagram starts with (<see cref="AllocationTable.TryGet"/>), in a table
/// of <see cref="LiveAllocations"/> live allocations. They are made in <see cref="Setup"/> through the engine, each by
/// the real exchange (401, then a signed Allocate) from its own client address and port. Each measured call does
/// <see cref="LookupsPerInvoke"/> lookups, so the per-lookup time is reported; the hits walk all allocations in a
/// shuffled order, so they are not served from a few hot cache lines.
/// </summary>
[MemoryDiagnoser]
public class RelayAllocationTableBenchmarks
{
    public const int LiveAllocations = 100_000;
    private const int LookupsPerInvoke = 1000;

    private AllocationTable _table = null!;
    private FiveTuple[] _live = [];
    private FiveTuple[] _absent = [];
    private int _nextLive;
    private int _nextAbsent;

    [GlobalSetup]
    public void Setup()
    {
        var engine = new BenchmarkEngine();
        _table = engine.Allocations;
        _live = new FiveTuple[LiveAllocations];
        for (int i = 0; i < LiveAllocations; i++)
        {
            _live[i] = BenchmarkEngine.ManyClientsTuple(i);
            engine.Allocate(_live[i]);
        }

        BenchmarkEngine.Check(_table.Count == LiveAllocations && engine.Ports.Created == LiveAllocations, "100,000 live allocations");
        new Random(7).Shuffle(_live);

        // Clients of the same shape with no allocation: what ChannelData from an unknown or expired 5-tuple costs.
        _absent = new FiveTuple[1024];
        for (int i = 0; i < _absent.Length; i++)
        {
            _absent[i] = BenchmarkEngine.ManyClientsTuple(LiveAllocations + i);
        }

        BenchmarkEngine.Check(TryGetLive() == LookupsPerInvoke, "every live 5-tuple is found");
        BenchmarkEngine.Check(TryGetAbsent() == 0, "no absent 5-tuple is found");
    }

    /// <summary>Lookups that find the allocation (one per call of the relay path).</summary>
    [Benchmark(OperationsPerInvoke = LookupsPerInvoke)]
    public int TryGetLive()
    {
        AllocationTable table = _table;
        FiveTuple[] tuples = _live;
        int next = _nextLive;
        int found = 0;
        for (int n = 0; n < LookupsPerInvoke; n++)
        {
            if (table.TryGet(tuples[next], out _))
            {
                found++;
            }

            if (++next == tuples.Length)
            {
                next = 0;
            }
        }

        _nextLive = next;
        return found;
    }

    /// <summary>Lookups that find nothing (datagrams from a 5-tuple without an allocation).</summary>
    [Benchmark(OperationsPerInvoke = LookupsPerInvoke)]
    public int TryGetAbsent()
    {
        AllocationTable table = _table;
        FiveTuple[] tuples = _absent;
        int next = _nextAbsent;
        int found = 0;
        for (int n = 0; n < LookupsPerInvoke; n++)
        {
            if (table.TryGet(tuples[next], out _))
            {
                found++;
            }

            next = (next + 1) & (1024 - 1);
        }

        _nextAbsent = next;
        return found;
    }
}
