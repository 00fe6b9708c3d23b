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

namespace Turn.Server;

/// <summary>
/// The admin HTTP listener (--admin-listen, 127.0.0.1:9641 by default): Prometheus metrics on /metrics, liveness on
/// /healthz (and / as coturn's Prometheus port answers), readiness on /readyz, and POST /drain to start a graceful drain. A Kestrel of its own with nothing else
/// in it: no configuration files, no logging of requests. Started before the TURN listeners and stopped after them,
/// so readiness is observable while they come up and go down.
/// </summary>
public sealed partial class AdminServer(IOptions<TurnServerOptions> options, ServerMetrics metrics, ListenerRegistry listeners,
    DrainCoordinator drain, ILogger<AdminServer> logger) : IHostedService, IAsyncDisposable
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
            throw new InvalidOperationException($"The admin listener cannot listen on {endPoint} (Turn:AdminListen, --admin-listen): {ex.Message}", ex);
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

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _app = null;
        }
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
