using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Turn.Relay;
using Turn.Transports;

namespace Turn.Server.Tests;

/// <summary>A real server in this process on 127.0.0.1 and ::1, on a free port, with real sockets.</summary>
public class ServerFixture : IAsyncLifetime
{
    public const string Software = "test-server/1";

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private IHost? _host;

    protected virtual IEnumerable<string> ExtraArguments => [];

    public int Port { get; private set; }

    public ServerCounters Counters => Services.GetRequiredService<ServerCounters>();

    public TransportCounters TransportCounters => Services.GetRequiredService<TransportCounters>();

    public IServiceProvider Services => _host?.Services ?? throw new InvalidOperationException("not started");

    /// <summary>The server's log events (Information and above).</summary>
    public LogCapture Logs { get; } = new();

    public IPEndPoint V4 => new(IPAddress.Loopback, Port);

    public IPEndPoint V6 => new(IPAddress.IPv6Loopback, Port);

    public async ValueTask InitializeAsync()
    {
        string[] arguments = ["--listening-port", "0", "--listening-ip", "127.0.0.1", "--listening-ip", "::1", "--software", Software, .. ExtraArguments];
        CommandLineTranslator.Result command = CommandLineTranslator.Translate(arguments);
        Assert.Null(command.Error);
        HostApplicationBuilder builder = TurnServerHost.CreateBuilder(command.ConfigurationArguments, arguments);
        builder.Logging.AddProvider(Logs);
        _host = builder.Build();
        await _host.StartAsync();
        Port = _host.Services.GetRequiredService<ListenerRegistry>().Port;
        Assert.NotEqual(0, Port);
    }

    /// <summary>
    /// Stops the server, failing (rather than hanging the run) when it does not stop in time: a listener thread stuck
    /// in a deadlock would otherwise keep the stop waiting for it for ever.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        if (_host is null)
        {
            return;
        }

        IHost host = _host;
        _host = null;
        Task stopped = Task.Run(async () =>
        {
            await host.StopAsync();
            host.Dispose();
        });
        await stopped.WaitAsync(StopTimeout);
    }
}

/// <summary>The same server with UDP served by the portable .NET socket loops (--udp-io sockets).</summary>
public sealed class SocketsServerFixture : ServerFixture
{
    protected override IEnumerable<string> ExtraArguments => ["--udp-io", "sockets"];
}

/// <summary>A TURN server with one long-term user, relaying on loopback (peers on loopback allowed for the test).</summary>
public class RelayServerFixture : ServerFixture
{
    public const string Realm = "e2e.test";
    public const string User = "alice";
    public const string Password = "alice-secret";

    protected override IEnumerable<string> ExtraArguments =>
        ["--realm", Realm, "--user", $"{User}:{Password}", "--relay-ip", "127.0.0.1", "--allow-loopback-peers"];
}

/// <summary>The relay server with a test's own extra options (started and stopped by the test).</summary>
public sealed class ConfiguredRelayServer(string[] extra) : RelayServerFixture
{
    protected override IEnumerable<string> ExtraArguments => [.. base.ExtraArguments, .. extra];
}

/// <summary>The relay server with UDP listening and relay sockets served by the portable .NET socket loops (--udp-io sockets).</summary>
public sealed class SocketsRelayServerFixture : RelayServerFixture
{
    protected override IEnumerable<string> ExtraArguments => [.. base.ExtraArguments, "--udp-io", "sockets"];
}

/// <summary>A TURN server with small quotas, for flood tests.</summary>
public sealed class QuotaRelayServerFixture : ServerFixture
{
    public const int TotalQuota = 5;
    public const int UserQuota = 3;

    protected override IEnumerable<string> ExtraArguments =>
        ["--realm", RelayServerFixture.Realm, "--user", "alice:a", "--user", "bob:b", "--user", "carol:c", "--relay-ip", "127.0.0.1",
         "--total-quota", "5", "--user-quota", "3"];
}

/// <summary>A TURN server with the default peer policy: loopback peers are refused.</summary>
public sealed class DefaultPolicyRelayServerFixture : ServerFixture
{
    protected override IEnumerable<string> ExtraArguments =>
        ["--realm", RelayServerFixture.Realm, "--user", $"{RelayServerFixture.User}:{RelayServerFixture.Password}", "--relay-ip", "127.0.0.1"];
}

/// <summary>The default peer policy (nothing allowed beyond it) with a relay address of each family, 127.0.0.1 and ::1.</summary>
public sealed class DefaultPolicyDualStackServerFixture : ServerFixture
{
    protected override IEnumerable<string> ExtraArguments =>
        ["--realm", RelayServerFixture.Realm, "--user", $"{RelayServerFixture.User}:{RelayServerFixture.Password}", "--relay-ip", "127.0.0.1",
         "--relay-ip", "::1"];
}

/// <summary>The same server with a short TCP idle timeout.</summary>
public sealed class ShortIdleServerFixture : ServerFixture
{
    protected override IEnumerable<string> ExtraArguments => ["--tcp-idle-timeout", "1"];
}

/// <summary>The relay server with a relay address of each family: 127.0.0.1 and ::1 (RFC 8656 §7.2 dual allocations).</summary>
public class DualStackRelayServerFixture : ServerFixture
{
    protected override IEnumerable<string> ExtraArguments =>
        ["--realm", RelayServerFixture.Realm, "--user", $"{RelayServerFixture.User}:{RelayServerFixture.Password}",
         "--relay-ip", "127.0.0.1", "--relay-ip", "::1", "--allow-loopback-peers"];
}

/// <summary>The dual-stack relay server with relay sockets served by the portable .NET socket loops.</summary>
public sealed class SocketsDualStackRelayServerFixture : DualStackRelayServerFixture
{
    protected override IEnumerable<string> ExtraArguments => [.. base.ExtraArguments, "--udp-io", "sockets"];
}
