using System.Collections.Concurrent;
using Turn.Stun;

namespace Turn.Relay.Allocations;

/// <summary>
/// One TURN allocation (RFC 8656 §6): the 5-tuple it belongs to, its relayed address, lifetime, permissions (keyed
/// on peer IP only, §9) and channels (§12). Reads on the relay path take no lock; changes serialize on the allocation.
/// Times are <see cref="TimeProvider.GetTimestamp"/> values.
/// </summary>
public sealed class Allocation
{
    private readonly Lock _sync = new();
    // Writers serialize on _sync, so one lock stripe is enough; the default sizes by core count cost ~0.5-3 KB each.
    private readonly ConcurrentDictionary<TransportAddress, long> _permissions = new(concurrencyLevel: 1, capacity: 4);

    // Most allocations never bind a channel (Send indications only): these exist from the first ChannelBind on.
    private ConcurrentDictionary<ushort, ChannelBinding>? _channelsByNumber;
    private ConcurrentDictionary<TransportAddress, ChannelBinding>? _channelsByPeer;
    private long _expiresAt;
    private int _deleted;

    // A dual allocation (RFC 8656 §7.2 item 9: ADDITIONAL-ADDRESS-FAMILY) has a second relayed address, of the other
    // family, and each family has its own lifetime (§8.1: a Refresh with REQUESTED-ADDRESS-FAMILY refreshes or
    // deletes one of them). A family's expiry is 0 once it is deleted; _expiresAt is the later of the two.
    private readonly IRelayEndpoint? _additional;
    private long _primaryExpiresAt;
    private long _additionalExpiresAt;

    // A TCP allocation (RFC 6062): its peer connections, pending and bound, closed with it; and the peers a Connect is
    // in progress for or has connected to (a second Connect to one of them is 446 while that connection lives).
    private List<ITcpPeerConnection>? _tcpConnections;
    private Dictionary<TransportAddress, ITcpPeerConnection?>? _outgoing;
    private bool _tcpClosed;

    // Relayed application data (payload bytes, without TURN framing), for the audit log and the metrics. Each direction
    // has one writer (the receive loop of the client's 5-tuple; the loop of the relay socket), so plain adds suffice and
    // cost the relay path no locked instruction; readers see whole 64-bit values. Were two loops ever to write one
    // direction at once, a statistic could miss a packet, nothing more.
    private CheckTracker _checks;
    private RtpTracker _rtpToPeer;
    private RtpTracker _rtpToClient;
    private long _packetsToPeer;
    private long _bytesToPeer;
    private long _packetsToClient;
    private long _bytesToClient;

    internal Allocation(FiveTuple tuple, string username, TransactionId allocateTransaction, RelayPortGrant relay,
        TransportAddress relayedAddress, IClientSender client, long expiresAt, AddressFamilyRefusal refusedFamily = default, long createdAt = 0,
        IRelayEndpoint? additionalRelay = null, TransportAddress additionalRelayedAddress = default)
    {
        CreatedAt = createdAt;
        RefusedFamily = refusedFamily;
        Tuple = tuple;
        Username = username;
        AllocateTransaction = allocateTransaction;
        Relay = relay.Endpoint;
        ReservationToken = relay.ReservationToken;
        RelayedAddress = relayedAddress;
        Client = client;
        _expiresAt = expiresAt;
        if (additionalRelay is not null)
        {
            _additional = additionalRelay;
            AdditionalRelayedAddress = additionalRelayedAddress;
            _primaryExpiresAt = expiresAt;
            _additionalExpiresAt = expiresAt;
        }
    }

    public FiveTuple Tuple { get; }

    /// <summary>RFC 8656 §5: later requests must authenticate with the same username (else 441).</summary>
    public string Username { get; }

    /// <summary>For TURN REST credentials, the id of the shared secret they were made with (to end them when it is revoked).</summary>
    public string? SecretId { get; init; }

    /// <summary>RFC 8656 §7.2 NOTE: a retransmitted Allocate carries the same transaction id and gets the same answer.</summary>
    public TransactionId AllocateTransaction { get; }

    /// <summary>The relay endpoint of <see cref="RelayedAddress"/> (the IPv4 one of a dual allocation).</summary>
    public IRelayEndpoint Relay { get; }

