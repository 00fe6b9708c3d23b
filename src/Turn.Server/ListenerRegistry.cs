using System.Net;

namespace Turn.Server;

/// <summary>What the server is bound to once started; read by tests, health checks and logs.</summary>
public sealed class ListenerRegistry
{
    private volatile IReadOnlyList<IPEndPoint> _udp = [];
    private volatile IReadOnlyList<IPEndPoint> _tcp = [];

    public IReadOnlyList<IPEndPoint> UdpEndPoints => _udp;

    public IReadOnlyList<IPEndPoint> TcpEndPoints => _tcp;

    /// <summary>The port every listener shares (useful when the configured port was 0).</summary>
    public int Port => _udp.Count > 0 ? _udp[0].Port : _tcp.Count > 0 ? _tcp[0].Port : 0;

    internal void Set(IReadOnlyList<IPEndPoint> udp, IReadOnlyList<IPEndPoint> tcp)
    {
        _udp = udp;
        _tcp = tcp;
    }
}
