using System.Net;

namespace Turn.Server;

/// <summary>What the server is bound to once started; read by tests, health checks and logs.</summary>
public sealed class ListenerRegistry
{
    private volatile IReadOnlyList<IPEndPoint> _udp = [];
    private volatile IReadOnlyList<IPEndPoint> _tcp = [];
    private volatile IReadOnlyList<IPEndPoint> _tls = [];
    private volatile IReadOnlyList<IPEndPoint> _dtls = [];
    private volatile Turn.Transports.ConnectionLimit? _connections;
    private volatile bool _listening;

    public IReadOnlyList<IPEndPoint> UdpEndPoints => _udp;

    public IReadOnlyList<IPEndPoint> TcpEndPoints => _tcp;

    public IReadOnlyList<IPEndPoint> TlsEndPoints => _tls;

    public IReadOnlyList<IPEndPoint> DtlsEndPoints => _dtls;

    /// <summary>The DTLS port (0 when DTLS is off).</summary>
    public int DtlsPort => _dtls.Count > 0 ? _dtls[0].Port : 0;

    /// <summary>SHA-256 (hex) of the certificate TLS connections and DTLS associations are served with; null when both are off.</summary>
    public string? TlsCertificateSha256 { get; internal set; }

    /// <summary>The TLS port (0 when TLS is off).</summary>
    public int TlsPort => _tls.Count > 0 ? _tls[0].Port : 0;

    /// <summary>The port every listener shares (useful when the configured port was 0).</summary>
    public int Port => _udp.Count > 0 ? _udp[0].Port : _tcp.Count > 0 ? _tcp[0].Port : 0;

    /// <summary>True from when every listener is up until the server stops.</summary>
    public bool IsListening => _listening;

    /// <summary>TCP and TLS client connections open now.</summary>
    public int OpenConnections => _connections?.Open ?? 0;

    internal void SetConnectionLimit(Turn.Transports.ConnectionLimit limit) => _connections = limit;

    internal void SetListening(bool listening) => _listening = listening;

    internal void Set(IReadOnlyList<IPEndPoint> udp, IReadOnlyList<IPEndPoint> tcp, IReadOnlyList<IPEndPoint> tls, IReadOnlyList<IPEndPoint> dtls)
    {
        _udp = udp;
        _tcp = tcp;
        _tls = tls;
        _dtls = dtls;
    }
}