    /// <summary>The relayed address as told to the client (after any external-address mapping).</summary>
    public TransportAddress RelayedAddress { get; }

    /// <summary>The second relayed address of a dual allocation (RFC 8656 §7.2 item 9), as told to the client; else default.</summary>
    public TransportAddress AdditionalRelayedAddress { get; }

    /// <summary>Whether this is a dual allocation: one relayed address of each family.</summary>
    public bool IsDual => _additional is not null;

    /// <summary>Whether the relayed address is a TCP one (RFC 6062): peers are reached over connections, not datagrams.</summary>
    public bool IsTcp => Relay is ITcpRelayEndpoint;

    public ulong? ReservationToken { get; }

    /// <summary>
    /// RFC 8656 §7.2 item 9: the client asked for a dual allocation and one family could not be had (ADDRESS-ERROR-CODE
    /// 440 or 508 in the success response); default when nothing was refused.
    /// </summary>
    public AddressFamilyRefusal RefusedFamily { get; }

    public IClientSender Client { get; }

    /// <summary>coturn --max-bps on data from the client to peers; null when unlimited.</summary>
    public TokenBucket? ToPeerLimit { get; init; }

    /// <summary>coturn --max-bps on data from peers to the client; null when unlimited.</summary>
    public TokenBucket? ToClientLimit { get; init; }

    public long ExpiresAt => Volatile.Read(ref _expiresAt);

    /// <summary>When the allocation was made (a <see cref="TimeProvider.GetTimestamp"/> value).</summary>
    public long CreatedAt { get; }

    /// <summary>Datagrams relayed from the client to peers.</summary>
    public long PacketsToPeer => Volatile.Read(ref _packetsToPeer);

    /// <summary>Application data bytes relayed from the client to peers.</summary>
    public long BytesToPeer => Volatile.Read(ref _bytesToPeer);

    /// <summary>Datagrams relayed from peers to the client.</summary>
    public long PacketsToClient => Volatile.Read(ref _packetsToClient);

    /// <summary>Application data bytes relayed from peers to the client.</summary>
    public long BytesToClient => Volatile.Read(ref _bytesToClient);

    public bool IsDeleted => Volatile.Read(ref _deleted) != 0;

    public int PermissionCount => _permissions.Count;

    public int ChannelCount => Volatile.Read(ref _channelsByNumber)?.Count ?? 0;

    public bool IsLive(long now) => !IsDeleted && now < ExpiresAt;

    /// <summary>Whether the relayed address of this family is live (a dual allocation's families live and die apart).</summary>
    public bool IsLiveFor(StunAddressFamily family, long now) => !IsDeleted && now < ExpiresAtFor(family);

    /// <summary>When the relayed address of <paramref name="family"/> expires; 0 when the allocation has none (or it was deleted).</summary>
    public long ExpiresAtFor(StunAddressFamily family)
    {
        if (_additional is null)
        {
            return family == RelayedAddress.Family ? ExpiresAt : 0;
        }

        return family == RelayedAddress.Family ? Volatile.Read(ref _primaryExpiresAt)
            : family == AdditionalRelayedAddress.Family ? Volatile.Read(ref _additionalExpiresAt) : 0;
    }

    /// <summary>
    /// RFC 8656 §10.1, §11.2: the endpoint that sends to peers of <paramref name="family"/>, if the allocation has a
    /// live relayed address of that family; null otherwise (the datagram is dropped).
    /// </summary>
    public IRelayEndpoint? RelayFor(StunAddressFamily family, long now)
    {
        if (_additional is null)
        {
            return family == RelayedAddress.Family ? Relay : null;
        }

        if (!IsLiveFor(family, now))
        {
            return null;
        }

        return family == RelayedAddress.Family ? Relay : _additional;
    }

    /// <summary>
    /// An ICE check or its response inside relayed data (see <see cref="CheckTracker"/>); returns when the request it
    /// answers was seen, or 0. Serialized on the allocation: it only runs for the rare payloads that are STUN.
    /// </summary>
    internal long TrackCheck(ReadOnlySpan<byte> stun, bool fromClient, long now)
    {
        lock (_sync)
        {
            return _checks.Track(stun, fromClient, now);
        }
    }

