using Turn.Relay.Allocations;
using Turn.Relay.Policy;
using Turn.Stun;

namespace Turn.Relay.Handlers;

/// <summary>What every TURN method handler shares: configuration, clock, state, and the common request checks.</summary>
internal sealed class TurnContext
{
    /// <summary>How many unknown types a 420 lists; more would only make the answer an amplifier.</summary>
    public const int MaxUnknownAttributes = 16;

    public TurnContext(TurnEngineOptions options, ServerCounters counters, TimeProvider time, AllocationTable allocations,
        IRelayPortAllocator ports, PeerAddressPolicy policy, ITurnAuthenticator authenticator, StunResponses responses)
    {
        _options = options;
        Counters = counters;
        Time = time;
        Allocations = allocations;
        Ports = ports;
        _policy = policy;
        Authenticator = authenticator;
        _responses = responses;
        _failureLimiter = FailureLimiter(options, null);
    }

    private volatile TurnEngineOptions _options;
    private volatile PeerAddressPolicy _policy;
    private volatile StunResponses _responses;

    /// <summary>The settings in force; a configuration reload swaps them whole (<see cref="Reconfigure"/>).</summary>
    public TurnEngineOptions Options => _options;

    public ServerCounters Counters { get; }

    public TimeProvider Time { get; }

    public AllocationTable Allocations { get; }

    public IRelayPortAllocator Ports { get; }

    public PeerAddressPolicy Policy => _policy;

    public ITurnAuthenticator Authenticator { get; }

    public StunResponses Responses => _responses;

    /// <summary>
    /// A configuration reload: new settings and peer policy for the next request. Allocations, permissions and channels
    /// made before stay as they are (a permission is checked against the policy when it is installed or refreshed).
    /// </summary>
    public void Reconfigure(TurnEngineOptions options, PeerAddressPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(policy);
        if (options.Software != _options.Software)
        {
            _responses = new StunResponses(options.Software);
        }

        _policy = policy;
        _failureLimiter = FailureLimiter(options, _options);
        _options = options;
    }

    /// <summary>The limiter for <paramref name="options"/>: the one in use while its rates stay the same (a reload keeps the buckets).</summary>
    private Auth.SourceRateLimiter? FailureLimiter(TurnEngineOptions options, TurnEngineOptions? before)
    {
        if (options.UnauthenticatedRate <= 0)
        {
            return null;
        }

        if (before is not null && before.UnauthenticatedRate == options.UnauthenticatedRate
            && before.UnauthenticatedBurst == options.UnauthenticatedBurst && _failureLimiter is { } same)
        {
            return same;
        }

        return new Auth.SourceRateLimiter(options.UnauthenticatedRate, Math.Max(1, options.UnauthenticatedBurst), Time.TimestampFrequency);
    }

    private volatile bool _draining;
    private volatile ICallQualityObserver? _callQuality;
    private volatile IRevocationList? _revocations;
    private volatile IClusterAlternates? _clusterAlternates;
    private volatile Auth.SourceRateLimiter? _failureLimiter;

    /// <summary>The other nodes of a cluster that take new allocations; null: not clustered.</summary>
    public IClusterAlternates? ClusterAlternates
    {
        get => _clusterAlternates;
        set => _clusterAlternates = value;
    }

    /// <summary>Whether the node is at its total quota (<see cref="TurnEngineOptions.TotalQuota"/>): full.</summary>
    public bool IsFull => Options.TotalQuota > 0 && Allocations.Count >= Options.TotalQuota;

    /// <summary>
    /// Where to send a client this node makes no allocation for: the least loaded other node of the cluster that serves
    /// the client's transport and family, else the next configured alternate server of the client's family.
    /// </summary>
    public bool TryAlternateServer(in FiveTuple tuple, out TransportAddress alternate)
    {
        if (_clusterAlternates is { } cluster && cluster.TryPick(tuple.Protocol, tuple.Client.Family, out alternate))
        {
            return true;
        }

        alternate = default;
        return Options.AlternateServers.Count > 0 && TryNextAlternateServer(tuple.Client.Family, out alternate);
    }

    /// <summary>Revoked usernames (a cluster's); null: nothing is ever revoked.</summary>
    public IRevocationList? Revocations
    {
        get => _revocations;
        set => _revocations = value;
    }

    /// <summary>Whether <paramref name="username"/>'s credentials were revoked (no new allocation, no refresh).</summary>
    public bool IsRevoked(string username) => _revocations is { } list && list.IsRevoked(username);

