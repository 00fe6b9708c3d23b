using System.Text;
using System.Text.Json;
using Turn.Cluster.Redis;

namespace Turn.Server;

/// <summary>GET /cluster on the admin listener: the region's registry as this node sees it, as JSON.</summary>
public static class ClusterStatus
{
    private static readonly string[] ProtocolNames = ["udp", "tcp", "tls", "dtls"];

    /// <summary>
    /// {"node", "region", "connected", "nodes": [{"id", "self", "stale", "allocations", "capacity", "full", "draining",
    /// "bitsPerSecond", "cpu", "relayIps": [...], "addresses": {"udp": ["IP:PORT", ...], ...}}, ...]}: this node first,
    /// then the others.
    /// </summary>
    public static string Json(string nodeId, string region, RedisClusterState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("node", nodeId);
            json.WriteString("region", region);
            json.WriteBoolean("connected", state.IsConnected);
            json.WriteStartArray("nodes");
            if (state.LastReport is { } own)
            {
                WriteNode(json, nodeId, own, self: true, stale: !state.IsConnected);
            }

            foreach ((ClusterNode node, bool stale) in state.Directory.Nodes)
            {
                WriteNode(json, node.Id, node.Report, self: false, stale);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void WriteNode(Utf8JsonWriter json, string id, NodeReport report, bool self, bool stale)
    {
        json.WriteStartObject();
        json.WriteString("id", id);
        json.WriteBoolean("self", self);
        json.WriteBoolean("stale", stale);
        json.WriteNumber("allocations", report.Allocations);
        json.WriteNumber("capacity", report.Capacity);
        json.WriteBoolean("full", report.Full);
        json.WriteBoolean("draining", report.Draining);
        json.WriteNumber("bitsPerSecond", report.RelayedBitsPerSecond);
        json.WriteNumber("cpu", Math.Round(report.Cpu, 3));
        json.WriteStartArray("relayIps");
        foreach (System.Net.IPAddress ip in report.RelayIps)
        {
            json.WriteStringValue(ip.ToString());
        }

        json.WriteEndArray();
        json.WriteStartObject("addresses");
        for (int protocol = 0; protocol < ProtocolNames.Length; protocol++)
        {
            ServiceAddress[] of = [.. report.Addresses.Where(a => (int)a.Protocol == protocol)];
            if (of.Length > 0)
            {
                json.WriteStartArray(ProtocolNames[protocol]);
                foreach (ServiceAddress address in of)
                {
                    json.WriteStringValue(address.Address.ToString());
                }

                json.WriteEndArray();
            }
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }
}
