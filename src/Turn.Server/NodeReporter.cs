using System.Net;
using Turn.Cluster.Redis;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Stun;
using Turn.Transports;

namespace Turn.Server;

/// <summary>
/// This node's registry entry, taken at every cluster heartbeat: the addresses clients reach it at per transport, its
/// allocations and total quota, its relayed bit rate and CPU share since the last report, and whether it is draining.
/// </summary>
public sealed class NodeReporter(Microsoft.Extensions.Options.IOptions<TurnServerOptions> options, ListenerRegistry listeners, RelayPortAllocatorSet ports, AllocationTable allocations,
    AllocationAudit audit, StunMessageProcessor processor, DrainCoordinator drain, TimeProvider time)
{
    private long _lastTimestamp;
    private long _lastBytes;
    private TimeSpan _lastCpu;

    /// <summary>The report as of now (called from the heartbeat loop, one call at a time).</summary>
    public NodeReport Report()
    {
        long now = time.GetTimestamp();
        TimeSpan cpu = Environment.CpuUsage.TotalTime;
        long bytes = 0;
        foreach (TrafficCounts traffic in audit.TrafficTotals(allocations.Live))
        {
            bytes += traffic.BytesToPeer + traffic.BytesToClient;
        }

        double seconds = _lastTimestamp == 0 ? 0 : time.GetElapsedTime(_lastTimestamp, now).TotalSeconds;
        long bitsPerSecond = seconds > 0 ? (long)(Math.Max(0, bytes - _lastBytes) * 8 / seconds) : 0;
        double cpuShare = seconds > 0 ? Math.Clamp((cpu - _lastCpu).TotalSeconds / (seconds * Environment.ProcessorCount), 0, 1) : 0;
        (_lastTimestamp, _lastBytes, _lastCpu) = (now, bytes, cpu);
        return new NodeReport(Addresses(), allocations.Count, processor.TotalQuota, bitsPerSecond, cpuShare, drain.IsDraining)
        {
            RelayIps = RelayIps(),
        };
    }

    /// <summary>
    /// Where clients reach this node, per transport: each listener of the main port, its IP replaced by the IP this node
    /// is advertised at (see <see cref="AdvertisedIp"/>); listeners of a family with no such IP are left out.
    /// </summary>
    public IReadOnlyList<ServiceAddress> Addresses()
    {
        var addresses = new List<ServiceAddress>();
        int port = listeners.Port;
        Add(TransportProtocol.Udp, listeners.UdpEndPoints.Where(e => e.Port == port));
        Add(TransportProtocol.Tcp, listeners.TcpEndPoints);
        Add(TransportProtocol.Tls, listeners.TlsEndPoints);
        Add(TransportProtocol.Dtls, listeners.DtlsEndPoints);
        return addresses;

        void Add(TransportProtocol protocol, IEnumerable<IPEndPoint> endPoints)
        {
            foreach (IPEndPoint endPoint in endPoints)
            {
                if (AdvertisedIp(endPoint.Address) is { } ip)
                {
                    var address = new ServiceAddress(protocol, TransportAddress.FromIPAddress(ip, endPoint.Port));
                    if (!addresses.Any(a => a.Protocol == protocol && a.Address.Family == address.Address.Family))
                    {
                        addresses.Add(address);
                    }
                }
            }
        }
    }

    /// <summary>The relay IPs as peers see them: each relay address, or its public address when --external-ip maps it.</summary>
    public IReadOnlyList<IPAddress> RelayIps()
    {
        var relay = new List<IPAddress>();
        foreach (IPAddress local in ports.Addresses)
        {
            IPAddress seen = local;
            foreach (string entry in options.Value.ExternalIps)
            {
                if (ExternalAddressMap.TryParse(entry, out IPAddress? publicAddress, out IPAddress? privateAddress)
                    && (privateAddress?.Equals(local) ?? publicAddress!.AddressFamily == local.AddressFamily))
                {
                    seen = publicAddress!;
                    break;
                }
            }

            relay.Add(seen);
        }

        return relay;
    }

    /// <summary>
    /// The IP a listener on <paramref name="listening"/> is reached at: --advertise-ip of its family, else the public IP of
    /// --external-ip of its family, else the listening IP itself unless it is a wildcard, else the relay IP of its family
    /// unless that is a wildcard too; null when none is known.
    /// </summary>
    public IPAddress? AdvertisedIp(IPAddress listening)
    {
        ArgumentNullException.ThrowIfNull(listening);
        System.Net.Sockets.AddressFamily family = listening.AddressFamily;
        foreach (string entry in options.Value.AdvertiseIps)
        {
            if (IPAddress.TryParse(entry, out IPAddress? advertised) && advertised.AddressFamily == family)
            {
                return advertised;
            }
        }

        foreach (string entry in options.Value.ExternalIps)
        {
            if (ExternalAddressMap.TryParse(entry, out IPAddress? publicAddress, out _) && publicAddress!.AddressFamily == family)
            {
                return publicAddress;
            }
        }

        if (!IsWildcard(listening))
        {
            return listening;
        }

        IPAddress? relay = ports.AddressOf(family == System.Net.Sockets.AddressFamily.InterNetwork ? StunAddressFamily.IPv4 : StunAddressFamily.IPv6);
        return relay is null || IsWildcard(relay) ? null : relay;
    }

    private static bool IsWildcard(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
}
