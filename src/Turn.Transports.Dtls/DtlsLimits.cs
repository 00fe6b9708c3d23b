namespace Turn.Transports.Dtls;

/// <summary>The bounds every DTLS association lives within.</summary>
/// <param name="HandshakeTimeout">A handshake that has not completed after this long is abandoned.</param>
/// <param name="IdleTimeout">An association without an allocation on which nothing arrives for this long is closed.</param>
/// <param name="MaxAssociations">Associations open at once (handshaking or established), over all DTLS listeners.</param>
public sealed record DtlsLimits(TimeSpan HandshakeTimeout, TimeSpan IdleTimeout, int MaxAssociations)
{
    /// <summary>Default of <see cref="MaxAssociations"/>: each association has a thread of its own.</summary>
    public const int DefaultMaxAssociations = 1000;

    /// <summary>Default of <see cref="IdleTimeout"/>, seconds.</summary>
    public const int DefaultIdleTimeoutSeconds = 60;
}