    /// <summary>An RTP packet relayed one way (see <see cref="RtpTracker"/>); true with a report when an interval ended.</summary>
    internal bool TrackRtp(ReadOnlySpan<byte> rtp, bool fromClient, long now, long frequency, long interval, out double loss, out double jitter) =>
        fromClient
            ? _rtpToPeer.Track(rtp, now, frequency, interval, out loss, out jitter)
            : _rtpToClient.Track(rtp, now, frequency, interval, out loss, out jitter);

    internal void CountToPeer(int bytes)
    {
        _packetsToPeer++;
        _bytesToPeer += bytes;
    }

    internal void CountToClient(int bytes)
    {
        _packetsToClient++;
        _bytesToClient += bytes;
    }

    /// <summary>
    /// Bytes a data connection of a TCP allocation relayed (RFC 6062 §5.4), one read's worth at a time: counted as one
    /// "packet" per read. Called by the transport that splices the connections.
    /// </summary>
    public void CountStreamRelayed(int bytes, bool toPeer)
    {
        if (toPeer)
        {
            Interlocked.Increment(ref _packetsToPeer);
            Interlocked.Add(ref _bytesToPeer, bytes);
        }
        else
        {
            Interlocked.Increment(ref _packetsToClient);
            Interlocked.Add(ref _bytesToClient, bytes);
        }
    }

    /// <summary>Sets the lifetime of the allocation (of every family of a dual one that is still there).</summary>
    internal void SetExpiry(long expiresAt)
    {
        if (_additional is null)
        {
            Volatile.Write(ref _expiresAt, expiresAt);
            return;
        }

        lock (_sync)
        {
            if (_primaryExpiresAt != 0)
            {
                Volatile.Write(ref _primaryExpiresAt, expiresAt);
            }

            if (_additionalExpiresAt != 0)
            {
                Volatile.Write(ref _additionalExpiresAt, expiresAt);
            }

            Volatile.Write(ref _expiresAt, Math.Max(_primaryExpiresAt, _additionalExpiresAt));
        }
    }

    /// <summary>RFC 8656 §8.1: refreshes one family of a dual allocation (or the whole allocation of that one family).</summary>
    internal void SetExpiry(StunAddressFamily family, long expiresAt)
    {
        if (_additional is null)
        {
            SetExpiry(expiresAt);
            return;
        }

        lock (_sync)
        {
            ref long leg = ref family == RelayedAddress.Family ? ref _primaryExpiresAt : ref _additionalExpiresAt;
            if (leg != 0)
            {
                Volatile.Write(ref leg, expiresAt);
            }

            Volatile.Write(ref _expiresAt, Math.Max(_primaryExpiresAt, _additionalExpiresAt));
        }
    }

    /// <summary>
    /// RFC 8656 §8.1: deletes the relayed address of <paramref name="family"/> from a dual allocation whose other family
    /// is still live, closing its endpoint; permissions and channels stay (those of the other family go on working).
    /// False when that would leave no relayed address: then the caller deletes the whole allocation.
    /// </summary>
    internal bool TryRemoveFamily(StunAddressFamily family, long now)
    {
        if (_additional is null)
        {
            return false;
        }

        IRelayEndpoint endpoint;
        lock (_sync)
        {
            bool primary = family == RelayedAddress.Family;
            long other = primary ? _additionalExpiresAt : _primaryExpiresAt;
            ref long leg = ref primary ? ref _primaryExpiresAt : ref _additionalExpiresAt;
            if (leg == 0 || other <= now)
            {
                return false;
            }

            Volatile.Write(ref leg, 0);
            Volatile.Write(ref _expiresAt, other);
            endpoint = primary ? Relay : _additional;
        }

        endpoint.Dispose();
        return true;
    }