    /// <summary>Told the round trips of ICE checks seen in relayed data; null: not measured.</summary>
    public ICallQualityObserver? CallQuality
    {
        get => _callQuality;
        set => _callQuality = value;
    }

    /// <summary>
    /// Relay-side call quality on one relayed payload, when measured: an ICE check is timed (see
    /// <see cref="CheckTracker"/>), an RTP packet counted towards its stream's loss and jitter (see <see cref="RtpTracker"/>).
    /// </summary>
    public void ObserveRelayed(Allocation allocation, ReadOnlySpan<byte> payload, bool fromClient, long now)
    {
        if (_callQuality is not { } observer)
        {
            return;
        }

        if (CheckTracker.LooksLikeStun(payload))
        {
            long sentAt = allocation.TrackCheck(payload, fromClient, now);
            if (sentAt != 0)
            {
                observer.CheckRoundTrip(allocation.Tuple.Protocol, clientLeg: fromClient, (double)(now - sentAt) / Time.TimestampFrequency);
            }
        }
        else if (RtpTracker.LooksLikeRtp(payload)
            && allocation.TrackRtp(payload, fromClient, now, Time.TimestampFrequency,
                (long)(Options.CallQualityInterval.TotalSeconds * Time.TimestampFrequency), out double loss, out double jitter))
        {
            observer.RtpInterval(allocation.Tuple.Protocol, toPeer: fromClient, loss, jitter);
        }
    }
    private int _nextAlternate;

    /// <summary>While set, no new allocation is made (graceful drain); existing ones go on as before.</summary>
    public bool Draining
    {
        get => _draining;
        set => _draining = value;
    }

    /// <summary>The next of <see cref="TurnEngineOptions.AlternateServers"/>, in turn.</summary>
    /// <summary>
    /// The next alternate server, taken in turn, of the client's address family (RFC 8489 §10: an ALTERNATE-SERVER the
    /// client can reach); false when none is of that family.
    /// </summary>
    public bool TryNextAlternateServer(StunAddressFamily family, out TransportAddress alternate)
    {
        IReadOnlyList<TransportAddress> servers = Options.AlternateServers;
        uint start = (uint)Interlocked.Increment(ref _nextAlternate);
        for (int i = 0; i < servers.Count; i++)
        {
            alternate = servers[(int)((start + (uint)i) % (uint)servers.Count)];
            if (alternate.Family == family)
            {
                return true;
            }
        }

        alternate = default;
        return false;
    }

    public long Now => Time.GetTimestamp();

    public long After(long now, TimeSpan duration) => now + (long)(duration.TotalSeconds * Time.TimestampFrequency);

    /// <summary>Whole seconds from <paramref name="now"/> until <paramref name="timestamp"/> (0 once past).</summary>
    public uint SecondsUntil(long now, long timestamp) =>
        timestamp <= now ? 0 : (uint)Math.Min(uint.MaxValue, (timestamp - now) / Time.TimestampFrequency);

    /// <summary>
    /// RFC 8656 §6, §7.2, §8.2: no LIFETIME means the default (600 s); a requested one is capped at the maximum and
    /// never below the default.
    /// </summary>
    public TimeSpan GrantedLifetime(uint? requestedSeconds) => requestedSeconds is { } seconds
        ? TimeSpan.FromSeconds(Math.Clamp(seconds, TurnEngineOptions.DefaultAllocationLifetime.TotalSeconds, Options.MaxAllocationLifetime.TotalSeconds))
        : TurnEngineOptions.DefaultAllocationLifetime;

    /// <summary>The relayed address as the client must see it: the public one for a relay behind 1:1 NAT.</summary>
    public TransportAddress MapToExternal(in TransportAddress local) =>
        Options.ExternalAddresses.TryGetValue(local.WithPort(0), out TransportAddress external) ? external.WithPort(local.Port) : local;

    /// <summary>
    /// RFC 8656 §10.2, §12.2: a peer of a family the allocation has no relayed address of gets 443 (a dual allocation
    /// takes both, §10.1); a peer the address policy refuses gets 403 (RFC 8656 §21.2.2, §21.4). 0 when the peer is fine.
    /// </summary>
    public int CheckPeer(in TransportAddress peer, Allocation allocation)
    {
        if (!allocation.IsLiveFor(peer.Family, Now))
        {
            return StunErrorCode.PeerAddressFamilyMismatch;
        }

        if (!Policy.IsAllowed(peer))
        {
            Counters.CountPeerRefused(Policy.Classify(peer));
            return StunErrorCode.Forbidden;
        }

        return 0;
    }

