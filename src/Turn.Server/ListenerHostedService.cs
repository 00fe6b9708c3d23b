using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Turn.Relay;
using Turn.Transports;
using Turn.Transports.Dtls;

namespace Turn.Server;

/// <summary>
/// Binds a UDP and a TCP listener on the configured port for every listening address at start (so a port
/// conflict stops the server with a clear error), serves until stopped, then closes them.
/// </summary>
internal sealed class ListenerHostedService : IHostedService, IDisposable
{
    /// <summary>With port 0, attempts at finding one port free for every listener.</summary>
    private const int EphemeralPortAttempts = 20;

    private readonly TurnServerOptions _options;
    private readonly StunMessageProcessor _processor;
    private readonly TransportCounters _counters;
    private readonly ListenerRegistry _registry;
    private readonly UdpIoSetup _udpIo;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly List<UdpStunListener> _udp = [];
    private readonly List<TcpStunListener> _tcp = [];
    private readonly ConnectionLimit _connectionLimit;
    private readonly List<DtlsStunListener> _dtls = [];
    private readonly DtlsCounters _dtlsCounters;
    private TlsCertificateSource? _certificate;
    private CancellationTokenSource? _reloadStop;
    private Task _reload = Task.CompletedTask;

    public ListenerHostedService(IOptions<TurnServerOptions> options, StunMessageProcessor processor,
        TransportCounters counters, ListenerRegistry registry, UdpIoSetup udpIo, ILoggerFactory loggerFactory, DtlsCounters dtlsCounters)
    {
        _dtlsCounters = dtlsCounters;
        _udpIo = udpIo;
        _options = options.Value;
        _connectionLimit = new ConnectionLimit(Math.Max(1, _options.MaxConnections)); // below 1 is refused by validation
        _processor = processor;
        _counters = counters;
        _registry = registry;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<ListenerHostedService>();
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.EnableTls || _options.EnableDtls)
        {
            _certificate = LoadCertificate();
            _registry.TlsCertificateSha256 = _certificate.Sha256Fingerprint;
            if (_certificate.CertificateFile is not null && _options.TlsReloadIntervalSeconds > 0)
            {
                _reloadStop = new CancellationTokenSource();
                _reload = ReloadLoopAsync(_certificate, TimeSpan.FromSeconds(_options.TlsReloadIntervalSeconds), _reloadStop.Token);
            }
        }

        bool defaults = _options.ListeningIps.Count == 0;
        IPAddress[] addresses = defaults
            ? [IPAddress.Any, IPAddress.IPv6Any]
            : _options.ListeningIps.Select(IPAddress.Parse).ToArray();

