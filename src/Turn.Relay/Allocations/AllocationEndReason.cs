namespace Turn.Relay.Allocations;

/// <summary>Why an allocation ended: for the audit log and the deletion counters (a bounded label).</summary>
public enum AllocationEndReason
{
    /// <summary>RFC 8656 §8.2: the client sent a Refresh with LIFETIME 0.</summary>
    ClientDeleted,

    /// <summary>RFC 8656 §6: its lifetime ran out without a refresh.</summary>
    Expired,

    /// <summary>RFC 8656 §5: the TCP or TLS connection, or the DTLS association, it was made over closed.</summary>
    ConnectionClosed,

    /// <summary>The server stopped.</summary>
    ServerStopping,

    /// <summary>Its user's credentials were revoked, with the live allocations ended too.</summary>
    Revoked,
}
