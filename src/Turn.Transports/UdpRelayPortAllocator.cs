using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Turn.Relay.Allocations;
using Turn.Stun;
using Turn.Transports.Native;

namespace Turn.Transports;

/// <summary>
/// Binds relay sockets on the relay address, on ports picked at random within [min, max] (RFC 8656 §7.2,
/// RFC 6056), and keeps EVEN-PORT R=1 reservations of the next port for <see cref="ReservationLifetime"/>
/// (RFC 8656 §7.2: at least 30 s).
/// </summary>
public sealed class UdpRelayPortAllocator : IRelayPortAllocator, IDisposable
{
    public static readonly TimeSpan ReservationLifetime = TimeSpan.FromSeconds(30);

    /// <summary>Bind failures (ports other programs hold) tolerated before answering 508.</summary>
    private const int MaxBindFailures = 256;

    private readonly IPAddress _address;
    private readonly int _minPort;
    private readonly int _maxPort;
    private readonly TransportCounters _counters;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly NativeRelayPoller? _poller;
    private readonly ConcurrentDictionary<int, byte> _portsInUse = new();
    private readonly ConcurrentDictionary<int, byte> _tcpPortsInUse = new();
    private readonly ConcurrentDictionary<ulong, Reservation> _reservations = new();
    private readonly Lock _sync = new();

    public UdpRelayPortAllocator(IPAddress address, int minPort, int maxPort, TransportCounters counters, TimeProvider time, ILogger logger)
        : this(address, minPort, maxPort, counters, time, logger, poller: null)
    {
    }

