using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Turn.Relay.Allocations;
using Turn.Transports.Native;

namespace Turn.Transports.Tests.Native;

/// <summary>
/// Relay sockets made as the server makes them in batched mode: a <see cref="UdpRelayPortAllocator"/> whose sockets are
/// served by a <see cref="NativeRelayPoller"/>. Disposes the sockets, then the poller.
/// </summary>
internal sealed class BatchedRelay : IDisposable
{
    private const int MinPort = 30000;
    private const int MaxPort = 60999;

    private readonly List<NativeRelayEndpoint> _endpoints = [];

    public BatchedRelay(IPAddress address, int threads = 2, int batchSize = 8)
    {
        Poller = new NativeRelayPoller(threads, batchSize, NullLogger.Instance);
        Ports = new UdpRelayPortAllocator(address, MinPort, MaxPort, Counters, TimeProvider.System, NullLogger.Instance, Poller);
    }

    public TransportCounters Counters { get; } = new();

    public NativeRelayPoller Poller { get; }

    public UdpRelayPortAllocator Ports { get; }

    /// <summary>A new relay socket on a free port of the range, not yet attached to an allocation.</summary>
    public NativeRelayEndpoint NewEndpoint()
    {
        RelayPortGrant? grant = Ports.TryAllocate(new RelayPortRequest(Ports.Family, EvenPort: false, ReserveNextPort: false));
        Assert.NotNull(grant);
        NativeRelayEndpoint endpoint = Assert.IsType<NativeRelayEndpoint>(grant.Value.Endpoint);
        _endpoints.Add(endpoint);
        return endpoint;
    }

    /// <summary>Closes the sockets, then stops the poller threads; fails the test if that does not end in time.</summary>
    public void Dispose() => BoundedThread.Run("closing the relay sockets and stopping the poller", () =>
    {
        foreach (NativeRelayEndpoint endpoint in _endpoints)
        {
            endpoint.Dispose();
        }

        Ports.Dispose();
        Poller.Dispose();
    });
}
