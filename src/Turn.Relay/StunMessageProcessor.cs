using Turn.Relay.Allocations;
using Turn.Relay.Handlers;
using Turn.Relay.Policy;
using Turn.Stun;

namespace Turn.Relay;

/// <summary>
/// The transport-agnostic entry point: one packet (a datagram, or a frame cut from a stream) and its 5-tuple in,
/// the answer bytes out, relaying to peers as a side effect. Never throws on input; anything it does not answer is
/// counted in <see cref="ServerCounters"/>.
/// </summary>
public sealed class StunMessageProcessor : IPeerDataHandler
{
    /// <summary>A response buffer of this size always suffices.</summary>
    public const int MaxResponseLength = 2048;

    private readonly ServerCounters _counters;
    private readonly BindingHandler _binding;
    private readonly AllocateHandler? _allocate;
    private readonly RefreshHandler? _refresh;
    private readonly CreatePermissionHandler? _createPermission;
    private readonly ChannelBindHandler? _channelBind;
    private readonly TcpRelayHandler? _tcp;
    private readonly DataPath? _data;
    private readonly bool _allowLegacyChannels;
    private readonly AllocationTable? _allocations;
    private readonly TurnContext? _context;

    /// <summary>A STUN-only engine: Binding is answered, TURN methods are not served.</summary>
    public StunMessageProcessor(TurnEngineOptions options, ServerCounters counters)
    {
        ArgumentNullException.ThrowIfNull(options);
        _counters = counters ?? throw new ArgumentNullException(nameof(counters));
        _binding = new BindingHandler(new StunResponses(options.Software));
    }

    /// <summary>A TURN engine (RFC 8656) over the given state, relay ports, peer policy and credentials.</summary>
    public StunMessageProcessor(TurnEngineOptions options, ServerCounters counters, TimeProvider time, AllocationTable allocations,
        IRelayPortAllocator ports, PeerAddressPolicy policy, ITurnAuthenticator authenticator)
        : this(options, counters)
    {
        var context = new TurnContext(options, counters, time, allocations, ports, policy, authenticator, new StunResponses(options.Software));
        _allowLegacyChannels = options.AllowLegacyChannelNumbers;
        _allocations = allocations;
        _context = context;
        _data = new DataPath(context);
        _tcp = new TcpRelayHandler(context);
        _allocate = new AllocateHandler(context, this, _tcp);
        _refresh = new RefreshHandler(context);
        _createPermission = new CreatePermissionHandler(context);
        _channelBind = new ChannelBindHandler(context);
    }

    public ServerCounters Counters => _counters;

    /// <summary>
    /// Applies a reloaded configuration to the requests that follow: quotas, limits, lifetimes, SOFTWARE, external
    /// addresses, alternate servers and the peer address policy. The legacy channel-number setting is fixed at start
    /// (stream framing depends on it) and is kept as it was.
    /// </summary>
    public void Reconfigure(TurnEngineOptions options, PeerAddressPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(options);
        _context?.Reconfigure(options with { AllowLegacyChannelNumbers = _allowLegacyChannels }, policy);
    }

    /// <summary>Revoked usernames: their Allocate and Refresh requests get 403. Null: nothing revoked.</summary>
    public IRevocationList? Revocations
    {
        get => _context?.Revocations;
        set
        {
            if (_context is not null)
            {
                _context.Revocations = value;
            }
        }
    }

    /// <summary>The per-user quota in force (0: none).</summary>
    public int UserQuota => _context?.Options.UserQuota ?? 0;

    /// <summary>The total quota in force (0: none): a node's capacity as the cluster registry tells it.</summary>
    public int TotalQuota => _context?.Options.TotalQuota ?? 0;

    /// <summary>The other nodes of a cluster a full or draining node sends new allocations to (300); null: not clustered.</summary>
    public IClusterAlternates? ClusterAlternates
    {
        get => _context?.ClusterAlternates;
        set
        {
            if (_context is not null)
            {
                _context.ClusterAlternates = value;
            }
        }
    }