    /// <summary>
    /// The checks every authenticated TURN request starts with: credentials (RFC 8489 §9.2.4), then unknown
    /// comprehension-required attributes (§6.3.1: 420, after authentication), then malformed known ones (400). Returns a response length when the
    /// request is answered here (error), or -1 to go on with <paramref name="key"/> set.
    /// </summary>
    public int CheckCredentialsAndAttributes(in StunMessageReader request, in FiveTuple tuple, Span<byte> response, out RequestKey key) =>
        CheckCredentialsAndAttributes(request, tuple, null, response, out key);

    /// <summary>
    /// As above; a nonce that is stale for <paramref name="tuple"/> is tried once more as one issued to
    /// <paramref name="nonceTuple"/> (RFC 6062 §4.4: a ConnectionBind comes with the control connection's credentials,
    /// nonce included, over a new connection).
    /// </summary>
    public int CheckCredentialsAndAttributes(in StunMessageReader request, in FiveTuple tuple, FiveTuple? nonceTuple, Span<byte> response,
        out RequestKey key)
    {
        StunHeader header = request.Header;
        AuthenticationStatus status = Authenticator.Authenticate(request, tuple, out key);
        if (status == AuthenticationStatus.StaleNonce && nonceTuple is { } other)
        {
            status = Authenticator.Authenticate(request, other, out key);
        }

        // Failures are answered at a bounded rate per source address (401 floods, password guessing): over it, dropped.
        if (status != AuthenticationStatus.Authenticated && _failureLimiter is { } limiter && !limiter.TryTake(tuple.Client, Now))
        {
            Counters.CountDrop(DropReason.RateLimited);
            return 0;
        }

        switch (status)
        {
            case AuthenticationStatus.Authenticated:
                break;
            case AuthenticationStatus.BadRequest:
                return Responses.WriteError(response, header, StunErrorCode.BadRequest);
            case AuthenticationStatus.StaleNonce:
                return Responses.WriteChallenge(response, header, StunErrorCode.StaleNonce, Authenticator, tuple);
            default:
                return Responses.WriteChallenge(response, header, StunErrorCode.Unauthenticated, Authenticator, tuple);
        }

        Span<ushort> unknown = stackalloc ushort[MaxUnknownAttributes];
        int unknownCount = BindingHandler.CollectUnknownAttributes(request, unknown);
        if (unknownCount > 0)
        {
            return Responses.WriteError(response, header, StunErrorCode.UnknownAttribute, key, unknown[..unknownCount]);
        }

        // RFC 8489 §14.8: a known attribute whose value cannot be what its RFC says makes the request malformed (400).
        foreach (StunAttribute attribute in request.Attributes)
        {
            if (!StunAttributeValidator.IsWellFormed(attribute.Type, attribute.Value))
            {
                return Responses.WriteError(response, header, StunErrorCode.BadRequest, key);
            }
        }

        return -1;
    }

    /// <summary>
    /// How every request on an existing allocation starts: credentials and unknown attributes
    /// (<see cref="CheckCredentialsAndAttributes"/>), then the allocation itself (<see cref="FindOwnAllocation"/>).
    /// Returns a response length when the request is answered here, or -1 to go on.
    /// </summary>
    public int BeginAllocationRequest(in StunMessageReader request, in FiveTuple tuple, Span<byte> response, out RequestKey key, out Allocation allocation)
    {
        allocation = null!;
        int answered = CheckCredentialsAndAttributes(request, tuple, response, out key);
        return answered >= 0 ? answered : FindOwnAllocation(request.Header, tuple, key, response, out allocation);
    }

    /// <summary>
    /// RFC 8656 §5: a request other than Allocate needs a live allocation on its 5-tuple (else 437) created by the
    /// same username (else 441). Returns a response length on error, or -1 with <paramref name="allocation"/> set.
    /// </summary>
    public int FindOwnAllocation(in StunHeader header, in FiveTuple tuple, in RequestKey key, Span<byte> response, out Allocation allocation)
    {
        if (!Allocations.TryGet(tuple, out allocation) || !allocation.IsLive(Now))
        {
            return Responses.WriteError(response, header, StunErrorCode.AllocationMismatch, key);
        }

        if (!string.Equals(allocation.Username, key.Username, StringComparison.Ordinal))
        {
            return Responses.WriteError(response, header, StunErrorCode.WrongCredentials, key);
        }

        return -1;
    }
}