    /// <summary>
    /// As above; with a <paramref name="poller"/>, relay sockets are served by its threads with batched system
    /// calls instead of one async loop each.
    /// </summary>
    public UdpRelayPortAllocator(IPAddress address, int minPort, int maxPort, TransportCounters counters, TimeProvider time, ILogger logger,
        NativeRelayPoller? poller)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfLessThan(minPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxPort, 65535);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minPort, maxPort);
        _address = address;
        _minPort = minPort;
        _maxPort = maxPort;
        _counters = counters;
        _time = time;
        _logger = logger;
        _poller = poller;
    }

    /// <summary>The address relay sockets bind to.</summary>
    public IPAddress Address => _address;

    public StunAddressFamily Family => _address.AddressFamily == AddressFamily.InterNetwork ? StunAddressFamily.IPv4 : StunAddressFamily.IPv6;

    public bool Supports(StunAddressFamily family) => family == Family;

    /// <summary>Relay ports held now, allocations and reservations together.</summary>
    public int PortsInUse => _portsInUse.Count;

    /// <summary>TCP relay ports held now (RFC 6062 allocations).</summary>
    public int TcpPortsInUse => _tcpPortsInUse.Count;

    /// <summary>RFC 6062 relays need a connecting socket to share the listening one's port: SO_REUSEPORT, as on Linux.</summary>
    public bool SupportsTcp => OperatingSystem.IsLinux();

    /// <summary>
    /// RFC 6062 §5.1: a TCP relayed address on a random free port of the range (TCP ports are their own namespace, so a
    /// number may be in use for UDP at the same time).
    /// </summary>
    public ITcpRelayEndpoint? TryAllocateTcp(StunAddressFamily family)
    {
        if (family != Family || !SupportsTcp)
        {
            return null;
        }

        ITcpRelayEndpoint? endpoint = null;
        ScanRandomPorts(port =>
        {
            if (_tcpPortsInUse.ContainsKey(port))
            {
                return PortOutcome.Skipped;
            }

            Socket socket;
            try
            {
                socket = ListenerSocket.Bind(new IPEndPoint(_address, port), SocketType.Stream, ProtocolType.Tcp, reusePort: true);
            }
            catch (SocketException)
            {
                return PortOutcome.Failed;
            }

            _tcpPortsInUse[port] = 0;
            try
            {
                endpoint = new TcpRelayEndpoint(socket, _counters, _logger, _ => _tcpPortsInUse.TryRemove(port, out byte _));
                return PortOutcome.Taken;
            }
            catch (SocketException)
            {
                // listen() failed: give the port back and try another.
                _tcpPortsInUse.TryRemove(port, out _);
                socket.Dispose();
                return PortOutcome.Failed;
            }
        });
        return endpoint;
    }

    public RelayPortGrant? TryAllocate(RelayPortRequest request)
    {
        if (request.Family != Family)
        {
            return null;
        }

        RelayPortGrant? grant = null;
        ScanRandomPorts(port =>
        {
            if ((request.EvenPort && (port & 1) != 0) || _portsInUse.ContainsKey(port)
                || (request.ReserveNextPort && (port + 1 > _maxPort || _portsInUse.ContainsKey(port + 1))))
            {
                return PortOutcome.Skipped;
            }

            Socket? socket = TryBind(port);
            if (socket is null)
            {
                return PortOutcome.Failed;
            }

            ulong? token = null;
            if (request.ReserveNextPort)
            {
                Socket? next = TryBind(port + 1);
                if (next is null)
                {
                    socket.Dispose();
                    return PortOutcome.Failed;
                }

                token = Reserve(Wrap(next, port + 1));
            }

            grant = new RelayPortGrant(Wrap(socket, port), token);
            return PortOutcome.Taken;
        });
        return grant;
    }

    /// <summary>
    /// Offers the ports of the range to <paramref name="attempt"/> from a random start (RFC 6056), one at a time under the
    /// lock, until one is taken; gives up after <see cref="MaxBindFailures"/> ports other programs hold. True when taken.
    /// </summary>
    private bool ScanRandomPorts(Func<int, PortOutcome> attempt)
    {
        lock (_sync)
        {
            int span = _maxPort - _minPort + 1;
            int start = RandomNumberGenerator.GetInt32(span);
            int failures = 0;
            for (int i = 0; i < span && failures < MaxBindFailures; i++)
            {
                switch (attempt(_minPort + ((start + i) % span)))
                {
                    case PortOutcome.Taken:
                        return true;
                    case PortOutcome.Failed:
                        failures++;
                        break;
                }
            }

            return false;
        }
    }

    public IRelayEndpoint? TryClaimReservation(ulong token)
    {
        if (!_reservations.TryRemove(token, out Reservation? reservation))
        {
            return null;
        }

        if (_time.GetTimestamp() >= reservation.ExpiresAt)
        {
            reservation.Endpoint.Dispose();
            return null;
        }

        return reservation.Endpoint;
    }

    /// <summary>Releases reservations nobody claimed in time.</summary>
    public int SweepReservations()
    {
        long now = _time.GetTimestamp();
        int released = 0;
        foreach (var (token, reservation) in _reservations)
        {
            if (now >= reservation.ExpiresAt && _reservations.TryRemove(token, out _))
            {
                reservation.Endpoint.Dispose();
                released++;
            }
        }

        return released;
    }

    public void Dispose()
    {
        foreach (var (token, reservation) in _reservations)
        {
            if (_reservations.TryRemove(token, out _))
            {
                reservation.Endpoint.Dispose();
            }
        }
    }

    private ulong Reserve(IRelayEndpoint endpoint)
    {
        long expiresAt = _time.GetTimestamp() + (long)(ReservationLifetime.TotalSeconds * _time.TimestampFrequency);
        while (true)
        {
            ulong token = BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
            if (token != 0 && _reservations.TryAdd(token, new Reservation(endpoint, expiresAt)))
            {
                return token;
            }
        }
    }

    private IRelayEndpoint Wrap(Socket socket, int port)
    {
        _portsInUse[port] = 0;
        if (_poller is not null)
        {
            return new NativeRelayEndpoint(socket, _poller, _counters, _logger, _ => _portsInUse.TryRemove(port, out byte _));
        }

        return new UdpRelayEndpoint(socket, _counters, _logger, _ => _portsInUse.TryRemove(port, out byte _));
    }

    private Socket? TryBind(int port)
    {
        try
        {
            Socket socket = ListenerSocket.Bind(new IPEndPoint(_address, port), SocketType.Dgram, ProtocolType.Udp);
            // RFC 8656 §11.5: ICMP errors about what this socket sends come back on its error queue.
            IcmpErrorQueue.Enable(socket);
            return socket;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private sealed record Reservation(IRelayEndpoint Endpoint, long ExpiresAt);

    private enum PortOutcome
    {
        /// <summary>Not a candidate (in use here, wrong parity).</summary>
        Skipped,
        /// <summary>The bind failed: another program holds it.</summary>
        Failed,
        /// <summary>Bound and handed out.</summary>
        Taken,
    }
}
