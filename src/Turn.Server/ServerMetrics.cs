using Prometheus;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Relay.Auth;
using Turn.Relay.Policy;
using Turn.Transports;
using Turn.Transports.Dtls;

namespace Turn.Server;

/// <summary>
/// The Prometheus view of the server, in a registry of its own (several servers can share a process, as in tests).
/// Nothing here runs on the relay path: the engine and the transports count with interlocked adds into their own
/// counters (per allocation for relayed traffic), and a callback copies them into the metrics when Prometheus
/// scrapes. Labels are bounded sets (transport, direction, reason, error code, peer category): never an address,
/// port or username.
/// </summary>
public sealed class ServerMetrics : ICallQualityObserver
{
    private static readonly TransportProtocol[] Transports = Enum.GetValues<TransportProtocol>();
    private static readonly string[] TransportLabels = ["udp", "tcp", "tls", "dtls"];

    private readonly ServerCounters _server;
    private readonly TransportCounters _transport;
    private readonly DtlsCounters _dtls;
    private readonly AllocationTable _allocations;
    private readonly AllocationAudit _audit;
    private readonly LongTermAuthenticator _authenticator;
    private readonly ListenerRegistry _listeners;

    private readonly Gauge _allocationsActive;
    private readonly Gauge _permissionsActive;
    private readonly Gauge _channelsActive;
    private readonly Counter _allocationsCreated;
    private readonly Counter _allocationsEnded;
    private readonly Counter _relayedPackets;
    private readonly Counter _relayedBytes;
    private readonly Counter _bindingRequests;
    private readonly Counter _successResponses;
    private readonly Counter _errorResponses;
    private readonly Counter _authFailures;
    private readonly Counter _authChallenges;
    private readonly Counter _quotaRejections;
    private readonly Counter _drainRejections;
    private readonly Counter _icmp;
    private readonly Counter _tcpPeerConnections;
    private readonly Counter _tcpRelayedBytes;
    private readonly Counter _capacityRejections;
    private readonly Counter _peerRefusals;
    private readonly Counter _dropped;
    private readonly Counter _datagrams;
    private readonly Counter _socketErrors;
    private readonly Gauge _connectionsOpen;
    private readonly Counter _connectionsAccepted;
    private readonly Counter _connectionsClosed;
    private readonly Counter _connectionsRefused;
    private readonly Counter _tlsHandshakesFailed;
    private readonly Counter _streamSendsDropped;
    private readonly Gauge _dtlsAssociations;
    private readonly Counter _dtlsEvents;
    private readonly Gauge _ready;
    private readonly Gauge _clusterConnected;
    private readonly Gauge _clusterNodes;
    private readonly Counter _reloads;
    private readonly Histogram.Child[,] _checkRtt;
    private readonly Histogram.Child[,] _rtpLoss;
    private readonly Histogram.Child[,] _rtpJitter;
    private readonly Gauge _threadPoolThreads;
    private readonly Gauge _threadPoolQueue;
    private readonly Counter _threadPoolCompleted;

    /// <summary>Whether the cluster's last heartbeat reached Redis (set by the cluster service; null when alone).</summary>
    public Func<bool>? ClusterConnected { get; set; }

    /// <summary>Nodes of the region in the cluster registry, this one included (set by the cluster service; null when alone).</summary>
    public Func<int>? ClusterNodes { get; set; }

