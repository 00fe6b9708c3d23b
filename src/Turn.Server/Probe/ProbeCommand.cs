using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace Turn.Server.Probe;

/// <summary>
/// <c>turn-server probe</c>: allocates on a TURN server, relays through it to itself for a few seconds and reports the
/// allocation time, round-trip percentiles and loss; with --prometheus-port it probes again every --interval seconds
/// and exports the last round's figures, labelled with the region, for Prometheus. This is how each region watches the
/// TURN server next to its SFU.
/// </summary>
public static class ProbeCommand
{
    public const string Name = "probe";

    public const string RegionVariable = "TURN_PROBE_REGION";

    public const string Usage =
        """
        Usage: turn-server probe --url turn:HOST[:PORT] (--secret SECRET | --user NAME --password PASSWORD)
                                 [--seconds N] [--rate N] [--json]
                                 [--prometheus-port PORT [--prometheus-address IP] [--interval SECONDS] [--region NAME]]

        Allocates twice on the server (UDP), binds a channel from each allocation to the other, sends numbered packets
        through the relay and back for --seconds (default 5) at --rate per second (default 50), and prints the
        allocation time, round-trip percentiles and loss. Exit status 0 when the probe worked, 1 when it failed.

          --secret SECRET         TURN REST API shared secret (or TURN_STATIC_AUTH_SECRET in the environment).
          --user, --password      Long-term credentials instead.
          --prometheus-port PORT  Keep probing every --interval seconds (default 30) and serve the figures on
                                  http://ADDRESS:PORT/metrics (--prometheus-address, default 0.0.0.0), labelled with
                                  --region (or TURN_PROBE_REGION).

        """;

    private sealed record Settings(IPEndPoint Server, string Username, string Password, TimeSpan Duration, int Rate, bool Json,
        int? PrometheusPort, IPAddress PrometheusAddress, TimeSpan Interval, string Region);

    /// <summary>Runs the command until done (or, exporting, until <paramref name="cancellationToken"/>); returns the exit status.</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Any(a => a is "-h" or "--help"))
        {
            await output.WriteAsync(Usage).ConfigureAwait(false);
            return 0;
        }

        Settings? settings;
        try
        {
            settings = await ParseAsync(args, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync("turn-server probe: " + ex.Message).ConfigureAwait(false);
            return 2;
        }

        if (settings.PrometheusPort is null)
        {
            try
            {
                ProbeResult result = await ProbeRound.RunAsync(settings.Server, settings.Username, settings.Password, settings.Duration, settings.Rate,
                    cancellationToken).ConfigureAwait(false);
                await output.WriteLineAsync(settings.Json ? ToJson(result) : ToText(settings.Server, result)).ConfigureAwait(false);
                return result.Received > 0 ? 0 : 1;
            }
            catch (ProbeException ex)
            {
                await error.WriteLineAsync("turn-server probe: failed: " + ex.Message).ConfigureAwait(false);
                return 1;
            }
        }

        await ExportAsync(settings, output, cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private static async Task ExportAsync(Settings settings, TextWriter output, CancellationToken cancellationToken)
    {
        CollectorRegistry registry = Metrics.NewCustomRegistry();
        MetricFactory factory = Metrics.WithCustomRegistry(registry);
        string[] region = ["region"];
        Gauge success = factory.CreateGauge("turn_probe_success", "1 when the last probe round worked (allocated, relayed, got answers).", region);
        Gauge allocate = factory.CreateGauge("turn_probe_allocate_seconds", "Time of the last round's first Allocate, 401 round included.", region);
        Gauge rtt = factory.CreateGauge("turn_probe_rtt_seconds", "Round trip through the relay in the last round, by quantile (1: the maximum).",
            ["region", "quantile"]);
        Gauge loss = factory.CreateGauge("turn_probe_loss_ratio", "Share of the last round's packets that did not come back.", region);
        Counter rounds = factory.CreateCounter("turn_probe_rounds_total", "Probe rounds, by result.", ["region", "result"]);

        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "turn-server-probe" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(settings.PrometheusAddress, settings.PrometheusPort!.Value));
        builder.Services.AddRoutingCore();
        await using WebApplication app = builder.Build();
        app.UseRouting();
        app.MapMetrics("/metrics", registry);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        await output.WriteLineAsync($"probe: metrics on http://{settings.PrometheusAddress}:{settings.PrometheusPort}/metrics, region '{settings.Region}'")
            .ConfigureAwait(false);
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    ProbeResult result = await ProbeRound.RunAsync(settings.Server, settings.Username, settings.Password, settings.Duration,
                        settings.Rate, cancellationToken).ConfigureAwait(false);
                    bool worked = result.Received > 0;
                    success.WithLabels(settings.Region).Set(worked ? 1 : 0);
                    allocate.WithLabels(settings.Region).Set(result.AllocateMilliseconds / 1000);
                    rtt.WithLabels(settings.Region, "0.5").Set(result.RttP50Milliseconds / 1000);
                    rtt.WithLabels(settings.Region, "0.9").Set(result.RttP90Milliseconds / 1000);
                    rtt.WithLabels(settings.Region, "0.99").Set(result.RttP99Milliseconds / 1000);
                    rtt.WithLabels(settings.Region, "1").Set(result.RttMaxMilliseconds / 1000);
                    loss.WithLabels(settings.Region).Set(result.LossPercent / 100);
                    rounds.WithLabels(settings.Region, worked ? "ok" : "failed").Inc();
                    await output.WriteLineAsync(ToText(settings.Server, result)).ConfigureAwait(false);
                }
                catch (ProbeException ex)
                {
                    success.WithLabels(settings.Region).Set(0);
                    rounds.WithLabels(settings.Region, "failed").Inc();
                    await output.WriteLineAsync("probe failed: " + ex.Message).ConfigureAwait(false);
                }

                await Task.Delay(settings.Interval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static string ToText(IPEndPoint server, ProbeResult r) => string.Create(CultureInfo.InvariantCulture,
        $"probe {server}: allocate {r.AllocateMilliseconds:F1} ms; {r.Received}/{r.Sent} back, loss {r.LossPercent:F2} %; " +
        $"RTT p50 {r.RttP50Milliseconds:F2} ms, p90 {r.RttP90Milliseconds:F2} ms, p99 {r.RttP99Milliseconds:F2} ms, max {r.RttMaxMilliseconds:F2} ms");

    private static string ToJson(ProbeResult r) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["allocateMs"] = Math.Round(r.AllocateMilliseconds, 3),
        ["sent"] = r.Sent,
        ["received"] = r.Received,
        ["lossPercent"] = Math.Round(r.LossPercent, 3),
        ["rttMs"] = new Dictionary<string, double>
        {
            ["p50"] = Math.Round(r.RttP50Milliseconds, 3),
            ["p90"] = Math.Round(r.RttP90Milliseconds, 3),
            ["p99"] = Math.Round(r.RttP99Milliseconds, 3),
            ["max"] = Math.Round(r.RttMaxMilliseconds, 3),
        },
    });