    /// <summary>
    /// RFC 6062 §5.2: starts a Connect to <paramref name="peer"/> unless one is in progress or its connection lives (then
    /// 446), or the allocation holds <paramref name="max"/> connections already (then 508).
    /// </summary>
    internal int TryBeginConnect(in TransportAddress peer, int max)
    {
        lock (_sync)
        {
            if (_tcpClosed)
            {
                return StunErrorCode.AllocationMismatch;
            }

            _outgoing ??= [];
            _tcpConnections ??= [];
            _tcpConnections.RemoveAll(static c => c.IsClosed);
            if (_outgoing.TryGetValue(peer, out ITcpPeerConnection? existing) && (existing is null || !existing.IsClosed))
            {
                return StunErrorCode.ConnectionAlreadyExists;
            }

            int connecting = _outgoing.Values.Count(static c => c is null);
            if (_tcpConnections.Count + connecting >= max)
            {
                return StunErrorCode.InsufficientCapacity;
            }

            _outgoing[peer] = null;
            return 0;
        }
    }

    /// <summary>
    /// The end of a Connect begun by <see cref="TryBeginConnect"/>: the connection made (kept with the allocation), or
    /// null when it failed. False when the allocation went away meanwhile: the caller closes the connection.
    /// </summary>
    internal bool CompleteConnect(in TransportAddress peer, ITcpPeerConnection? connection)
    {
        lock (_sync)
        {
            if (_tcpClosed || connection is null)
            {
                _outgoing?.Remove(peer);
                return false;
            }

            _outgoing![peer] = connection;
            _tcpConnections!.Add(connection);
            return true;
        }
    }

    /// <summary>RFC 6062 §5.3: keeps a connection a peer opened; false when the allocation is gone or holds <paramref name="max"/>.</summary>
    internal bool TryAddIncoming(ITcpPeerConnection connection, int max)
    {
        lock (_sync)
        {
            if (_tcpClosed)
            {
                return false;
            }

            _tcpConnections ??= [];
            _tcpConnections.RemoveAll(static c => c.IsClosed);
            if (_tcpConnections.Count + (_outgoing?.Values.Count(static c => c is null) ?? 0) >= max)
            {
                return false;
            }

            _tcpConnections.Add(connection);
            return true;
        }
    }

    /// <summary>Peer connections of a TCP allocation that are still open, pending or bound.</summary>
    public int TcpConnectionCount
    {
        get
        {
            lock (_sync)
            {
                return _tcpConnections?.Count(static c => !c.IsClosed) ?? 0;
            }
        }
    }

    /// <summary>RFC 6062 §5.5: the allocation is gone, and so are its connections (a bound one closes its data connection).</summary>
    private void CloseTcpConnections()
    {
        List<ITcpPeerConnection>? connections;
        lock (_sync)
        {
            _tcpClosed = true;
            connections = _tcpConnections;
            _tcpConnections = null;
            _outgoing = null;
        }

        if (connections is not null)
        {
            foreach (ITcpPeerConnection connection in connections)
            {
                connection.Dispose();
            }
        }
    }

    /// <summary>Closes the relay endpoints still open (the allocation is gone).</summary>
    internal void DisposeRelays()
    {
        CloseTcpConnections();
        if (_additional is null)
        {
            Relay.Dispose();
            return;
        }

        lock (_sync)
        {
            // A family deleted before (expiry 0) already closed its endpoint.
            if (_primaryExpiresAt != 0)
            {
                Relay.Dispose();
            }

            if (_additionalExpiresAt != 0)
            {
                _additional.Dispose();
            }
        }
    }

    /// <summary>Marks the allocation gone; true for the caller that did it (who then releases its resources).</summary>
    internal bool MarkDeleted() => Interlocked.Exchange(ref _deleted, 1) == 0;

    /// <summary>RFC 8656 §9: is there an unexpired permission for this peer's IP (the port does not matter)?</summary>
    public bool HasPermission(in TransportAddress peer, long now) =>
        _permissions.TryGetValue(peer.WithPort(0), out long expiresAt) && now < expiresAt;

    /// <summary>
    /// RFC 8656 §9: installs or refreshes the permission for the peer's IP until <paramref name="expiresAt"/>.
    /// False when a new permission would exceed <paramref name="maxPermissions"/>.
    /// </summary>
    internal bool InstallPermission(in TransportAddress peer, long expiresAt, int maxPermissions)
    {
        TransportAddress key = peer.WithPort(0);
        lock (_sync)
        {
            if (!_permissions.ContainsKey(key) && _permissions.Count >= maxPermissions)
            {
                return false;
            }

            _permissions[key] = expiresAt;
            return true;
        }
    }