    /// <summary>Told the round trips of ICE checks seen in relayed data (relay-side call quality); null: not measured.</summary>
    public ICallQualityObserver? CallQuality
    {
        get => _context?.CallQuality;
        set
        {
            if (_context is not null)
            {
                _context.CallQuality = value;
            }
        }
    }

    /// <summary>
    /// Graceful drain: while set, new Allocate requests are refused (300 to an alternate server, else 508) and
    /// everything else, existing allocations included, goes on as before.
    /// </summary>
    public bool Draining
    {
        get => _context?.Draining ?? false;
        set
        {
            if (_context is not null)
            {
                _context.Draining = value;
            }
        }
    }

    /// <summary>
    /// A stream connection (TCP, TLS) closed: the allocation made over it is deleted with its relay socket, since its
    /// 5-tuple is gone and nothing could reach it again (RFC 8656 §2, §3.1: an allocation is bound to its 5-tuple).
    /// Returns whether there was one.
    /// </summary>
    public bool ConnectionClosed(in FiveTuple tuple)
    {
        if (_allocations is null || !_allocations.TryGet(tuple, out Allocation allocation) || !_allocations.Remove(allocation, AllocationEndReason.ConnectionClosed))
        {
            return false;
        }

        _counters.CountAllocationDeleted();
        return true;
    }

    /// <summary>Whether <paramref name="tuple"/> holds an allocation right now (a DTLS association without one may be closed when idle).</summary>
    public bool HasAllocation(in FiveTuple tuple) => _allocations is not null && _allocations.TryGet(tuple, out _);

    /// <summary>Whether first bytes 0x50-0x7F are ChannelData (RFC 5766 channel numbers); stream framing must agree.</summary>
    public bool AllowLegacyChannelNumbers => _allowLegacyChannels;

    /// <summary>Handles one message; returns how many bytes of <paramref name="response"/> to send back (0: none).</summary>
    public int Process(ReadOnlySpan<byte> packet, in FiveTuple tuple, Span<byte> response) => Process(packet, tuple, null, response);

    /// <summary>
    /// Handles one message from a client that came in over <paramref name="transport"/> (needed to create
    /// allocations); returns how many bytes of <paramref name="response"/> to send back (0: none).
    /// </summary>
    public int Process(ReadOnlySpan<byte> packet, in FiveTuple tuple, IClientTransport? transport, Span<byte> response)
    {
        switch (packet.IsEmpty ? PacketKind.Other : PacketClassifier.Classify(packet[0], _allowLegacyChannels))
        {
            case PacketKind.Stun:
                break;
            case PacketKind.ChannelData:
                if (_data is null)
                {
                    // RFC 8656 §5: ChannelData on a 5-tuple without an allocation is silently ignored.
                    return Drop(DropReason.NoAllocation);
                }

                _data.HandleChannelData(packet, tuple);
                return 0;
            default:
                return Drop(DropReason.NotStunOrChannelData);
        }

        // RFC 8489 §6.3: a message that fails the basic checks is silently discarded.
        if (StunMessageReader.TryParse(packet, out StunMessageReader message) != StunParseStatus.Success)
        {
            return Drop(DropReason.Malformed);
        }

        // RFC 8489 §7: a FINGERPRINT that is present must be right.
        if (message.HasFingerprint && !message.VerifyFingerprint())
        {
            return Drop(DropReason.BadFingerprint);
        }

        int written = message.Header.Class switch
        {
            StunClass.Request => HandleRequest(message, tuple, transport, response),
            StunClass.Indication => HandleIndication(message, tuple),
            // RFC 8489 §6.3: the server has no transaction in progress, so responses are discarded.
            _ => Drop(DropReason.UnexpectedResponse),
        };

        if (written > 0)
        {
            CountAnswer(response[..written]);
        }

        return written;
    }

