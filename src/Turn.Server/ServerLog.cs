using Microsoft.Extensions.Logging;

namespace Turn.Server;

/// <summary>Log events of the host, EventIds 1-99.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "IPv6 is not available on this host; not listening on {Address}: {Error}")]
    public static partial void Ipv6Unavailable(ILogger logger, string address, string error);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Server ready on port {Port} ({Count} listeners)")]
    public static partial void Ready(ILogger logger, int port, int count);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Port {Port} is taken for one of the protocols; choosing another")]
    public static partial void PortRetry(ILogger logger, int port);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information,
        Message = "UDP: batched system calls, up to {Batch} datagrams per call, {RelayThreads} relay socket threads, GSO {Gso}")]
    public static partial void UdpBatched(ILogger logger, int batch, int relayThreads, string gso);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning,
        Message = "TLS: no certificate configured (--cert/--pkey); serving a self-signed one generated at start: {Subject}, SHA-256 {Fingerprint}")]
    public static partial void TlsSelfSigned(ILogger logger, string subject, string fingerprint);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information,
        Message = "TLS: certificate from {File}: {Subject}, valid until {NotAfter:u}, SHA-256 {Fingerprint}")]
    public static partial void TlsCertificateLoaded(ILogger logger, string file, string subject, DateTime notAfter, string fingerprint);

    [LoggerMessage(EventId = 8, Level = LogLevel.Information,
        Message = "TLS: certificate reloaded from {File}: {Subject}, valid until {NotAfter:u}, SHA-256 {Fingerprint}; new connections get it")]
    public static partial void TlsCertificateReloaded(ILogger logger, string file, string subject, DateTime notAfter, string fingerprint);

    [LoggerMessage(EventId = 9, Level = LogLevel.Error,
        Message = "TLS: the changed certificate files ({File}) cannot be used, keeping the current certificate: {Reason}")]
    public static partial void TlsCertificateReloadFailed(ILogger logger, string file, string reason);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "UDP: .NET socket engine, one receive loop per socket")]
    public static partial void UdpSockets(ILogger logger);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information,
        Message = "RFC 5780 NAT behaviour discovery on UDP {First} and {Second}, ports {Port} and {AltPort}")]
    public static partial void NatDiscovery(ILogger logger, System.Net.IPAddress first, System.Net.IPAddress second, int port, int altPort);
}
