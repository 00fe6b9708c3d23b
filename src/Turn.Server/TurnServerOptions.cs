namespace Turn.Server;

/// <summary>
/// The server's settings, section "Turn" of configuration (appsettings.json, TURN__* environment variables,
/// --Turn:Key=value, or the coturn-style flags of <see cref="CommandLineTranslator"/>). Validated at start by
/// <see cref="TurnServerOptionsValidator"/>, then frozen.
/// </summary>
public sealed class TurnServerOptions
{
    public const string SectionName = "Turn";

    public const string DefaultSoftware = "turn-server";

    /// <summary>UDP and TCP port for STUN/TURN (RFC 8656 §4.1 default 3478). 0 picks one free port for all listeners.</summary>
    public int ListeningPort { get; set; } = 3478;

    /// <summary>Addresses to listen on; empty means 0.0.0.0 and :: (IPv6 skipped with a warning when the host has none).</summary>
    public IList<string> ListeningIps { get; } = [];

    public bool EnableUdp { get; set; } = true;

    public bool EnableTcp { get; set; } = true;

    /// <summary>RFC 8489 §14.14 SOFTWARE of every response; empty leaves the attribute out.</summary>
    public string? Software { get; set; } = DefaultSoftware;

    /// <summary>A TCP connection on which nothing arrives for this long is closed.</summary>
    public int TcpIdleTimeoutSeconds { get; set; } = 300;
}
