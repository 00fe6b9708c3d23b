using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>
/// <c>turn-server credentials</c>: TURN REST API credentials (username EXPIRY:USER, password
/// base64(HMAC-SHA1(secret, username))) that a server with the same shared secret accepts, and the RTCIceServer JSON.
/// </summary>
public sealed class CredentialsTests
{
    private const string Secret = "shared-secret-for-tests";

    private static (int Status, string Out, string Err) Run(DateTimeOffset now, params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int status = CredentialsCommand.Run(args, output, error, now);
        return (status, output.ToString(), error.ToString());
    }

    [Fact]
    public void Prints_username_password_and_an_ice_server_with_udp_tcp_and_tls_urls()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        var (status, output, _) = Run(now, "--secret", Secret, "--user", "alice", "--ttl", "600", "--url", "turn:turn.example.org");
        Assert.Equal(0, status);
        Assert.Contains("username  1800000600:alice", output, StringComparison.Ordinal);
        string expectedPassword = Turn.Relay.Auth.LongTermCredentials.ComputeRestPassword(Secret, "1800000600:alice");
        Assert.Contains("password  " + expectedPassword, output, StringComparison.Ordinal);
        Assert.Contains("expires   2027-01-15T08:10:00Z (in 600 s)", output, StringComparison.Ordinal);

