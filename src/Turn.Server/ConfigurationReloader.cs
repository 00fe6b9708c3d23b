using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Turn.Relay;
using Turn.Relay.Auth;
using Turn.Transports;

namespace Turn.Server;

/// <summary>
/// Hot reload (SIGHUP, POST /reload, or a changed configuration file): the configuration is read again from the same
/// sources as at start (appsettings.json, environment, the command line and the -c file it names), bound and
/// validated whole; a bad one is logged with the keys at fault and changes nothing. A good one is swapped in:
/// users, REST secrets and realm, peer address policy, quotas and limits, external and alternate addresses, SOFTWARE,
/// and log levels, for the requests that follow. Allocations stay as they are. Settings that shape listeners and
/// sockets take a restart; a reload that changes one says so in the log.
/// </summary>
public sealed partial class ConfigurationReloader(ConfigurationInputs inputs, ReloadableConfigurationSource overlay, IConfiguration hostConfiguration,
    IOptions<TurnServerOptions> startOptions, LongTermAuthenticator authenticator, StunMessageProcessor processor, RelayPortAllocatorSet ports,
    ILogger<ConfigurationReloader> logger)
{
    /// <summary>Settings read once at start; a reload that changes one of them is told it needs a restart.</summary>
    private static readonly Func<TurnServerOptions, object?>[] RestartOnly =
    [
        o => o.ListeningPort, o => o.AltListeningPort, o => o.Rfc5780, o => string.Join(',', o.ListeningIps), o => o.EnableUdp, o => o.EnableTcp,
        o => o.EnableTls, o => o.EnableDtls, o => o.Redis, o => o.EffectiveNodeId, o => o.Region, o => o.ClusterLeaseSeconds,
        o => o.EffectiveTlsPort, o => o.EffectiveDtlsPort, o => o.CertFile, o => o.KeyFile, o => o.TlsCipherSuites, o => o.TlsReloadIntervalSeconds,
        o => o.TlsHandshakeTimeoutSeconds, o => o.DtlsMaxAssociations, o => o.DtlsIdleTimeoutSeconds, o => o.UdpReceiveLoops, o => o.UdpIo,
        o => o.UdpBatchSize, o => o.UdpGso, o => o.RelayThreads, o => o.TcpIdleTimeoutSeconds, o => o.MaxConnections,
        o => string.Join(',', o.RelayIps), o => o.MinPort, o => o.MaxPort, o => o.LegacyChannelNumbers, o => o.EnableAdmin,
        o => o.AdminListen, o => o.AdminPort, o => o.CredentialsToken, o => o.CredentialsHost, o => o.DrainTimeoutSeconds,
        o => o.LogFormat, o => o.StaleNonceSeconds, o => o.ConfigReloadIntervalSeconds, o => o.CallQuality,
    ];

    private readonly Lock _sync = new();
    private TurnServerOptions _current = startOptions.Value;
    private long _applied;
    private long _rejected;

    /// <summary>Reloads applied since start.</summary>
    public long Applied => Interlocked.Read(ref _applied);

    /// <summary>Reloads refused (the configuration did not read or validate) since start.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>The settings in force (those of the last good reload, or of the start).</summary>
    public TurnServerOptions Current
    {
        get
        {
            lock (_sync)
            {
                return _current;
            }
        }
    }

    /// <summary>Reads, validates and applies the configuration; false (and logged) when it is refused.</summary>
    public bool Reload(string trigger)
    {
        lock (_sync)
        {
            if (!TryRead(out IConfigurationRoot? configuration, out TurnServerOptions? next, out IReadOnlyList<string> failures))
            {
                foreach (string failure in failures)
                {
                    ReloadRefused(logger, trigger, failure);
                }

                Interlocked.Increment(ref _rejected);

                return false;
            }

            foreach (Func<TurnServerOptions, object?> setting in RestartOnly)
            {
                if (!Equals(setting(_current), setting(next!)))
                {
                    NeedsRestart(logger, trigger);
                    break;
                }
            }

            authenticator.Credentials = LongTermCredentials.Create(TurnServerHost.AuthOptions(next!));
            processor.Reconfigure(TurnServerHost.CreateEngineOptions(next!, ports), TurnServerHost.CreatePeerPolicy(next!, ports));
            overlay.Set(LoggingValues(configuration!));
            _current = next!;
            // Logged before it is counted: whoever sees the count sees the event too.
            Reloaded(logger, trigger, next!.Users.Count, next.StaticAuthSecrets.Count);
            Interlocked.Increment(ref _applied);
            return true;
        }
    }

    private bool TryRead(out IConfigurationRoot? configuration, out TurnServerOptions? options, out IReadOnlyList<string> failures)
    {
        configuration = null;
        options = null;
        IReadOnlyList<string> arguments = inputs.TranslatedArguments;
        if (inputs.RawArguments is { } raw)
        {
            // Again from the raw arguments, so a -c file is read anew.
            CommandLineTranslator.Result translated = CommandLineTranslator.Translate(raw);
            if (translated.Error is not null)
            {
                failures = [translated.Error];
                return false;
            }

            arguments = translated.ConfigurationArguments;
        }

        try
        {
            configuration = new ConfigurationBuilder()
                .AddJsonFile(Path.Combine(inputs.ContentRoot, "appsettings.json"), optional: true, reloadOnChange: false)
                .AddJsonFile(Path.Combine(inputs.ContentRoot, $"appsettings.{inputs.EnvironmentName}.json"), optional: true, reloadOnChange: false)
                .AddEnvironmentVariables()
                .AddCommandLine([.. arguments])
                .Build();
            options = new TurnServerOptions();
            configuration.GetSection(TurnServerOptions.SectionName).Bind(options);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or IOException or InvalidDataException)
        {
            failures = [ex.Message];
            return false;
        }

        ValidateOptionsResult result = new TurnServerOptionsValidator().Validate(null, options);
        failures = result.Failed ? [.. result.Failures ?? []] : [];
        return !result.Failed;
    }

    /// <summary>The new Logging section, and a null for each Logging key the host has that the new one lacks.</summary>
    private Dictionary<string, string?> LoggingValues(IConfigurationRoot configuration)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, string?> entry in hostConfiguration.GetSection("Logging").AsEnumerable())
        {
            values[entry.Key] = null;
        }

        foreach (KeyValuePair<string, string?> entry in configuration.GetSection("Logging").AsEnumerable())
        {
            values[entry.Key] = entry.Value;
        }

        return values;
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Information,
        Message = "Configuration reloaded ({Trigger}): {Users} users, {Secrets} shared secrets; new settings apply to the requests that follow")]
    private static partial void Reloaded(ILogger logger, string trigger, int users, int secrets);

    [LoggerMessage(EventId = 31, Level = LogLevel.Error, Message = "Configuration reload ({Trigger}) refused, nothing changed: {Failure}")]
    private static partial void ReloadRefused(ILogger logger, string trigger, string failure);

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning,
        Message = "Configuration reload ({Trigger}) changes listener, socket or admin settings, which take a restart; the others are applied")]
    private static partial void NeedsRestart(ILogger logger, string trigger);
}