    public ServerMetrics(ServerCounters server, TransportCounters transport, DtlsCounters dtls, AllocationTable allocations,
        AllocationAudit audit, LongTermAuthenticator authenticator, ListenerRegistry listeners)
    {
        _server = server;
        _transport = transport;
        _dtls = dtls;
        _allocations = allocations;
        _audit = audit;
        _authenticator = authenticator;
        _listeners = listeners;
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        MetricFactory factory = Metrics.WithCustomRegistry(Registry);

        _allocationsActive = factory.CreateGauge("turn_allocations", "Allocations alive now.", ["transport"]);
        _permissionsActive = factory.CreateGauge("turn_permissions", "Permissions installed on live allocations (RFC 8656 §9).");
        _channelsActive = factory.CreateGauge("turn_channels", "Channels bound on live allocations (RFC 8656 §12).");
        _allocationsCreated = factory.CreateCounter("turn_allocations_created_total", "Allocations created.");
        _allocationsEnded = factory.CreateCounter("turn_allocations_ended_total", "Allocations that ended, by why.", ["reason"]);
        _relayedPackets = factory.CreateCounter("turn_relayed_packets_total",
            "Datagrams relayed, by the client's transport and direction (to_peer: from the client).", ["transport", "direction"]);
        _relayedBytes = factory.CreateCounter("turn_relayed_bytes_total",
            "Application data bytes relayed (without TURN framing), by the client's transport and direction.", ["transport", "direction"]);
        _bindingRequests = factory.CreateCounter("turn_binding_requests_total", "STUN Binding requests answered.");
        _successResponses = factory.CreateCounter("turn_success_responses_total", "Success responses sent.");
        _errorResponses = factory.CreateCounter("turn_error_responses_total", "Error responses sent, by error code (0: any other).", ["code"]);
        _authFailures = factory.CreateCounter("turn_auth_failures_total",
            "TURN requests whose credentials failed, by why (the client sees 400, 401 or 438).", ["reason"]);
        _authChallenges = factory.CreateCounter("turn_auth_challenges_total",
            "TURN requests without credentials, answered with a 401 challenge (every client's first round trip).");
        _quotaRejections = factory.CreateCounter("turn_quota_rejections_total", "Allocate requests refused with 486 (user or total quota).");
        _drainRejections = factory.CreateCounter("turn_drain_rejections_total",
            "Allocate requests refused while draining (300 to an alternate server, else 508).");
        _icmp = factory.CreateCounter("turn_icmp_errors_total",
            "ICMP errors about datagrams relayed to peers (RFC 8656 §11.5): relayed to the client in a Data indication, or dropped.",
            ["outcome"]);
        _tcpPeerConnections = factory.CreateCounter("turn_tcp_peer_connections_total",
            "RFC 6062 peer connections of TCP allocations: connected (Connect), accepted (from peers), refused (no permission or too many), bound (ConnectionBind).",
            ["event"]);
        _tcpRelayedBytes = factory.CreateCounter("turn_tcp_relayed_bytes_total",
            "Bytes relayed over RFC 6062 data connections, by direction (to_peer, to_client).", ["direction"]);
        _capacityRejections = factory.CreateCounter("turn_capacity_rejections_total",
            "Requests refused with 508 (no relay port, or permission and channel limits).");
        _peerRefusals = factory.CreateCounter("turn_peer_refusals_total",
            "Peers (and tunneled clients) refused with 403 by the address policy, by category (public: a denied range).", ["category"]);
        _dropped = factory.CreateCounter("turn_dropped_packets_total", "Packets from clients or peers dropped without an answer, by why.", ["reason"]);
        _datagrams = factory.CreateCounter("turn_datagrams_total",
            "Datagrams and frames through the server's sockets (received: from clients; sent: answers and relayed data).", ["direction"]);
        _socketErrors = factory.CreateCounter("turn_socket_errors_total", "Socket receive and send errors.", ["direction"]);
        _connectionsOpen = factory.CreateGauge("turn_connections", "TCP and TLS client connections open now.");
        _connectionsAccepted = factory.CreateCounter("turn_connections_accepted_total", "TCP and TLS client connections accepted.");
        _connectionsClosed = factory.CreateCounter("turn_connections_closed_total",
            "TCP and TLS client connections closed by the server, by why.", ["reason"]);
        _connectionsRefused = factory.CreateCounter("turn_connections_refused_total", "Connections refused at --max-connections.");
        _tlsHandshakesFailed = factory.CreateCounter("turn_tls_handshakes_failed_total", "TLS handshakes that failed or timed out.");
        _streamSendsDropped = factory.CreateCounter("turn_stream_sends_dropped_total",
            "Messages for a TCP or TLS client dropped because it did not read (bounded per-connection buffer).");
        _dtlsAssociations = factory.CreateGauge("turn_dtls_associations", "DTLS associations open now (handshaking or established).");
        _dtlsEvents = factory.CreateCounter("turn_dtls_events_total", "DTLS events, by kind.", ["event"]);
        _ready = factory.CreateGauge("turn_ready", "1 when the server takes new allocations (what /readyz says).");
        _clusterConnected = factory.CreateGauge("turn_cluster_redis_connected",
            "1 when the last cluster heartbeat reached Redis (--redis); 0 when it did not, or when the node runs alone.");
        _clusterNodes = factory.CreateGauge("turn_cluster_nodes",
            "Nodes of this region in the cluster registry, this one included, as last read from Redis (0 when alone or Redis is unreachable).");
        _reloads = factory.CreateCounter("turn_config_reloads_total", "Configuration reloads, by result (applied, refused).", ["result"]);
        _threadPoolThreads = factory.CreateGauge("dotnet_threadpool_threads", "Thread-pool threads.");
        _threadPoolQueue = factory.CreateGauge("dotnet_threadpool_queue_length", "Work items waiting for the thread pool.");
        _threadPoolCompleted = factory.CreateCounter("dotnet_threadpool_completed_items_total", "Work items the thread pool completed.");
        Histogram checkRtt = factory.CreateHistogram("turn_check_rtt_seconds",
            "Round trip of ICE connectivity and consent checks seen in relayed data, by the client's transport and leg " +
            "(client: relay to client and back; peer: relay to peer and back).",
            new HistogramConfiguration
            {
                LabelNames = ["transport", "leg"],
                Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2],
            });
        // Children resolved once: observing on the relay path then looks nothing up and allocates nothing.
        _checkRtt = new Histogram.Child[Transports.Length, 2];
        foreach (TransportProtocol protocol in Transports)
        {
            _checkRtt[(int)protocol, 0] = checkRtt.WithLabels(TransportLabels[(int)protocol], "peer");
            _checkRtt[(int)protocol, 1] = checkRtt.WithLabels(TransportLabels[(int)protocol], "client");
        }