        using JsonDocument json = JsonDocument.Parse(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]);
        Assert.Equal(["turn:turn.example.org:3478?transport=udp", "turn:turn.example.org:3478?transport=tcp", "turns:turn.example.org:5349?transport=tcp"],
            json.RootElement.GetProperty("urls").EnumerateArray().Select(u => u.GetString()!));
        Assert.Equal("1800000600:alice", json.RootElement.GetProperty("username").GetString());
        Assert.Equal(expectedPassword, json.RootElement.GetProperty("credential").GetString());
    }

    [Fact]
    public void Urls_ports_ipv6_and_json_only()
    {
        var (status, output, _) = Run(DateTimeOffset.UtcNow, "--secret", Secret, "--url", "turn:[2001:db8::1]:3479", "--tls-port", "443", "--json");
        Assert.Equal(0, status);
        using JsonDocument json = JsonDocument.Parse(output);
        Assert.Equal(["turn:[2001:db8::1]:3479?transport=udp", "turn:[2001:db8::1]:3479?transport=tcp", "turns:[2001:db8::1]:443?transport=tcp"],
            json.RootElement.GetProperty("urls").EnumerateArray().Select(u => u.GetString()!));
        Assert.DoesNotContain(':', json.RootElement.GetProperty("username").GetString()!);

        var (given, listed, _) = Run(DateTimeOffset.UtcNow, "--secret", Secret, "--url", "turn:a.example:3478?transport=udp", "--url", "turns:b.example:443", "--json");
        Assert.Equal(0, given);
        using JsonDocument asGiven = JsonDocument.Parse(listed);
        Assert.Equal(["turn:a.example:3478?transport=udp", "turns:b.example:443"], asGiven.RootElement.GetProperty("urls").EnumerateArray().Select(u => u.GetString()!));
    }

    [Theory]
    [InlineData("--url", "turn:h", "--user", "bad:user")]
    [InlineData("--url", "turn:h", "--ttl", "0")]
    [InlineData("--url", "turn:h", "--ttl", "604801")]
    [InlineData("--url", "http://h")]
    [InlineData("--url", "turn:h:99999")]
    [InlineData("--user", "alice")]
    [InlineData("--url", "turn:h", "--frobnicate", "x")]
    public void Bad_arguments_are_refused_with_a_message(params string[] args)
    {
        var (status, output, error) = Run(DateTimeOffset.UtcNow, ["--secret", Secret, .. args]);
        Assert.Equal(2, status);
        Assert.Empty(output);
        Assert.StartsWith("turn-server credentials: ", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// The minted credentials work against a server holding the same secret among several (rotation, as coturn's
    /// --use-auth-secret): an Allocate with them succeeds; expired ones get 401.
    /// </summary>
    [Fact]
    public async Task Minted_credentials_allocate_on_a_server_with_the_secret_and_expired_ones_do_not()
    {
        var server = new ConfiguredRelayServer(["--use-auth-secret", "--static-auth-secret", "the-new-secret", "--static-auth-secret", Secret]);
        await server.InitializeAsync();
        try
        {
            string url = $"turn:127.0.0.1:{server.Port}";
            using JsonDocument fresh = JsonDocument.Parse(Run(DateTimeOffset.UtcNow, "--secret", Secret, "--user", "bob", "--url", url, "--json").Out);
            using (var client = new TurnTestClient(server.V4, fresh.RootElement.GetProperty("username").GetString()!,
                fresh.RootElement.GetProperty("credential").GetString()!))
            {
                Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
            }

            using JsonDocument stale = JsonDocument.Parse(Run(DateTimeOffset.UtcNow.AddHours(-2), "--secret", Secret, "--url", url, "--json").Out);
            using (var client = new TurnTestClient(server.V4, stale.RootElement.GetProperty("username").GetString()!,
                stale.RootElement.GetProperty("credential").GetString()!))
            {
                Assert.Equal(StunErrorCode.Unauthenticated,
                    TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
            }
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>
    /// GET /credentials on the admin listener: refused without the bearer token (401) or with a wrong one, refused for a
    /// bad user or ttl (400), and with the token it returns iceServers whose credentials allocate on the server.
    /// </summary>
    [Fact]
    public async Task The_admin_credentials_endpoint_needs_the_token_and_hands_out_working_credentials()
    {
        const string Token = "a-token-of-at-least-16-chars";
        var server = new ConfiguredRelayServer(["--use-auth-secret", "--static-auth-secret", Secret, "--credentials-token", Token,
            "--credentials-host", "127.0.0.1"]);
        await server.InitializeAsync();
        try
        {
            var admin = new Uri($"http://{server.Services.GetRequiredService<AdminServer>().LocalEndPoint}");
            using var http = new HttpClient { BaseAddress = admin };
            using (HttpResponseMessage anonymous = await http.GetAsync(new Uri("/credentials?user=carol", UriKind.Relative)))
            {
                Assert.Equal(System.Net.HttpStatusCode.Unauthorized, anonymous.StatusCode);
                Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.ToString());
            }

            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, await StatusAsync(http, "/credentials", "not-the-token-at-all"));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, await StatusAsync(http, "/credentials?user=a:b", Token));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, await StatusAsync(http, "/credentials?ttl=0", Token));

            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/credentials?user=carol&ttl=120", UriKind.Relative));
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Token);
            using HttpResponseMessage response = await http.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
            using JsonDocument json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(120, json.RootElement.GetProperty("ttl").GetInt32());
            JsonElement ice = Assert.Single(json.RootElement.GetProperty("iceServers").EnumerateArray());
            var registry = server.Services.GetRequiredService<ListenerRegistry>();
            Assert.Equal([$"turn:127.0.0.1:{server.Port}?transport=udp", $"turn:127.0.0.1:{server.Port}?transport=tcp",
                    $"turns:127.0.0.1:{registry.TlsPort}?transport=tcp"],
                ice.GetProperty("urls").EnumerateArray().Select(u => u.GetString()!));
            string username = ice.GetProperty("username").GetString()!;
            Assert.EndsWith(":carol", username, StringComparison.Ordinal);
            long expiry = long.Parse(username.Split(':')[0], CultureInfo.InvariantCulture);
            Assert.InRange(expiry - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 100, 125);
            using var client = new TurnTestClient(server.V4, username, ice.GetProperty("credential").GetString()!);
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>A token too short to be a secret, or one without REST secrets to mint with, stops the server at start.</summary>
    [Fact]
    public void A_short_token_or_one_without_shared_secrets_is_refused_at_start()
    {
        var options = new TurnServerOptions { CredentialsToken = "short" };
        string failure = new TurnServerOptionsValidator().Validate(null, options).FailureMessage!;
        Assert.Contains("Turn:CredentialsToken must be at least 16 characters", failure, StringComparison.Ordinal);
        Assert.Contains("Turn:CredentialsToken needs TURN REST API credentials", failure, StringComparison.Ordinal);
    }

    /// <summary>Without --credentials-token there is no endpoint at all.</summary>
    [Fact]
    public async Task Without_a_token_there_is_no_credentials_endpoint()
    {
        var server = new ConfiguredRelayServer(["--use-auth-secret", "--static-auth-secret", Secret]);
        await server.InitializeAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://{server.Services.GetRequiredService<AdminServer>().LocalEndPoint}") };
            Assert.Equal(System.Net.HttpStatusCode.NotFound, await StatusAsync(http, "/credentials", "whatever-token-here"));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task<System.Net.HttpStatusCode> StatusAsync(HttpClient http, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using HttpResponseMessage response = await http.SendAsync(request);
        return response.StatusCode;
    }
}
