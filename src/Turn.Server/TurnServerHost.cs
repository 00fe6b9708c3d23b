using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Relay.Auth;
using Turn.Relay.Policy;
using Turn.Stun;
using Turn.Server.Logging;
using Turn.Transports;

namespace Turn.Server;

/// <summary>Builds the Generic Host: configuration, validated options, the protocol engine and the listeners.</summary>
public static class TurnServerHost
{
    /// <param name="configurationArguments">Arguments already translated by <see cref="CommandLineTranslator"/>.</param>
    /// <param name="rawArguments">The command line as given, so a configuration reload reads its -c file again.</param>
    public static HostApplicationBuilder CreateBuilder(IReadOnlyList<string> configurationArguments, IReadOnlyList<string>? rawArguments = null)
    {
        ArgumentNullException.ThrowIfNull(configurationArguments);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            // The host does not watch appsettings.json itself: a reload goes through ConfigurationReloader, validated whole.
            Args = [.. configurationArguments, "--hostBuilder:reloadConfigOnChange=false"],
        });
        var overlay = new ReloadableConfigurationSource();
        ((IConfigurationBuilder)builder.Configuration).Add(overlay);
        builder.Services.AddSingleton(overlay);
        builder.Services.AddSingleton(new ConfigurationInputs(configurationArguments, rawArguments, builder.Environment.ContentRootPath,
            builder.Environment.EnvironmentName));

        builder.Logging.ClearProviders();
        // Lines written in batches by a thread of their own (see BatchedConsoleLoggerProvider); owned by the container,
        // so what is queued is written when the host is disposed.
        ConsoleLogFormat format = ParseLogFormat(builder.Configuration[TurnServerOptions.SectionName + ":LogFormat"]);
        builder.Services.AddSingleton<ILoggerProvider>(_ => new BatchedConsoleLoggerProvider(format));

        IServiceCollection services = builder.Services;
        services.AddOptions<TurnServerOptions>()
            .Bind(builder.Configuration.GetSection(TurnServerOptions.SectionName))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<TurnServerOptions>, TurnServerOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ServerCounters>();
        services.AddSingleton<TransportCounters>();
        services.AddSingleton<Turn.Transports.Dtls.DtlsCounters>();
        services.AddSingleton<ListenerRegistry>();
        services.AddSingleton<AllocationAudit>();
        services.AddSingleton(provider => new AllocationTable(provider.GetRequiredService<AllocationAudit>()));
        services.AddSingleton(provider => UdpIoSetup.Create(Options(provider),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger<UdpIoSetup>()));
        services.AddSingleton(provider =>
        {
            TurnServerOptions options = Options(provider);
            ILogger logger = provider.GetRequiredService<ILoggerFactory>().CreateLogger<UdpRelayPortAllocator>();
            return new RelayPortAllocatorSet(RelayAddressSelector.Select(options).Select(address => new UdpRelayPortAllocator(address,
                options.MinPort, options.MaxPort, provider.GetRequiredService<TransportCounters>(), provider.GetRequiredService<TimeProvider>(),
                logger, provider.GetRequiredService<UdpIoSetup>().Poller)));
        });
        services.AddSingleton(provider => CreatePeerPolicy(Options(provider), provider.GetRequiredService<RelayPortAllocatorSet>()));
        services.AddSingleton(provider =>
        {
            TurnServerOptions options = Options(provider);
            return LongTermAuthenticator.Create(AuthOptions(options), provider.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(provider =>
        {
            TurnServerOptions options = Options(provider);
            RelayPortAllocatorSet ports = provider.GetRequiredService<RelayPortAllocatorSet>();
            var processor = new StunMessageProcessor(CreateEngineOptions(options, ports), provider.GetRequiredService<ServerCounters>(),
                provider.GetRequiredService<TimeProvider>(), provider.GetRequiredService<AllocationTable>(), ports,
                provider.GetRequiredService<PeerAddressPolicy>(), provider.GetRequiredService<LongTermAuthenticator>());
            if (options.CallQuality)
            {
                processor.CallQuality = provider.GetRequiredService<ServerMetrics>();
            }

            return processor;
        });
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<DrainCoordinator>();
        services.AddSingleton<ConfigurationReloader>();
        services.AddHostedService<ConfigurationFileWatcher>();
        services.AddSingleton<IHostLifetime, DrainingHostLifetime>();
        // Registered before the listeners: started first and stopped last, so /readyz is there while they come and go.
        services.AddSingleton<AdminServer>();
        services.AddHostedService(provider => provider.GetRequiredService<AdminServer>());
        services.AddSingleton<NodeReporter>();
        services.AddSingleton<ClusterHostedService>();
        services.AddHostedService(provider => provider.GetRequiredService<ClusterHostedService>());
        services.AddHostedService<ListenerHostedService>();
        services.AddHostedService<ExpirySweeper>();
        return builder;
    }

    /// <summary>An alternate server as IP or IP:PORT (port 3478 when left out).</summary>
    internal static bool TryParseAlternateServer(string entry, out TransportAddress address)
    {
        address = default;
        if (IPAddress.TryParse(entry, out IPAddress? ip))
        {
            address = TransportAddress.FromIPAddress(ip, 3478);
            return true;
        }

        if (IPEndPoint.TryParse(entry, out IPEndPoint? endPoint) && endPoint.Port != 0)
        {
            address = TransportAddress.FromIPEndPoint(endPoint);
            return true;
        }

        return false;
    }

    /// <summary>Turn:LogFormat; anything but "json" is the plain format (the validator names a bad value).</summary>
    internal static ConsoleLogFormat ParseLogFormat(string? value) =>
        string.Equals(value, "json", StringComparison.OrdinalIgnoreCase) ? ConsoleLogFormat.Json : ConsoleLogFormat.Simple;

    private static TurnServerOptions Options(IServiceProvider provider) => provider.GetRequiredService<IOptions<TurnServerOptions>>().Value;

    internal static LongTermAuthOptions AuthOptions(TurnServerOptions options) => new()
    {
        Realm = options.Realm,
        Users = [.. options.Users],
        RestSecrets = [.. options.StaticAuthSecrets],
        NonceLifetime = TimeSpan.FromSeconds(options.StaleNonceSeconds),
    };

    internal static TurnEngineOptions CreateEngineOptions(TurnServerOptions options, RelayPortAllocatorSet ports)
    {
        var external = new Dictionary<TransportAddress, TransportAddress>();
        foreach (string entry in options.ExternalIps)
        {
            if (ExternalAddressMap.TryParse(entry, out IPAddress? publicAddress, out IPAddress? privateAddress))
            {
                // A public address alone maps the relay address of its own family.
                IPAddress? local = privateAddress ?? ports.AddressOf(TransportAddress.FromIPAddress(publicAddress!, 0).Family);
                if (local is not null)
                {
                    external[TransportAddress.FromIPAddress(local, 0)] = TransportAddress.FromIPAddress(publicAddress!, 0);
                }
            }
        }

        return new TurnEngineOptions
        {
            Software = options.Software,
            MaxAllocationLifetime = TimeSpan.FromSeconds(options.MaxAllocateLifetimeSeconds),
            UserQuota = options.UserQuota,
            TotalQuota = options.TotalQuota,
            UnauthenticatedRate = options.UnauthenticatedRate,
            UnauthenticatedBurst = options.UnauthenticatedBurst,
            MaxBytesPerSecond = options.MaxBps,
            AllowLegacyChannelNumbers = options.LegacyChannelNumbers,
            FingerprintDataIndications = options.Fingerprint,
            MaxPermissionsPerAllocation = options.MaxPermissionsPerAllocation,
            MaxChannelsPerAllocation = options.MaxChannelsPerAllocation,
            ExternalAddresses = external,
            AlternateServers = [.. options.AlternateServers.Select(entry => TryParseAlternateServer(entry, out TransportAddress a) ? a : default)
                .Where(a => a.Family != StunAddressFamily.None)],
            AlternateDomain = string.IsNullOrEmpty(options.AlternateDomain) ? null : options.AlternateDomain,
            RedirectAllAllocations = options.RedirectAllAllocations,
            CallQualityInterval = TimeSpan.FromSeconds(Math.Max(1, options.CallQualityIntervalSeconds)),
        };
    }

    /// <summary>
    /// RFC 8656 §21.2.2: the server's own addresses (listening, relay, external) are never peers, except the relay
    /// port range of its own relay addresses (another allocation's relayed address is a fine peer).
    /// </summary>
    internal static PeerAddressPolicy CreatePeerPolicy(TurnServerOptions options, RelayPortAllocatorSet ports)
    {
        var own = new List<IPAddress>(ports.Addresses);
        foreach (string listening in options.ListeningIps)
        {
            IPAddress address = IPAddress.Parse(listening);
            if (!address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any))
            {
                own.Add(address);
            }
        }

        foreach (string entry in options.ExternalIps)
        {
            if (ExternalAddressMap.TryParse(entry, out IPAddress? publicAddress, out _))
            {
                own.Add(publicAddress!);
            }
        }

        return new PeerAddressPolicy(PolicyOptions(options, own));
    }

    internal static PeerAddressPolicyOptions PolicyOptions(TurnServerOptions options, IList<IPAddress> serverAddresses) => new()
    {
        AllowLoopbackPeers = options.AllowLoopbackPeers,
        AllowedPeerRanges = [.. options.AllowedPeerRanges],
        DeniedPeerRanges = [.. options.DeniedPeerRanges],
        ServerAddresses = serverAddresses,
        RelayMinPort = options.MinPort,
        RelayMaxPort = options.MaxPort,
    };
}