        int attempts = _options.ListeningPort == 0 ? EphemeralPortAttempts : 1;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                BindAll(addresses, defaults);
                EnableNatDiscovery(addresses);
                break;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt < attempts)
            {
                // Port 0: the port the first socket got is taken for another protocol or address; try another.
                ServerLog.PortRetry(_logger, _udp.Count > 0 ? _udp[0].LocalEndPoint.Port : 0);
                await CloseAllAsync().ConfigureAwait(false);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                await CloseAllAsync().ConfigureAwait(false);
                throw new StartupException(
                    $"A listening address is in use by another program (another turn-server?): port {_options.ListeningPort} " +
                    $"(Turn:ListeningPort, --listening-port), TLS {_options.EffectiveTlsPort}, DTLS {_options.EffectiveDtlsPort}; " +
                    "stop it or choose other ports.", ex);
            }
        }

        foreach (UdpStunListener listener in _udp)
        {
            listener.Start();
        }

        foreach (TcpStunListener listener in _tcp)
        {
            listener.Start();
        }

        foreach (DtlsStunListener listener in _dtls)
        {
            listener.Start();
        }

        if (_udp.Count > 0)
        {
            if (_udpIo.IsBatched)
            {
                ServerLog.UdpBatched(_logger, _udpIo.ReceiveBatch, _udpIo.RelayThreads, _udpIo.Segmentation ? "on" : "off");
            }
            else
            {
                ServerLog.UdpSockets(_logger);
            }
        }

        _registry.Set(_udp.Select(l => l.LocalEndPoint).ToArray(), _tcp.Where(l => !l.IsTls).Select(l => l.LocalEndPoint).ToArray(),
            _tcp.Where(l => l.IsTls).Select(l => l.LocalEndPoint).ToArray(), _dtls.Select(l => l.LocalEndPoint).ToArray());
        _registry.SetConnectionLimit(_connectionLimit);
        _registry.SetListening(true);
        ServerLog.Ready(_logger, _registry.Port, _udp.Count + _tcp.Count + _dtls.Count);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _registry.SetListening(false);
        if (_reloadStop is not null)
        {
            await _reloadStop.CancelAsync().ConfigureAwait(false);
            await _reload.ConfigureAwait(false);
            _reloadStop.Dispose();
            _reloadStop = null;
        }

        await CloseAllAsync().ConfigureAwait(false);
        _certificate?.Dispose();
        _certificate = null;
    }

    /// <summary>
    /// Serves a changed certificate to new connections (open ones keep theirs); a broken new file keeps the current
    /// certificate and logs an error.
    /// </summary>
    private async Task ReloadLoopAsync(TlsCertificateSource certificate, TimeSpan interval, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping).ConfigureAwait(false))
            {
                try
                {
                    if (certificate.ReloadIfChanged())
                    {
                        _registry.TlsCertificateSha256 = certificate.Sha256Fingerprint;
                        ServerLog.TlsCertificateReloaded(_logger, certificate.CertificateFile!, certificate.Certificate.Subject,
                            certificate.Certificate.NotAfter, certificate.Sha256Fingerprint);
                    }
                }
#pragma warning disable CA1031 // Whatever is wrong with the new files, the server keeps serving the certificate it has.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    ServerLog.TlsCertificateReloadFailed(_logger, certificate.CertificateFile!, ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose()
    {
        _reloadStop?.Dispose();
        _certificate?.Dispose();
    }

    private TlsCertificateSource LoadCertificate()
    {
        if (!string.IsNullOrEmpty(_options.CertFile) && !string.IsNullOrEmpty(_options.KeyFile))
        {
            TlsCertificateSource loaded = TlsCertificateSource.FromPemFiles(_options.CertFile, _options.KeyFile);
            ServerLog.TlsCertificateLoaded(_logger, _options.CertFile, loaded.Certificate.Subject, loaded.Certificate.NotAfter, loaded.Sha256Fingerprint);
            return loaded;
        }

        TlsCertificateSource generated = TlsCertificateSource.SelfSigned(System.Net.Dns.GetHostName());
        ServerLog.TlsSelfSigned(_logger, generated.Certificate.Subject, generated.Sha256Fingerprint);
        return generated;
    }

    private void BindAll(IPAddress[] addresses, bool defaults)
    {
        int port = _options.ListeningPort;
        int tlsPort = _options.EffectiveTlsPort;
        int dtlsPort = _options.EffectiveDtlsPort;
        var dtlsLimits = new DtlsLimits(TimeSpan.FromSeconds(_options.TlsHandshakeTimeoutSeconds),
            TimeSpan.FromSeconds(_options.DtlsIdleTimeoutSeconds), _options.DtlsMaxAssociations);
        ILogger dtlsLogger = _loggerFactory.CreateLogger<DtlsStunListener>();
        var handshake = TimeSpan.FromSeconds(_options.TlsHandshakeTimeoutSeconds);
        var idle = TimeSpan.FromSeconds(_options.TcpIdleTimeoutSeconds);
        if (!TlsCipherSuites.TryParse(_options.TlsCipherSuites, out IReadOnlyList<System.Net.Security.TlsCipherSuite>? cipherSuites, out string? error))
        {
            throw new InvalidOperationException(error); // validation at start refuses such a list first
        }
        ILogger udpLogger = _loggerFactory.CreateLogger<UdpStunListener>();
        ILogger tcpLogger = _loggerFactory.CreateLogger<TcpStunListener>();
        foreach (IPAddress address in addresses)
        {
            try
            {
                if (_options.EnableUdp)
                {
                    // Several sockets on one port (SO_REUSEPORT), each with its own receive loop; the kernel keeps
                    // each client on one socket, so a 5-tuple is always served by the same loop.
                    int sockets = _options.UdpReceiveLoops;
                    if (sockets > 1)
                    {
                        UdpStunListener.EnsurePortFree(new IPEndPoint(address, port));
                    }

                    for (int i = 0; i < sockets; i++)
                    {
                        var udp = UdpStunListener.Bind(new IPEndPoint(address, port), _processor, _counters, udpLogger,
                            reusePort: sockets > 1, _udpIo.ReceiveBatch, _udpIo.Segmentation);
                        _udp.Add(udp);
                        port = udp.LocalEndPoint.Port;
                    }
                }

                if (_options.EnableTcp)
                {
                    var tcp = TcpStunListener.Bind(new IPEndPoint(address, port), _processor, _counters, idle, tcpLogger, _connectionLimit);
                    _tcp.Add(tcp);
                    port = tcp.LocalEndPoint.Port;
                }

                if (_certificate is not null && _options.EnableTls)
                {
                    var tls = TcpStunListener.Bind(new IPEndPoint(address, tlsPort), _processor, _counters, idle, tcpLogger, _certificate, handshake,
                        _connectionLimit, cipherSuites);
                    _tcp.Add(tls);
                    tlsPort = tls.LocalEndPoint.Port;
                }

                if (_certificate is not null && _options.EnableDtls)
                {
                    var dtls = DtlsStunListener.Bind(new IPEndPoint(address, dtlsPort), _processor, _dtlsCounters, dtlsLimits, _certificate, dtlsLogger);
                    _dtls.Add(dtls);
                    dtlsPort = dtls.LocalEndPoint.Port;
                }
            }
            catch (SocketException ex) when (defaults && address.AddressFamily == AddressFamily.InterNetworkV6
                && ex.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.AddressNotAvailable)
            {
                ServerLog.Ipv6Unavailable(_logger, address.ToString(), ex.SocketErrorCode.ToString());
            }
        }
    }

    /// <summary>
    /// RFC 5780 §4: with two concrete listening IPs of a family (A and B) and UDP on, the second port Q listens on both
    /// too, and each of the four UDP addresses (A or B, P or Q) learns its OTHER-ADDRESS and the listeners a "change IP",
    /// "change port" or both response leaves from.
    /// </summary>
    private void EnableNatDiscovery(IPAddress[] addresses)
    {
        if (!_options.Rfc5780 || !_options.EnableUdp || _udp.Count == 0)
        {
            return;
        }

        int port = _udp[0].LocalEndPoint.Port;
        ILogger udpLogger = _loggerFactory.CreateLogger<UdpStunListener>();
        foreach (AddressFamily family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
        {
            IPAddress[] ips = addresses.Where(a => a.AddressFamily == family && !a.Equals(IPAddress.Any) && !a.Equals(IPAddress.IPv6Any))
                .Distinct().Take(2).ToArray();
            if (ips.Length < 2)
            {
                continue;
            }

            int altPort = _options.AltListeningPort != 0 ? _options.AltListeningPort : _options.ListeningPort != 0 ? port + 1 : 0;
            var first = UdpStunListener.Bind(new IPEndPoint(ips[0], altPort), _processor, _counters, udpLogger, reusePort: false,
                _udpIo.ReceiveBatch, _udpIo.Segmentation);
            _udp.Add(first);
            altPort = first.LocalEndPoint.Port;
            _udp.Add(UdpStunListener.Bind(new IPEndPoint(ips[1], altPort), _processor, _counters, udpLogger, reusePort: false,
                _udpIo.ReceiveBatch, _udpIo.Segmentation));

            UdpStunListener At(IPAddress ip, int p) => _udp.First(l => l.LocalEndPoint.Address.Equals(ip) && l.LocalEndPoint.Port == p);
            foreach (UdpStunListener listener in _udp.Where(l => ips.Contains(l.LocalEndPoint.Address)).ToArray())
            {
                IPAddress ip = listener.LocalEndPoint.Address;
                IPAddress otherIp = ip.Equals(ips[0]) ? ips[1] : ips[0];
                int ownPort = listener.LocalEndPoint.Port;
                int otherPort = ownPort == port ? altPort : port;
                listener.EnableNatDiscovery(Turn.Stun.TransportAddress.FromIPEndPoint(new IPEndPoint(otherIp, otherPort)),
                    changeIp: At(otherIp, ownPort), changePort: At(ip, otherPort), changeBoth: At(otherIp, otherPort));
            }

            ServerLog.NatDiscovery(_logger, ips[0], ips[1], port, altPort);
        }
    }

    private async Task CloseAllAsync()
    {
        foreach (UdpStunListener listener in _udp)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        foreach (TcpStunListener listener in _tcp)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        foreach (DtlsStunListener listener in _dtls)
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }

        _udp.Clear();
        _tcp.Clear();
        _dtls.Clear();
    }
}