    /// <summary>Whether installing permissions for these many new peers would stay within the limit.</summary>
    internal bool CanInstallPermissions(ReadOnlySpan<TransportAddress> peers, int maxPermissions)
    {
        lock (_sync)
        {
            int added = 0;
            for (int i = 0; i < peers.Length; i++)
            {
                if (!_permissions.ContainsKey(peers[i].WithPort(0)))
                {
                    added++;
                }
            }

            return _permissions.Count + added <= maxPermissions;
        }
    }

    public bool TryGetChannel(ushort number, long now, out ChannelBinding channel)
    {
        channel = null!;
        return Volatile.Read(ref _channelsByNumber) is { } channels && channels.TryGetValue(number, out channel!) && channel.IsLive(now);
    }

    public bool TryGetChannelForPeer(in TransportAddress peer, long now, out ChannelBinding channel)
    {
        channel = null!;
        return Volatile.Read(ref _channelsByPeer) is { } channels && channels.TryGetValue(peer, out channel!) && channel.IsLive(now);
    }

    /// <summary>
    /// RFC 8656 §12.2: binds <paramref name="number"/> to <paramref name="peer"/> or refreshes that binding. A number
    /// bound to another peer, or a peer bound to another number, is a conflict even after expiry until the sweep
    /// removes it (the RFC asks clients to wait 5 minutes before reusing either).
    /// </summary>
    internal ChannelBindOutcome BindChannel(ushort number, in TransportAddress peer, long expiresAt, int maxChannels)
    {
        lock (_sync)
        {
            // Published by-peer first: a reader that finds the by-number map also finds the by-peer one.
            if (_channelsByNumber is null)
            {
                Volatile.Write(ref _channelsByPeer, new ConcurrentDictionary<TransportAddress, ChannelBinding>(concurrencyLevel: 1, capacity: 4));
                Volatile.Write(ref _channelsByNumber, new ConcurrentDictionary<ushort, ChannelBinding>(concurrencyLevel: 1, capacity: 4));
            }

            ConcurrentDictionary<ushort, ChannelBinding> channelsByNumber = _channelsByNumber!;
            ConcurrentDictionary<TransportAddress, ChannelBinding> channelsByPeer = _channelsByPeer!;
            bool numberBound = channelsByNumber.TryGetValue(number, out ChannelBinding? byNumber);
            bool peerBound = channelsByPeer.TryGetValue(peer, out ChannelBinding? byPeer);
            if (numberBound && peerBound && ReferenceEquals(byNumber, byPeer))
            {
                byNumber!.Refresh(expiresAt);
                return ChannelBindOutcome.Refreshed;
            }

            if (numberBound || peerBound)
            {
                return ChannelBindOutcome.Conflict;
            }

            if (channelsByNumber.Count >= maxChannels)
            {
                return ChannelBindOutcome.AtCapacity;
            }

            var binding = new ChannelBinding(number, peer, expiresAt);
            channelsByNumber[number] = binding;
            channelsByPeer[peer] = binding;
            return ChannelBindOutcome.Bound;
        }
    }

    /// <summary>Drops expired permissions and channels (RFC 8656 §9, §12: they simply stop existing).</summary>
    internal void RemoveExpired(long now)
    {
        // A dual allocation's family that expired before the other (RFC 8656 §8.1) closes its endpoint now.
        if (_additional is not null)
        {
            if (Volatile.Read(ref _primaryExpiresAt) is > 0 and var primary && primary <= now)
            {
                TryRemoveFamily(RelayedAddress.Family, now);
            }

            if (Volatile.Read(ref _additionalExpiresAt) is > 0 and var additional && additional <= now)
            {
                TryRemoveFamily(AdditionalRelayedAddress.Family, now);
            }
        }

        lock (_sync)
        {
            foreach (var (peer, expiresAt) in _permissions)
            {
                if (now >= expiresAt)
                {
                    _permissions.TryRemove(peer, out _);
                }
            }

            if (_channelsByNumber is null)
            {
                return;
            }

            foreach (var (number, channel) in _channelsByNumber)
            {
                if (!channel.IsLive(now))
                {
                    _channelsByNumber.TryRemove(number, out _);
                    _channelsByPeer!.TryRemove(channel.Peer, out _);
                }
            }
        }
    }
}
