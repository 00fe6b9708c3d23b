using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Relay.Handlers;

/// <summary>
/// RFC 6062: Connect (a connection from the TCP relayed address to a peer), connections peers open to it
/// (ConnectionAttempt), and ConnectionBind, which turns a new client connection into the data connection of one of
/// them. Allocate with REQUESTED-TRANSPORT TCP is in <see cref="AllocateHandler"/>.
/// </summary>
internal sealed class TcpRelayHandler(TurnContext context) : ITcpPeerConnectionHandler
{
    /// <summary>RFC 6062 §5.2: a Connect gives up after at least 30 s (447).</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>RFC 6062 §5.2, §5.3: a peer connection not bound by a ConnectionBind within 30 s is closed.</summary>
    public static readonly TimeSpan BindTimeout = TimeSpan.FromSeconds(30);

    public PendingTcpConnections Pending { get; } = new();

    /// <summary>RFC 6062 §5.2: checks a Connect and starts the connection; the answer goes to the client when it is made or fails.</summary>
    public int HandleConnect(in StunMessageReader request, in FiveTuple tuple, Span<byte> response)
    {
        StunHeader header = request.Header;
        int answered = context.BeginAllocationRequest(request, tuple, response, out RequestKey key, out Allocation allocation);
        if (answered >= 0)
        {
            return answered;
        }

        if (!allocation.IsTcp
            || !request.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute peerAttribute)
            || !XorAddressValue.TryRead(peerAttribute.Value, header.TransactionId, out TransportAddress peer))
        {
            return context.Responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        // The peer policy before any connection attempt (RFC 6062 §5.2: 403; RFC 8656 §21.2.2).
        int refused = context.CheckPeer(peer, allocation);
        if (refused == 0)
        {
            refused = allocation.TryBeginConnect(peer, context.Options.MaxTcpConnectionsPerAllocation);
            if (refused == StunErrorCode.InsufficientCapacity)
            {
                context.Counters.CountCapacityRejection();
            }
        }

        if (refused != 0)
        {
            return context.Responses.WriteError(response, header, refused, key);
        }

        _ = ConnectAsync((ITcpRelayEndpoint)allocation.Relay, allocation, peer, header, key);
        return 0;
    }

    /// <summary>
    /// RFC 6062 §5.4: over TCP or TLS, with the credentials of the control connection, CONNECTION-ID names a peer
    /// connection waiting to be bound; this connection becomes its data connection after the success response.
    /// </summary>
    public int HandleConnectionBind(in StunMessageReader request, in FiveTuple tuple, IClientTransport? transport, Span<byte> response)
    {
        StunHeader header = request.Header;
        if (!tuple.IsStream)
        {
            return context.Responses.WriteError(response, header, StunErrorCode.BadRequest);
        }

        // RFC 6062 §4.4: clients send the control connection's credentials, nonce included; our nonces are bound to the
        // address and port they were issued to, so one issued to the control connection (from the same IP) is good here.
        FiveTuple? control = null;
        if (request.TryGetAttribute(StunAttributeType.ConnectionId, out StunAttribute peekAttribute)
            && UInt32Value.TryRead(peekAttribute.Value, out uint peekId)
            && Pending.TryPeek(peekId, out PendingTcpConnections.Entry waiting)
            && waiting.Allocation.Tuple.Client.WithPort(0) == tuple.Client.WithPort(0))
        {
            control = waiting.Allocation.Tuple;
        }

        int answered = context.CheckCredentialsAndAttributes(request, tuple, control, response, out RequestKey key);
        if (answered >= 0)
        {
            return answered;
        }

        // A connection that holds an allocation is a control connection; it cannot be a data connection too.
        if (!request.TryGetAttribute(StunAttributeType.ConnectionId, out StunAttribute idAttribute)
            || !UInt32Value.TryRead(idAttribute.Value, out uint id)
            || context.Allocations.TryGet(tuple, out _)
            || !Pending.TryTake(id, out PendingTcpConnections.Entry entry))
        {
            return context.Responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        if (!entry.Allocation.IsLive(context.Now) || entry.Connection.IsClosed)
        {
            entry.Connection.Dispose();
            return context.Responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        // RFC 6062 §4.4: the same credentials as the control connection.
        if (!string.Equals(entry.Allocation.Username, key.Username, StringComparison.Ordinal))
        {
            Pending.Restore(id, entry);
            return context.Responses.WriteError(response, header, StunErrorCode.WrongCredentials, key);
        }

        if (transport is not IDataConnectionTransport data || !data.TryBindPeer(entry.Connection, entry.Allocation))
        {
            entry.Connection.Dispose();
            return context.Responses.WriteError(response, header, StunErrorCode.BadRequest, key);
        }

        context.Counters.CountTcpConnectionBound();
        var writer = StunResponses.Begin(response, header, StunClass.SuccessResponse);
        return context.Responses.Finish(ref writer, header, key);
    }

    /// <summary>
    /// RFC 6062 §5.3: a peer connected to the relayed address. Without a permission for its IP it is closed at once;
    /// else the client hears of it in a ConnectionAttempt indication on the control connection, and has 30 s to bind it.
    /// </summary>
    public void HandleIncomingPeer(Allocation allocation, ITcpPeerConnection connection)
    {
        long now = context.Now;
        if (!allocation.IsLive(now) || !allocation.HasPermission(connection.Peer, now)
            || !allocation.TryAddIncoming(connection, context.Options.MaxTcpConnectionsPerAllocation))
        {
            context.Counters.CountTcpPeerRefused();
            connection.Dispose();
            return;
        }

        uint id = Pending.Add(allocation, connection, context.After(now, BindTimeout));
        Span<byte> buffer = stackalloc byte[128];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.ConnectionAttempt, StunClass.Indication), TransactionId.NewRandom());
        writer.AddXorAddress(StunAttributeType.XorPeerAddress, connection.Peer);
        writer.AddConnectionId(id);
        writer.AddFingerprint();
        allocation.Client.Send(buffer[..writer.Length]);
    }

    private async Task ConnectAsync(ITcpRelayEndpoint relay, Allocation allocation, TransportAddress peer, StunHeader header, RequestKey key)
    {
        ITcpPeerConnection? connection;
        try
        {
            connection = await relay.ConnectAsync(peer, ConnectTimeout).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Whatever the connect fails with, the client gets 447.
        catch (Exception)
#pragma warning restore CA1031
        {
            connection = null;
        }

        bool kept = allocation.CompleteConnect(peer, connection);
        if (!kept && connection is not null)
        {
            // The allocation went away while connecting.
            connection.Dispose();
            return;
        }

        byte[] buffer = new byte[StunMessageProcessor.MaxResponseLength];
        int length;
        if (!kept)
        {
            if (allocation.IsDeleted)
            {
                return;
            }

            context.Counters.CountError(StunErrorCode.ConnectionTimeoutOrFailure);
            length = context.Responses.WriteError(buffer, header, StunErrorCode.ConnectionTimeoutOrFailure, key);
        }
        else
        {
            uint id = Pending.Add(allocation, connection!, context.After(context.Now, BindTimeout));
            var writer = StunResponses.Begin(buffer, header, StunClass.SuccessResponse);
            writer.AddConnectionId(id);
            length = context.Responses.Finish(ref writer, header, key);
            context.Counters.CountSuccess();
        }

        if (length > 0)
        {
            allocation.Client.Send(buffer.AsSpan(0, length));
        }
    }
}
