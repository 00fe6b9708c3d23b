using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Turn.Stun;
using static Turn.Server.Tests.PeerSockets;

namespace Turn.Server.Tests;

/// <summary>
/// Hot reload of the configuration: a changed -c file, POST /reload, SIGHUP on the executable. A good configuration
/// applies users, quotas, peer policy and log levels to the requests that follow and drops no allocation; a bad one
/// changes nothing and is logged with the key or line at fault.
/// </summary>
public sealed class ConfigurationReloadTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("turn-reload-");

    private string ConfigFile => Path.Combine(_directory.FullName, "turnserver.conf");

    public void Dispose() => _directory.Delete(recursive: true);

    private void WriteConfig(params string[] lines)
    {
        File.WriteAllText(ConfigFile, string.Join('\n', lines) + "\n");
        // A stamp of its own, so a rewrite within the file system's time resolution is still seen as a change.
        File.SetLastWriteTimeUtc(ConfigFile, DateTime.UtcNow.AddSeconds(Random.Shared.Next(1, 1000)));
    }

    private static async Task<int?> AllocateAsync(IPEndPoint server, string user, string password)
    {
        var client = new TurnTestClient(server, user, password);
        int? code = TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17)));
        if (code is not null)
        {
            client.Dispose();
        }

        return code;
    }

    [Fact]
    public async Task A_changed_config_file_applies_users_quotas_policy_and_log_level_and_keeps_allocations()
    {
        WriteConfig("user=alice:a-secret", "total-quota=1", "realm=reload.test", "relay-ip=127.0.0.1", "allow-loopback-peers");
        var server = new ServerFixtureWith(["-c", ConfigFile, "--config-reload-interval", "1"]);
        await server.InitializeAsync();
        try
        {
            ConfigurationReloader reloader = server.Services.GetRequiredService<ConfigurationReloader>();
            ILogger probe = server.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Turn.Reload.Probe");
            Assert.False(probe.IsEnabled(LogLevel.Debug));

            using var alice = new TurnTestClient(server.V4, "alice", "a-secret");
            byte[] allocated = await alice.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
            Assert.Null(TurnTestClient.ErrorCode(allocated));
            TransportAddress relayed = TurnTestClient.XorAddress(allocated, StunAttributeType.XorRelayedAddress)!.Value;
            Assert.Equal(StunErrorCode.Unauthenticated, await AllocateAsync(server.V4, "bob", "b-secret"));
            Assert.Equal(StunErrorCode.AllocationQuotaReached, await AllocateAsync(server.V4, "alice", "a-secret"));

            // More users, a bigger quota, a denied range, Debug logging.
            WriteConfig("user=alice:a-secret", "user=bob:b-secret", "total-quota=5", "realm=reload.test", "relay-ip=127.0.0.1",
                "allow-loopback-peers", "denied-peer-ip=127.0.0.99", "verbose");
            await Eventually.WaitForAsync(() => reloader.Applied == 1, "the changed file was not reloaded");
            Assert.Null(await AllocateAsync(server.V4, "bob", "b-secret"));
            Assert.Null(await AllocateAsync(server.V4, "alice", "a-secret"));
            Assert.True(probe.IsEnabled(LogLevel.Debug), "the log level did not follow the reload");
            Assert.Single(server.Logs.Find(30, "Configuration reloaded (file changed): 2 users"));

            // The allocation from before still relays and refreshes; the new policy applies to new permissions.
            using Socket peer = Peer();
            TransportAddress peerAddress = AddressOf(peer);
            Assert.Null(TurnTestClient.ErrorCode(await alice.RequestAsync(StunMethod.CreatePermission,
                (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress))));
            await peer.SendToAsync(new byte[] { 7, 7 }, relayed.ToIPEndPoint());
            Assert.NotNull(await alice.ReceiveAsync(TimeSpan.FromSeconds(5)));
            Assert.Null(TurnTestClient.ErrorCode(await alice.RequestAsync(StunMethod.Refresh)));
            TransportAddress denied = TransportAddress.FromIPEndPoint(new IPEndPoint(IPAddress.Parse("127.0.0.99"), 4000));
            Assert.Equal(StunErrorCode.Forbidden, TurnTestClient.ErrorCode(await alice.RequestAsync(StunMethod.CreatePermission,
                (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, denied))));

            // A bad file changes nothing: carol is not let in, bob still is, and the log names the line.
            WriteConfig("user=alice:a-secret", "user=carol:c-secret", "total-quota=5", "no-such-option=1");
            await Eventually.WaitForAsync(() => reloader.Rejected == 1, "the bad file was not refused");
            Assert.Equal(1, reloader.Applied);
            Assert.Single(server.Logs.Find(31, "turnserver.conf:4"));
            Assert.Equal(StunErrorCode.Unauthenticated, await AllocateAsync(server.V4, "carol", "c-secret"));
            Assert.True(probe.IsEnabled(LogLevel.Debug));

            // Values that do not bind, or do not validate: refused with the key named.
            WriteConfig("user=alice:a-secret", "user=carol:c-secret", "max-port=banana");
            await Eventually.WaitForAsync(() => reloader.Rejected == 2, "the unreadable value was not refused");
            Assert.NotEmpty(server.Logs.Find(31, "Turn:MaxPort"));
            WriteConfig("user=alice:a-secret", "user=carol:c-secret", "min-port=60000", "max-port=50000", "relay-ip=127.0.0.1", "allow-loopback-peers");
            await Eventually.WaitForAsync(() => reloader.Rejected == 3, "the invalid file was not refused");
            Assert.NotEmpty(server.Logs.Find(31, "Turn:MinPort"));
            Assert.Equal(1, reloader.Applied);
            Assert.Equal(StunErrorCode.Unauthenticated, await AllocateAsync(server.V4, "carol", "c-secret"));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>POST /reload on the admin listener: 200 when applied, 422 when refused.</summary>
    [Fact]
    public async Task Post_reload_applies_or_refuses()
    {
        WriteConfig("user=alice:a-secret", "realm=reload.test");
        var server = new ServerFixtureWith(["-c", ConfigFile, "--config-reload-interval", "0"]);
        await server.InitializeAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://{server.Services.GetRequiredService<AdminServer>().LocalEndPoint}") };
            WriteConfig("user=alice:a-secret", "user=dave:d-secret", "realm=reload.test");
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            Assert.Equal(0, server.Services.GetRequiredService<ConfigurationReloader>().Applied);
            using (HttpResponseMessage ok = await http.PostAsync(new Uri("/reload", UriKind.Relative), null))
            {
                Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            }

            Assert.Null(await AllocateAsync(server.V4, "dave", "d-secret"));
            WriteConfig("no-such-option=1");
            using HttpResponseMessage refused = await http.PostAsync(new Uri("/reload", UriKind.Relative), null);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>
    /// The executable reloads on SIGHUP (what systemd's ExecReload and kill -HUP send) and keeps running; also when
    /// started under nohup, with SIGHUP ignored from the start.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Sighup_reloads_the_executable(bool startedWithSighupIgnored)
    {
        WriteConfig("user=alice:a-secret", "realm=reload.test", "relay-ip=127.0.0.1");
        int port = ServerProcess.FreePort();
        using Process process = ServerProcess.Start(["--listening-port", port.ToString(CultureInfo.InvariantCulture), "--listening-ip", "127.0.0.1",
            "--tls-listening-port", "0", "--admin-listen", "127.0.0.1:0", "--config-reload-interval", "0", "-c", ConfigFile],
            ignoredSignal: startedWithSighupIgnored ? "HUP" : null);
        try
        {
            await ServerProcess.WaitForLineAsync(process, "Server ready", TimeSpan.FromSeconds(60));
            var server = new IPEndPoint(IPAddress.Loopback, port);
            Assert.Equal(StunErrorCode.Unauthenticated, await AllocateAsync(server, "erin", "e-secret"));
            WriteConfig("user=alice:a-secret", "user=erin:e-secret", "realm=reload.test", "relay-ip=127.0.0.1");
            using (Process hup = Process.Start("kill", ["-HUP", process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await hup.WaitForExitAsync();
                Assert.Equal(0, hup.ExitCode);
            }

            int? code = StunErrorCode.Unauthenticated;
            var watch = Stopwatch.StartNew();
            while (code is not null && watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(100);
                code = await AllocateAsync(server, "erin", "e-secret");
            }

            Assert.Null(code);
            Assert.False(process.HasExited);
        }
        finally
        {
            await ServerProcess.StopAsync(process);
        }
    }

    /// <summary>A server started with exactly these arguments (plus a free port on loopback), logs captured.</summary>
    private sealed class ServerFixtureWith(string[] arguments) : ServerFixture
    {
        protected override IEnumerable<string> ExtraArguments => arguments;
    }
}