    /// <inheritdoc />
    public int HandlePeerData(Allocation allocation, in TransportAddress peer, Span<byte> buffer, int payloadLength, out int start)
    {
        start = 0;
        return _data?.HandlePeerData(allocation, peer, buffer, payloadLength, out start) ?? 0;
    }

    /// <summary>RFC 6062 §5.2, §5.3: peer connections waiting for a ConnectionBind.</summary>
    public int PendingTcpConnections => _tcp?.Pending.Count ?? 0;

    /// <summary>Closes peer connections nobody bound within 30 s (RFC 6062 §5.2, §5.3); called once a second.</summary>
    public int SweepPendingTcpConnections(long now) => _tcp?.Pending.Sweep(now) ?? 0;

    /// <inheritdoc />
    public int HandlePeerIcmp(Allocation allocation, in TransportAddress peer, bool icmpv6, byte type, byte code, uint info, Span<byte> buffer) =>
        _data?.HandlePeerIcmp(allocation, peer, icmpv6, type, code, info, buffer) ?? 0;

    private int HandleRequest(in StunMessageReader request, in FiveTuple tuple, IClientTransport? transport, Span<byte> response)
    {
        StunMethod method = request.Header.Method;
        if (method == StunMethod.Binding)
        {
            _counters.CountBindingRequest();
            return _binding.HandleRequest(request, tuple, transport as INatDiscoveryEndpoint, response);
        }

        // RFC 8656 §5: TURN does not use the RFC 3489 compatibility mode.
        if (!request.Header.HasMagicCookie)
        {
            return Drop(DropReason.MissingMagicCookie);
        }

        return method switch
        {
            StunMethod.Allocate when _allocate is not null && transport is not null => _allocate.Handle(request, tuple, transport, response),
            StunMethod.Refresh when _refresh is not null => _refresh.Handle(request, tuple, response),
            StunMethod.CreatePermission when _createPermission is not null => _createPermission.Handle(request, tuple, response),
            StunMethod.ChannelBind when _channelBind is not null => _channelBind.Handle(request, tuple, response),
            StunMethod.Connect when _tcp is not null => _tcp.HandleConnect(request, tuple, response),
            StunMethod.ConnectionBind when _tcp is not null => _tcp.HandleConnectionBind(request, tuple, transport, response),
            // RFC 8489 §6.3: a method this server does not serve (or a class it does not allow) is discarded.
            _ => Drop(DropReason.UnsupportedMethod),
        };
    }

    private int HandleIndication(in StunMessageReader indication, in FiveTuple tuple)
    {
        StunMethod method = indication.Header.Method;
        bool send = method == StunMethod.Send && _data is not null && indication.Header.HasMagicCookie;
        if (method != StunMethod.Binding && !send)
        {
            return Drop(DropReason.UnsupportedMethod);
        }

        // RFC 8489 §6.3.2: indications are never answered; one with unknown required attributes is discarded.
        Span<ushort> unknown = stackalloc ushort[1];
        if (BindingHandler.CollectUnknownAttributes(indication, unknown) > 0)
        {
            return Drop(DropReason.UnknownAttributeInIndication);
        }

        if (send)
        {
            _data!.HandleSend(indication, tuple);
            return 0;
        }

        // RFC 8489 §6.3.2: a Binding indication is a keepalive and needs nothing more.
        _counters.CountBindingIndication();
        return 0;
    }

    private void CountAnswer(ReadOnlySpan<byte> response)
    {
        if (StunMessageType.Decode((ushort)((response[0] << 8) | response[1])).Class == StunClass.ErrorResponse)
        {
            // ERROR-CODE is always the first attribute of our error responses (StunResponses): class and number at 26, 27.
            int code = response.Length >= 28 ? (response[26] & 0x7) * 100 + response[27] : 0;
            _counters.CountError(code);
        }
        else
        {
            _counters.CountSuccess();
        }
    }

    private int Drop(DropReason reason)
    {
        _counters.CountDrop(reason);
        return 0;
    }
}
