using System.Net;
using Microsoft.Extensions.Logging;
using Turn.Relay;

namespace Turn.Transports.Dtls;

/// <summary>What a listener's associations share: the engine, counters, limits, logging, and the way out of its table.</summary>
internal sealed class DtlsAssociationContext(StunMessageProcessor processor, DtlsCounters counters, DtlsLimits limits, ILogger logger,
    IPEndPoint localEndPoint, Action<DtlsAssociation> remove)
{
    public StunMessageProcessor Processor { get; } = processor;

    public DtlsCounters Counters { get; } = counters;

    public DtlsLimits Limits { get; } = limits;

    public ILogger Logger { get; } = logger;

    public IPEndPoint LocalEndPoint { get; } = localEndPoint;

    public ErrorLogThrottle ErrorThrottle { get; } = new();

    /// <summary>Called once by an association that has ended.</summary>
    public void Remove(DtlsAssociation association)
    {
        remove(association);
        Counters.ReleaseAssociation();
    }
}
