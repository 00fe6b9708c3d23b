using System.Globalization;
using System.Net;
using StackExchange.Redis;
using Turn.Relay;
using Turn.Stun;

namespace Turn.Cluster.Redis;

/// <summary>An address a node serves clients on, and over which transport.</summary>
public readonly record struct ServiceAddress(TransportProtocol Protocol, TransportAddress Address);

/// <summary>What a node tells the others of its region about itself at every heartbeat.</summary>
/// <param name="Addresses">Where clients reach it, per transport: what an ALTERNATE-SERVER pointing at it carries.</param>
/// <param name="Allocations">Its live allocations.</param>
/// <param name="Capacity">Its total quota (--total-quota); 0: not set.</param>
/// <param name="RelayedBitsPerSecond">Relayed application data, both ways, over the last heartbeat.</param>
/// <param name="Cpu">The share of all processor time its process used over the last heartbeat, 0 to 1.</param>
/// <param name="Draining">Whether it is draining (no new allocations).</param>
public sealed record NodeReport(IReadOnlyList<ServiceAddress> Addresses, int Allocations, int Capacity, long RelayedBitsPerSecond, double Cpu,
    bool Draining)
{
    /// <summary>The IPs its relayed addresses have, as peers see them (the public ones behind 1:1 NAT).</summary>
    public IReadOnlyList<IPAddress> RelayIps { get; init; } = [];

    /// <summary>At its total quota.</summary>
    public bool Full => Capacity > 0 && Allocations >= Capacity;
}

/// <summary>A node of the region as this node last read it from the registry.</summary>
public sealed record ClusterNode(string Id, NodeReport Report, long Sequence)
{
    /// <summary>A node at or above this share of all processor time is only sent clients when every other node is too.</summary>
    public const double BusyCpu = 0.9;

    private static readonly string[] ProtocolFields = ["udp", "tcp", "tls", "dtls"];

    /// <summary>Whether it is at <see cref="BusyCpu"/> or above.</summary>
    public bool Busy => Report.Cpu >= BusyCpu;

    /// <summary>The first address it serves <paramref name="protocol"/> on for clients of <paramref name="family"/>.</summary>
    public bool TryAddress(TransportProtocol protocol, StunAddressFamily family, out TransportAddress address)
    {
        foreach (ServiceAddress service in Report.Addresses)
        {
            if (service.Protocol == protocol && service.Address.Family == family)
            {
                address = service.Address;
                return true;
            }
        }

        address = default;
        return false;
    }

    /// <summary>The report as the fields of the node's registry hash.</summary>
    public static HashEntry[] ToHash(NodeReport report, long sequence)
    {
        ArgumentNullException.ThrowIfNull(report);
        var entries = new List<HashEntry>
        {
            new("seq", sequence),
            new("allocations", report.Allocations),
            new("capacity", report.Capacity),
            new("bps", report.RelayedBitsPerSecond),
            new("cpu", report.Cpu.ToString("0.###", CultureInfo.InvariantCulture)),
            new("draining", report.Draining ? 1 : 0),
        };
        if (report.RelayIps.Count > 0)
        {
            entries.Add(new HashEntry("relay", string.Join(' ', report.RelayIps)));
        }

        for (int protocol = 0; protocol < ProtocolFields.Length; protocol++)
        {
            string addresses = string.Join(' ', report.Addresses.Where(a => (int)a.Protocol == protocol).Select(a => a.Address.ToString()));
            if (addresses.Length > 0)
            {
                entries.Add(new HashEntry(ProtocolFields[protocol], addresses));
            }
        }

        return [.. entries];
    }

    /// <summary>A node's registry hash read back; null when it is empty (the node's lease ran out) or not of this format.</summary>
    public static ClusterNode? FromHash(string id, HashEntry[] entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Length == 0)
        {
            return null;
        }

        var fields = entries.ToDictionary(e => e.Name.ToString(), e => e.Value.ToString(), StringComparer.Ordinal);
        var addresses = new List<ServiceAddress>();
        for (int protocol = 0; protocol < ProtocolFields.Length; protocol++)
        {
            if (!fields.TryGetValue(ProtocolFields[protocol], out string? list))
            {
                continue;
            }

            foreach (string text in list.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (IPEndPoint.TryParse(text, out IPEndPoint? endPoint) && endPoint.Port != 0)
                {
                    addresses.Add(new ServiceAddress((TransportProtocol)protocol, TransportAddress.FromIPAddress(endPoint.Address, endPoint.Port)));
                }
            }
        }

        if (!long.TryParse(fields.GetValueOrDefault("seq"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long sequence))
        {
            return null;
        }

        var report = new NodeReport(addresses, Int(fields, "allocations"), Int(fields, "capacity"),
            long.TryParse(fields.GetValueOrDefault("bps"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long bps) ? bps : 0,
            double.TryParse(fields.GetValueOrDefault("cpu"), NumberStyles.Float, CultureInfo.InvariantCulture, out double cpu) ? cpu : 0,
            fields.GetValueOrDefault("draining") == "1")
        {
            RelayIps = [.. (fields.GetValueOrDefault("relay") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(text => IPAddress.TryParse(text, out IPAddress? ip) ? ip : null).OfType<IPAddress>()],
        };
        return new ClusterNode(id, report, sequence);
    }

    private static int Int(Dictionary<string, string> fields, string name) =>
        int.TryParse(fields.GetValueOrDefault(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? Math.Max(0, value) : 0;
}