/// <summary>Where the configuration came from at start, so a reload reads the same sources.</summary>
/// <param name="TranslatedArguments">The configuration arguments the host was built with.</param>
/// <param name="RawArguments">The command line as given (with any -c), or null when the host was built from translated arguments only.</param>
public sealed record ConfigurationInputs(IReadOnlyList<string> TranslatedArguments, IReadOnlyList<string>? RawArguments, string ContentRoot,
    string EnvironmentName)
{
    /// <summary>The files whose change triggers a reload: appsettings.json and any -c file.</summary>
    public IReadOnlyList<string> WatchedFiles()
    {
        var files = new List<string> { Path.Combine(ContentRoot, "appsettings.json") };
        if (RawArguments is { } raw)
        {
            for (int i = 0; i < raw.Count; i++)
            {
                if (raw[i] is "-c" or "--config" && i + 1 < raw.Count)
                {
                    files.Add(Path.GetFullPath(raw[i + 1]));
                }
                else if (raw[i].StartsWith("--config=", StringComparison.Ordinal))
                {
                    files.Add(Path.GetFullPath(raw[i]["--config=".Length..]));
                }
            }
        }

        return files;
    }
}

/// <summary>Reloads when a watched configuration file changes (time or size), checked every --config-reload-interval.</summary>
internal sealed class ConfigurationFileWatcher(ConfigurationInputs inputs, ConfigurationReloader reloader, IOptions<TurnServerOptions> options,
    TimeProvider time) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        int seconds = options.Value.ConfigReloadIntervalSeconds;
        if (seconds <= 0)
        {
            return;
        }

        IReadOnlyList<string> files = inputs.WatchedFiles();
        string[] stamps = [.. files.Select(Stamp)];
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(seconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                bool changed = false;
                for (int i = 0; i < files.Count; i++)
                {
                    string stamp = Stamp(files[i]);
                    if (stamp != stamps[i])
                    {
                        stamps[i] = stamp;
                        changed = true;
                    }
                }

                if (changed)
                {
                    reloader.Reload("file changed");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string Stamp(string file)
    {
        var info = new FileInfo(file);
        return info.Exists ? $"{info.LastWriteTimeUtc.Ticks}/{info.Length}" : "absent";
    }
}
