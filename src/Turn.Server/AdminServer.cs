using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;
using Turn.Cluster.Redis;

namespace Turn.Server;

/// <summary>
/// The admin HTTP listener (--admin-listen, 127.0.0.1:9641 by default): Prometheus metrics on /metrics, liveness on
/// /healthz (and / as coturn's Prometheus port answers), readiness on /readyz, and POST /drain to start a graceful drain. A Kestrel of its own with nothing else
/// in it: no configuration files, no logging of requests. Started before the TURN listeners and stopped after them,
/// so readiness is observable while they come up and go down.
/// </summary>
public sealed partial class AdminServer(IOptions<TurnServerOptions> options, ServerMetrics metrics, ListenerRegistry listeners,
    DrainCoordinator drain, ConfigurationReloader reloader, ILogger<AdminServer> logger, ClusterHostedService? cluster = null)
    : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>Where the admin listener is bound once started (null when it is off).</summary>
    public IPEndPoint? LocalEndPoint { get; private set; }

    /// <summary>Whether the server takes new allocations: listeners up and not draining.</summary>
    public bool IsReady => listeners.IsListening && !drain.IsDraining;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        IPEndPoint? endPoint = options.Value.EffectiveAdminEndPoint;
        if (endPoint is null)
        {
            return;
        }

        metrics.IsReady = () => IsReady;
        metrics.Reloads = () => (reloader.Applied, reloader.Rejected);
        WebApplicationBuilder builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "turn-server-admin" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = 64 * 1024;
            kestrel.Limits.MaxConcurrentConnections = 64;
            kestrel.Listen(endPoint);
        });
        builder.Services.AddRoutingCore();
        WebApplication app = builder.Build();
        app.UseRouting();
        app.MapMetrics("/metrics", metrics.Registry);
        app.MapGet("/healthz", static context => PlainAsync(context, StatusCodes.Status200OK, "ok\n"));
        app.MapGet("/", static context => PlainAsync(context, StatusCodes.Status200OK, "ok\n"));
        app.MapPost("/drain", context =>
        {
            drain.Begin("POST /drain");
            return PlainAsync(context, StatusCodes.Status202Accepted, "draining\n");
        });
        app.MapPost("/reload", context => reloader.Reload("POST /reload")
            ? PlainAsync(context, StatusCodes.Status200OK, "reloaded\n")
            : PlainAsync(context, StatusCodes.Status422UnprocessableEntity, "refused: see the server log\n"));
        if (options.Value.CredentialsToken is not null)
        {
            app.MapGet("/credentials", ServeCredentialsAsync);
        }

        // Revocation across the cluster (--redis): POST /revoke?user=NAME[&end=true], POST /restore?user=NAME.
        app.MapPost("/revoke", context => RevokeAsync(context, restore: false));
        app.MapPost("/restore", context => RevokeAsync(context, restore: true));
        app.MapGet("/cluster", context => cluster?.State is { } state
            ? JsonAsync(context, ClusterStatus.Json(options.Value.EffectiveNodeId, options.Value.Region, state))
            : PlainAsync(context, StatusCodes.Status404NotFound, "this node runs alone (no --redis)\n"));

        app.MapGet("/readyz", context => IsReady
            ? PlainAsync(context, StatusCodes.Status200OK, "ready\n")
            : PlainAsync(context, StatusCodes.Status503ServiceUnavailable, "not ready\n"));
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new StartupException($"The admin listener cannot listen on {endPoint} (Turn:AdminListen, --admin-listen): {ex.Message}", ex);
        }

        _app = app;
        LocalEndPoint = BoundEndPoint(app) ?? endPoint;
        AdminListening(logger, LocalEndPoint);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RevokeAsync(HttpContext context, bool restore)
    {
        string? user = context.Request.Query["user"];
        string? secretId = context.Request.Query["secret-id"];
        if (string.IsNullOrEmpty(user) == string.IsNullOrEmpty(secretId) || user?.Length > 763 || secretId?.Length > 64)
        {
            await PlainAsync(context, StatusCodes.Status400BadRequest, "user=NAME or secret-id=ID is needed\n").ConfigureAwait(false);
            return;
        }

        if (cluster?.State is not { } state)
        {
            await PlainAsync(context, StatusCodes.Status409Conflict, "revocation needs the cluster (--redis)\n").ConfigureAwait(false);
            return;
        }

        (RevocationTarget target, string name) = string.IsNullOrEmpty(user) ? (RevocationTarget.Secret, secretId!) : (RevocationTarget.User, user);
        bool end = string.Equals(context.Request.Query["end"], "true", StringComparison.OrdinalIgnoreCase);
        bool done = restore
            ? await state.RestoreAsync(target, name).ConfigureAwait(false)
            : await state.RevokeAsync(target, name, end).ConfigureAwait(false);
        if (done)
        {
            AdminRevocation(logger, target == RevocationTarget.Secret ? "REST secret" : "user", name,
                restore ? "restored" : end ? "revoked, live allocations ended" : "revoked");
        }

        await (done
            ? PlainAsync(context, StatusCodes.Status200OK, restore ? "restored\n" : "revoked\n")
            : PlainAsync(context, StatusCodes.Status503ServiceUnavailable, "Redis is unreachable; nothing changed\n")).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "Admin: credentials of {Kind} {Name} {What} (POST /revoke or /restore)")]
    private static partial void AdminRevocation(ILogger logger, string kind, string name, string what);

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _app = null;
        }
    }

    /// <summary>
    /// GET /credentials?user=ID&amp;ttl=SECONDS with "Authorization: Bearer TOKEN": TURN REST API credentials minted with
    /// the first shared secret, as {"iceServers": [...], "ttl": ..., "expires": ...}, like managed TURN services.
    /// </summary>
    private Task ServeCredentialsAsync(HttpContext context)
    {
        TurnServerOptions settings = options.Value;
        string presented = context.Request.Headers.Authorization.ToString();
        if (!presented.StartsWith("Bearer ", StringComparison.Ordinal)
            || !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.UTF8.GetBytes(presented["Bearer ".Length..]), System.Text.Encoding.UTF8.GetBytes(settings.CredentialsToken!)))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return PlainAsync(context, StatusCodes.Status401Unauthorized, "a valid bearer token is required\n");
        }

        string? user = context.Request.Query["user"];
        if (user is not null && !RestCredentials.IsValidUser(user))
        {
            return PlainAsync(context, StatusCodes.Status400BadRequest, "user must be 1-64 letters, digits or . _ - @\n");
        }

        int ttlSeconds = 3600;
        string? ttlText = context.Request.Query["ttl"];
        if (ttlText is not null && (!int.TryParse(ttlText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ttlSeconds)
            || ttlSeconds < 1 || ttlSeconds > RestCredentials.MaxTtl.TotalSeconds))
        {
            return PlainAsync(context, StatusCodes.Status400BadRequest, "ttl must be 1-604800 seconds\n");
        }

        TimeSpan ttl = TimeSpan.FromSeconds(ttlSeconds);
        RestCredentials.Minted minted = RestCredentials.Mint(settings.StaticAuthSecrets[0], user, ttl, DateTimeOffset.UtcNow, CredentialsUrls(settings));
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(RestCredentials.ResponseJson(minted, ttl));
    }

    /// <summary>turn: for UDP and TCP and turns: for TLS, those of them that are on, at the host clients reach.</summary>
    private List<string> CredentialsUrls(TurnServerOptions settings)
    {
        string host = settings.CredentialsHost
            ?? (settings.ExternalIps.Count > 0 && ExternalAddressMap.TryParse(settings.ExternalIps[0], out IPAddress? external, out _)
                ? external!.ToString()
                : settings.Realm);
        int port = listeners.Port;
        IReadOnlyList<string> all = RestCredentials.UrlsFor(host, port, listeners.TlsPort);
        var urls = new List<string>(3);
        if (settings.EnableUdp && listeners.UdpEndPoints.Count > 0)
        {
            urls.Add(all[0]);
        }

        if (settings.EnableTcp && listeners.TcpEndPoints.Count > 0)
        {
            urls.Add(all[1]);
        }

        if (listeners.TlsPort != 0)
        {
            urls.Add(all[2]);
        }

        return urls;
    }

    private static Task JsonAsync(HttpContext context, string json)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(json);
    }

    private static Task PlainAsync(HttpContext context, int status, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        return context.Response.WriteAsync(text);
    }

    private static IPEndPoint? BoundEndPoint(WebApplication app)
    {
        ICollection<string>? addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        string? first = addresses?.FirstOrDefault();
        return first is not null && Uri.TryCreate(first, UriKind.Absolute, out Uri? uri) && IPAddress.TryParse(uri.Host.Trim('[', ']'), out IPAddress? address)
            ? new IPEndPoint(address, uri.Port)
            : null;
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Admin listening on http://{EndPoint} (/metrics, /healthz, /readyz)")]
    private static partial void AdminListening(ILogger logger, IPEndPoint endPoint);
}