        Histogram rtpLoss = factory.CreateHistogram("turn_rtp_loss_ratio",
            "Share of an RTP stream's packets that did not reach the relay, per report interval, by the client's transport and " +
            "direction (a sample: one stream per allocation and direction).",
            new HistogramConfiguration { LabelNames = ["transport", "direction"], Buckets = [0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1] });
        Histogram rtpJitter = factory.CreateHistogram("turn_rtp_jitter_seconds",
            "Interarrival jitter of an RTP stream at the relay (RFC 3550), per report interval, by the client's transport and direction.",
            new HistogramConfiguration
            {
                LabelNames = ["transport", "direction"],
                Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2],
            });
        _rtpLoss = new Histogram.Child[Transports.Length, 2];
        _rtpJitter = new Histogram.Child[Transports.Length, 2];
        foreach (TransportProtocol protocol in Transports)
        {
            for (int toPeer = 0; toPeer < 2; toPeer++)
            {
                string direction = toPeer == 1 ? "to_peer" : "to_client";
                _rtpLoss[(int)protocol, toPeer] = rtpLoss.WithLabels(TransportLabels[(int)protocol], direction);
                _rtpJitter[(int)protocol, toPeer] = rtpJitter.WithLabels(TransportLabels[(int)protocol], direction);
            }
        }

        Registry.AddBeforeCollectCallback(Update);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Reloads applied and refused so far; set by the host.</summary>
    public Func<(long Applied, long Refused)> Reloads { get; set; } = () => (0, 0);

    /// <summary>Whether the server takes new allocations; set by the host (listeners up, not draining).</summary>
    public Func<bool> IsReady { get; set; } = () => true;

    public void CheckRoundTrip(TransportProtocol transport, bool clientLeg, double seconds) =>
        _checkRtt[(int)transport, clientLeg ? 1 : 0].Observe(seconds);

    public void RtpInterval(TransportProtocol transport, bool toPeer, double lossFraction, double jitterSeconds)
    {
        _rtpLoss[(int)transport, toPeer ? 1 : 0].Observe(lossFraction);
        if (jitterSeconds >= 0)
        {
            _rtpJitter[(int)transport, toPeer ? 1 : 0].Observe(jitterSeconds);
        }
    }

    private void Update()
    {
        var perTransport = new int[Transports.Length];
        long permissions = 0;
        long channels = 0;
        foreach (Allocation allocation in _allocations.Live)
        {
            perTransport[(int)allocation.Tuple.Protocol]++;
            permissions += allocation.PermissionCount;
            channels += allocation.ChannelCount;
        }

        TrafficCounts[] traffic = _audit.TrafficTotals(_allocations.Live);
        foreach (TransportProtocol protocol in Transports)
        {
            int i = (int)protocol;
            string label = TransportLabels[i];
            _allocationsActive.WithLabels(label).Set(perTransport[i]);
            _relayedPackets.WithLabels(label, "to_peer").IncTo(traffic[i].PacketsToPeer);
            _relayedPackets.WithLabels(label, "to_client").IncTo(traffic[i].PacketsToClient);
            _relayedBytes.WithLabels(label, "to_peer").IncTo(traffic[i].BytesToPeer);
            _relayedBytes.WithLabels(label, "to_client").IncTo(traffic[i].BytesToClient);
        }

        _permissionsActive.Set(permissions);
        _channelsActive.Set(channels);
        _allocationsCreated.IncTo(_server.AllocationsCreated);
        foreach (AllocationEndReason reason in Enum.GetValues<AllocationEndReason>())
        {
            _allocationsEnded.WithLabels(AllocationAudit.ReasonName(reason)).IncTo(_audit.EndedFor(reason));
        }

        _bindingRequests.IncTo(_server.BindingRequests);
        _successResponses.IncTo(_server.SuccessResponses);
        foreach (int code in ServerCounters.KnownErrorCodes)
        {
            _errorResponses.WithLabels(code.ToString(System.Globalization.CultureInfo.InvariantCulture)).IncTo(_server.ErrorResponsesWithCode(code));
        }

        _errorResponses.WithLabels("0").IncTo(_server.ErrorResponsesWithCode(0));
        UpdateAuth();
        _quotaRejections.IncTo(_server.QuotaRejections);
        _capacityRejections.IncTo(_server.CapacityRejections);
        _drainRejections.IncTo(_server.DrainRejections);
        _icmp.WithLabels("relayed").IncTo(_server.IcmpRelayed);
        _icmp.WithLabels("dropped").IncTo(_server.IcmpDropped);
        foreach (PeerAddressCategory category in Enum.GetValues<PeerAddressCategory>())
        {
            _peerRefusals.WithLabels(Label(category.ToString())).IncTo(_server.PeersRefusedIn(category));
        }

        foreach (DropReason reason in Enum.GetValues<DropReason>())
        {
            _dropped.WithLabels(Label(reason.ToString())).IncTo(_server.Dropped(reason));
        }

        UpdateTransports();
        _ready.Set(IsReady() ? 1 : 0);
        _clusterConnected.Set(ClusterConnected?.Invoke() == true ? 1 : 0);
        _clusterNodes.Set(ClusterNodes?.Invoke() ?? 0);
        (long applied, long refused) = Reloads();
        _reloads.WithLabels("applied").IncTo(applied);
        _reloads.WithLabels("refused").IncTo(refused);
        _threadPoolThreads.Set(ThreadPool.ThreadCount);
        _threadPoolQueue.Set(ThreadPool.PendingWorkItemCount);
        _threadPoolCompleted.IncTo(ThreadPool.CompletedWorkItemCount);
    }

    private void UpdateAuth()
    {
        foreach (AuthStatus status in Enum.GetValues<AuthStatus>())
        {
            if (status is AuthStatus.Authenticated)
            {
                continue;
            }

            if (status is AuthStatus.Challenge)
            {
                _authChallenges.IncTo(_authenticator.Outcomes(status));
            }
            else
            {
                _authFailures.WithLabels(Label(status.ToString())).IncTo(_authenticator.Outcomes(status));
            }
        }
    }

    private void UpdateTransports()
    {
        _datagrams.WithLabels("received").IncTo(_transport.DatagramsReceived);
        _datagrams.WithLabels("sent").IncTo(_transport.DatagramsSent);
        _socketErrors.WithLabels("receive").IncTo(_transport.ReceiveErrors);
        _socketErrors.WithLabels("send").IncTo(_transport.SendErrors);
        _connectionsOpen.Set(_listeners.OpenConnections);
        _connectionsAccepted.IncTo(_transport.ConnectionsAccepted);
        _connectionsClosed.WithLabels("idle").IncTo(_transport.ConnectionsClosedIdle);
        _connectionsClosed.WithLabels("framing_error").IncTo(_transport.ConnectionsClosedFramingError);
        _connectionsRefused.IncTo(_transport.ConnectionsRefusedLimit);
        _tlsHandshakesFailed.IncTo(_transport.TlsHandshakesFailed);
        _streamSendsDropped.IncTo(_transport.StreamSendDropped);
        _tcpPeerConnections.WithLabels("connected").IncTo(_transport.TcpPeersConnected);
        _tcpPeerConnections.WithLabels("accepted").IncTo(_transport.TcpPeersAccepted);
        _tcpPeerConnections.WithLabels("refused").IncTo(_server.TcpPeersRefused);
        _tcpPeerConnections.WithLabels("bound").IncTo(_server.TcpConnectionsBound);
        _tcpRelayedBytes.WithLabels("to_peer").IncTo(_transport.TcpBytesToPeer);
        _tcpRelayedBytes.WithLabels("to_client").IncTo(_transport.TcpBytesFromPeer);
        _dtlsAssociations.Set(_dtls.ActiveAssociations);
        _dtlsEvents.WithLabels("hello_verify_request_sent").IncTo(_dtls.HelloVerifyRequestsSent);
        _dtlsEvents.WithLabels("association_opened").IncTo(_dtls.AssociationsOpened);
        _dtlsEvents.WithLabels("association_replaced").IncTo(_dtls.AssociationsReplaced);
        _dtlsEvents.WithLabels("association_rejected_cap").IncTo(_dtls.AssociationsRejected);
        _dtlsEvents.WithLabels("association_closed_idle").IncTo(_dtls.AssociationsClosedIdle);
        _dtlsEvents.WithLabels("handshake_failed").IncTo(_dtls.HandshakesFailed);
        _dtlsEvents.WithLabels("datagram_dropped").IncTo(_dtls.DatagramsDropped);
        _dtlsEvents.WithLabels("send_dropped").IncTo(_dtls.SendsDropped);
    }

    /// <summary>PascalCase enum name to a snake_case label value.</summary>
    private static string Label(string name)
    {
        var text = new System.Text.StringBuilder(name.Length + 8);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                text.Append('_');
            }

            text.Append(char.ToLowerInvariant(name[i]));
        }

        return text.ToString();
    }
}