    private static async Task<Settings> ParseAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        bool json = false;
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--json")
            {
                json = true;
                continue;
            }

            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count)
            {
                throw new ArgumentException($"unexpected '{args[i]}' (see turn-server probe --help).");
            }

            values[args[i]] = args[++i];
        }

        string[] known = ["--url", "--secret", "--user", "--password", "--seconds", "--rate", "--prometheus-port", "--prometheus-address", "--interval", "--region"];
        foreach (string key in values.Keys)
        {
            if (!known.Contains(key))
            {
                throw new ArgumentException($"unknown option '{key}' of 'probe'.");
            }
        }

        string url = values.GetValueOrDefault("--url") ?? throw new ArgumentException("--url turn:HOST[:PORT] is required.");
        if (!url.StartsWith("turn:", StringComparison.Ordinal) || url.Contains('?', StringComparison.Ordinal))
        {
            throw new ArgumentException($"--url must be turn:HOST[:PORT] (UDP; got '{url}').");
        }

        IPEndPoint server = await ResolveAsync(url["turn:".Length..], cancellationToken).ConfigureAwait(false);
        string? secret = values.GetValueOrDefault("--secret") ?? Environment.GetEnvironmentVariable(CredentialsCommand.SecretVariable);
        string username;
        string password;
        if (values.TryGetValue("--user", out string? user) && values.TryGetValue("--password", out string? pass))
        {
            (username, password) = (user, pass);
        }
        else if (!string.IsNullOrEmpty(secret))
        {
            RestCredentials.Minted minted = RestCredentials.Mint(secret, "probe", TimeSpan.FromHours(1), DateTimeOffset.UtcNow, []);
            (username, password) = (minted.Username, minted.Password);
        }
        else
        {
            throw new ArgumentException("--secret (or TURN_STATIC_AUTH_SECRET), or --user and --password, is required.");
        }

        int seconds = Number(values, "--seconds", 5, 1, 3600);
        int rate = Number(values, "--rate", 50, 1, 10_000);
        int? port = values.ContainsKey("--prometheus-port") ? Number(values, "--prometheus-port", 0, 1, 65535) : null;
        IPAddress address = values.TryGetValue("--prometheus-address", out string? a)
            ? IPAddress.TryParse(a, out IPAddress? ip) ? ip : throw new ArgumentException($"--prometheus-address must be an IP address (got '{a}').")
            : IPAddress.Any;
        int interval = Number(values, "--interval", 30, 1, 86_400);
        string region = values.GetValueOrDefault("--region") ?? Environment.GetEnvironmentVariable(RegionVariable) ?? "default";
        return new Settings(server, username, password, TimeSpan.FromSeconds(seconds), rate, json, port, address, TimeSpan.FromSeconds(interval), region);
    }

    private static int Number(Dictionary<string, string> values, string key, int fallback, int min, int max)
    {
        if (!values.TryGetValue(key, out string? text))
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"{key} must be {min}-{max} (got '{text}').");
    }

    private static async Task<IPEndPoint> ResolveAsync(string hostPort, CancellationToken cancellationToken)
    {
        if (IPEndPoint.TryParse(hostPort, out IPEndPoint? endPoint) && (hostPort.Contains(']', StringComparison.Ordinal) || hostPort.Count(c => c == ':') <= 1))
        {
            if (endPoint.Port == 0)
            {
                endPoint.Port = 3478;
            }

            return endPoint;
        }

        int colon = hostPort.LastIndexOf(':');
        string host = colon > 0 ? hostPort[..colon] : hostPort;
        int port = colon > 0 && int.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int p) ? p : 3478;
        try
        {
            IPAddress[] addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            return addresses.Length > 0 ? new IPEndPoint(addresses[0], port) : throw new ArgumentException($"'{host}' has no address.");
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            throw new ArgumentException($"cannot resolve '{host}': {ex.Message}", ex);
        }
    }

    /// <summary>Cancels on SIGINT or SIGTERM, for the exporting mode run from a shell or a container.</summary>
    public static CancellationTokenSource CancelOnSignals(out IDisposable registrations)
    {
        var cts = new CancellationTokenSource();
        PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });
        PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; cts.Cancel(); });
        registrations = new Registrations(term, interrupt);
        return cts;
    }

    private sealed class Registrations(params IDisposable[] items) : IDisposable
    {
        public void Dispose()
        {
            foreach (IDisposable item in items)
            {
                item.Dispose();
            }
        }
    }
}
