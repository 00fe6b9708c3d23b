using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Turn.Stun;
using static Turn.Server.Tests.ServerProcess;
using static Turn.Server.Tests.StunTestClient;

namespace Turn.Server.Tests;

/// <summary>
/// The TURN settings: coturn flags and turnserver.conf files (-c) land on <see cref="TurnServerOptions"/>, bad values
/// are refused by <see cref="TurnServerOptionsValidator"/> naming the key, and the executable honours both.
/// </summary>
public sealed class TurnConfigurationTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("turn-config-");

    public void Dispose() => _directory.Delete(recursive: true);

    // ---- helpers ----

    private static IReadOnlyList<string> Translate(params string[] args)
    {
        CommandLineTranslator.Result result = CommandLineTranslator.Translate(args);
        Assert.Null(result.Error);
        return result.ConfigurationArguments;
    }

    private static string TranslationError(params string[] args)
    {
        CommandLineTranslator.Result result = CommandLineTranslator.Translate(args);
        Assert.NotNull(result.Error);
        Assert.Empty(result.ConfigurationArguments);
        return result.Error;
    }

    private static TurnServerOptions Bind(params string[] args)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddCommandLine([.. Translate(args)]).Build();
        var options = new TurnServerOptions();
        configuration.GetSection(TurnServerOptions.SectionName).Bind(options);
        return options;
    }

    private static ValidateOptionsResult Validate(params string[] args) => new TurnServerOptionsValidator().Validate(null, Bind(args));

    /// <summary>Writes a turnserver.conf in this test's own directory and returns its path.</summary>
    private string WriteConfig(params string[] lines)
    {
        string path = Path.Combine(_directory.FullName, "turnserver.conf");
        File.WriteAllText(path, string.Join('\n', lines) + "\n");
        return path;
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    // ---- 1. every TURN flag maps onto its option ----

    [Fact]
    public void Relay_ip_long_and_short_forms_repeat_into_relay_ips()
    {
        TurnServerOptions options = Bind("--relay-ip", "10.0.0.1", "-E", "10.0.0.2", "--relay-ip=2001:db8::1");
        Assert.Equal(["10.0.0.1", "10.0.0.2", "2001:db8::1"], options.RelayIps);
    }

    [Fact]
    public void Fingerprint_switch_turns_on_fingerprint_in_data_indications()
    {
        Assert.False(Bind().Fingerprint);
        Assert.True(Bind("--fingerprint").Fingerprint);
        Assert.True(Bind("-f").Fingerprint);
        Assert.True(TurnServerHost.CreateEngineOptions(Bind("--fingerprint", "--relay-ip", "127.0.0.1"),
            new Turn.Transports.RelayPortAllocatorSet([new Turn.Transports.UdpRelayPortAllocator(IPAddress.Loopback, 50000, 50001,
                new Turn.Transports.TransportCounters(), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance)]))
            .FingerprintDataIndications);
    }

    /// <summary>Checklist 75, RFC 8656 §7.2: --min-port and --max-port set the relay port range, which is 49152-65535 by default.</summary>
    [Fact]
    public void Min_and_max_port_set_the_relay_port_range()
    {
        TurnServerOptions options = Bind("--min-port", "40000", "--max-port=40999");
        Assert.Equal(40000, options.MinPort);
        Assert.Equal(40999, options.MaxPort);
        TurnServerOptions defaults = Bind();
        Assert.Equal(49152, defaults.MinPort);
        Assert.Equal(65535, defaults.MaxPort);
    }

    [Fact]
    public void External_ip_takes_public_or_public_slash_private_and_repeats()
    {
        TurnServerOptions options = Bind("--external-ip", "203.0.113.1", "-X", "203.0.113.2/10.0.0.2", "--external-ip=2001:db8::1/fd00::1");
        Assert.Equal(["203.0.113.1", "203.0.113.2/10.0.0.2", "2001:db8::1/fd00::1"], options.ExternalIps);
        Assert.True(new TurnServerOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void Allocation_lifetime_and_quotas_map_onto_their_options()
    {
        TurnServerOptions options = Bind("--max-allocate-lifetime", "1800", "--user-quota", "5", "--total-quota=50");
        Assert.Equal(1800, options.MaxAllocateLifetimeSeconds);
        Assert.Equal(5, options.UserQuota);
        Assert.Equal(50, options.TotalQuota);
        TurnServerOptions defaults = Bind();
        Assert.Equal(3600, defaults.MaxAllocateLifetimeSeconds);
        Assert.Equal(0, defaults.UserQuota);
        Assert.Equal(0, defaults.TotalQuota);
    }

    [Theory]
    [InlineData("--realm", "example.org")]
    [InlineData("-r", "example.org")]
    [InlineData("--realm=example.org", null)]
    public void Realm_long_short_and_equals_forms_set_the_realm(string flag, string? value)
    {
        TurnServerOptions options = value is null ? Bind(flag) : Bind(flag, value);
        Assert.Equal("example.org", options.Realm);
        Assert.Equal("turn.local", Bind().Realm);
    }

    [Fact]
    public void User_long_and_short_forms_repeat_and_keep_colons_in_the_password()
    {
        TurnServerOptions options = Bind("--user", "alice:one", "-u", "bob:two", "--user=carol:th:ree");
        Assert.Equal(["alice:one", "bob:two", "carol:th:ree"], options.Users);
        Assert.True(new TurnServerOptionsValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData("--lt-cred-mech")]
    [InlineData("-a")]
    public void Lt_cred_mech_turns_long_term_credentials_on(string flag)
    {
        Assert.Contains("--Turn:LongTermCredentials=true", Translate(flag));
        Assert.True(Bind("--Turn:LongTermCredentials=false", flag).LongTermCredentials);
    }

    [Fact]
    public void Use_auth_secret_and_repeated_static_auth_secrets_map_onto_their_options()
    {
        TurnServerOptions options = Bind("--use-auth-secret", "--static-auth-secret", "first", "--static-auth-secret=second");
        Assert.True(options.UseAuthSecret);
        Assert.Equal(["first", "second"], options.StaticAuthSecrets);
        Assert.False(Bind().UseAuthSecret);
        Assert.True(new TurnServerOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void Bare_stale_nonce_means_600_seconds()
    {
        Assert.Equal(600, Bind("--Turn:StaleNonceSeconds=5", "--stale-nonce").StaleNonceSeconds);
    }

    [Fact]
    public void Stale_nonce_with_equals_sets_the_lifetime()
    {
        Assert.Equal(30, Bind("--stale-nonce=30").StaleNonceSeconds);
    }

    [Fact]
    public void Stale_nonce_never_takes_the_next_argument()
    {
        TurnServerOptions options = Bind("--stale-nonce", "--realm", "example.org");
        Assert.Equal(600, options.StaleNonceSeconds);
        Assert.Equal("example.org", options.Realm);
        Assert.Contains("Unexpected argument '30'", TranslationError("--stale-nonce", "30"), StringComparison.Ordinal);
    }

    [Fact]
    public void Allow_loopback_peers_turns_loopback_peers_on()
    {
        Assert.False(Bind().AllowLoopbackPeers);
        Assert.True(Bind("--allow-loopback-peers").AllowLoopbackPeers);
    }

    [Fact]
    public void Allowed_and_denied_peer_ips_repeat_into_the_peer_range_keys()
    {
        string[] args = ["--allowed-peer-ip", "10.0.0.5", "--allowed-peer-ip=192.168.1.10-192.168.1.20",
            "--denied-peer-ip", "198.51.100.0/24", "--denied-peer-ip=2001:db8::/32"];
        IReadOnlyList<string> translated = Translate(args);
        Assert.Equal(
            ["--Turn:AllowedPeerRanges:0=10.0.0.5", "--Turn:AllowedPeerRanges:1=192.168.1.10-192.168.1.20",
             "--Turn:DeniedPeerRanges:0=198.51.100.0/24", "--Turn:DeniedPeerRanges:1=2001:db8::/32"],
            translated);
        TurnServerOptions options = Bind(args);
        Assert.Equal(["10.0.0.5", "192.168.1.10-192.168.1.20"], options.AllowedPeerRanges);
        Assert.Equal(["198.51.100.0/24", "2001:db8::/32"], options.DeniedPeerRanges);
        Assert.True(new TurnServerOptionsValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData("--relay-ip")]
    [InlineData("-E")]
    [InlineData("--min-port")]
    [InlineData("--max-port")]
    [InlineData("-X")]
    [InlineData("--max-allocate-lifetime")]
    [InlineData("--user-quota")]
    [InlineData("--total-quota")]
    [InlineData("-r")]
    [InlineData("-u")]
    [InlineData("--static-auth-secret")]
    [InlineData("--allowed-peer-ip")]
    [InlineData("--denied-peer-ip")]
    public void A_value_flag_without_its_value_is_an_error_naming_the_flag(string flag)
    {
        string error = TranslationError(flag);
        Assert.Contains($"'{flag}'", error, StringComparison.Ordinal);
        Assert.Contains("needs a value", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--lt-cred-mech=yes")]
    [InlineData("--use-auth-secret=1")]
    [InlineData("--allow-loopback-peers=true")]
    public void A_switch_given_a_value_is_an_error(string arg)
    {
        Assert.Contains("takes no value", TranslationError(arg), StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_every_turn_flag_and_its_configuration_key()
    {
        string help = CommandLineTranslator.HelpText();
        foreach (string expected in new[]
                 {
                     "--relay-ip", "-E,", "--min-port", "--max-port", "--external-ip", "-X,", "--max-allocate-lifetime",
                     "--user-quota", "--total-quota", "--realm", "-r,", "--user", "-u,", "--lt-cred-mech", "-a,",
                     "--use-auth-secret", "--static-auth-secret", "--stale-nonce", "--allow-loopback-peers",
                     "--allowed-peer-ip", "--denied-peer-ip", "-c FILE",
                     "Turn:RelayIps", "Turn:MinPort", "Turn:MaxPort", "Turn:ExternalIps", "Turn:MaxAllocateLifetimeSeconds",
                     "Turn:UserQuota", "Turn:TotalQuota", "Turn:Realm", "Turn:Users", "Turn:LongTermCredentials",
                     "Turn:UseAuthSecret", "Turn:StaticAuthSecrets", "Turn:StaleNonceSeconds", "Turn:AllowLoopbackPeers",
                     "Turn:AllowedPeerRanges", "Turn:DeniedPeerRanges",
                 })
        {
            Assert.Contains(expected, help, StringComparison.Ordinal);
        }
    }

    // ---- 2. -c FILE: coturn's turnserver.conf ----

    [Fact]
    public void Config_file_reads_name_equals_value_name_space_value_and_bare_switches()
    {
        string path = WriteConfig(
            "realm=example.org",
            "min-port 40000",
            "max-port\t40100",
            "min-port = 40001",
            "allow-loopback-peers",
            "no-tcp");
        TurnServerOptions options = Bind("-c", path);
        Assert.Equal("example.org", options.Realm);
        Assert.Equal(40001, options.MinPort);
        Assert.Equal(40100, options.MaxPort);
        Assert.True(options.AllowLoopbackPeers);
        Assert.False(options.EnableTcp);
    }

    [Fact]
    public void Config_file_skips_comments_and_blank_lines()
    {
        string path = WriteConfig(
            "# TURN server configuration",
            "",
            "   # an indented comment",
            "\t",
            "realm=example.org   # a trailing comment",
            "#user=nobody:ignored",
            "min-port=40000 #low end");
        TurnServerOptions options = Bind("-c", path);
        Assert.Equal("example.org", options.Realm);
        Assert.Equal(40000, options.MinPort);
        Assert.Empty(options.Users);
    }

    /// <summary>
    /// coturn reads "#" as a comment only at the start of a line, so passwords and secrets may contain it; here it
    /// starts a comment only at the start or after a blank, and never inside double quotes.
    /// </summary>
    [Fact]
    public void Config_file_keeps_a_hash_inside_a_value()
    {
        string path = WriteConfig(
            "user=alice:pa#ss",
            "static-auth-secret=\"north #wind\"",
            "realm=\"#example\"");
        TurnServerOptions options = Bind("-c", path);
        Assert.Equal(["alice:pa#ss"], options.Users);
        Assert.Equal(["north #wind"], options.StaticAuthSecrets);
        Assert.Equal("#example", options.Realm);
    }

    [Fact]
    public void Config_file_unquotes_double_quoted_values()
    {
        string path = WriteConfig(
            "realm=\"example org\"",
            "software \"edge 1\"",
            "user = \"alice:two words\"");
        TurnServerOptions options = Bind("-c", path);
        Assert.Equal("example org", options.Realm);
        Assert.Equal("edge 1", options.Software);
        Assert.Equal(["alice:two words"], options.Users);
    }

    [Fact]
    public void Config_file_accepts_names_written_with_two_dashes()
    {
        string path = WriteConfig("--realm=example.org", "--no-udp", "--relay-ip 10.0.0.1");
        TurnServerOptions options = Bind("-c", path);
        Assert.Equal("example.org", options.Realm);
        Assert.False(options.EnableUdp);
        Assert.Equal(["10.0.0.1"], options.RelayIps);
    }

    [Fact]
    public void Config_file_bare_stale_nonce_means_600_and_a_value_sets_it()
    {
        Assert.Equal(600, Bind("-c", WriteConfig("stale-nonce")).StaleNonceSeconds);
        Assert.Equal(5, Bind("--Turn:StaleNonceSeconds=5", "-c", WriteConfig("stale-nonce")).StaleNonceSeconds);
        Assert.Equal(30, Bind("-c", WriteConfig("stale-nonce=30")).StaleNonceSeconds);
        Assert.Equal(45, Bind("-c", WriteConfig("stale-nonce 45")).StaleNonceSeconds);
    }

    [Theory]
    [InlineData("-c", false)]
    [InlineData("--config", false)]
    [InlineData("--config=", true)]
    public void Config_file_is_named_by_c_or_config(string flag, bool inline)
    {
        string path = WriteConfig("realm=example.org");
        TurnServerOptions options = inline ? Bind(flag + path) : Bind(flag, path);
        Assert.Equal("example.org", options.Realm);
    }

    [Fact]
    public void List_options_from_the_file_and_the_command_line_accumulate_file_first()
    {
        string path = WriteConfig(
            "user=alice:one",
            "relay-ip=10.0.0.1",
            "allowed-peer-ip=10.0.0.5",
            "static-auth-secret=from-file");
        string[] args = ["-c", path, "-u", "bob:two", "--relay-ip", "10.0.0.2", "--allowed-peer-ip", "10.0.0.6",
            "--static-auth-secret", "from-command-line"];
        IReadOnlyList<string> translated = Translate(args);
        Assert.Contains("--Turn:Users:0=alice:one", translated);
        Assert.Contains("--Turn:Users:1=bob:two", translated);

        TurnServerOptions options = Bind(args);
        Assert.Equal(["alice:one", "bob:two"], options.Users);
        Assert.Equal(["10.0.0.1", "10.0.0.2"], options.RelayIps);
        Assert.Equal(["10.0.0.5", "10.0.0.6"], options.AllowedPeerRanges);
        Assert.Equal(["from-file", "from-command-line"], options.StaticAuthSecrets);
    }

    [Fact]
    public void Scalar_options_given_later_on_the_command_line_win_over_the_file()
    {
        string path = WriteConfig("realm=file.example", "min-port=40000", "max-port=40100", "stale-nonce=30", "user-quota=3");
        TurnServerOptions options = Bind("-c", path, "--realm", "cli.example", "--max-port", "41000", "--stale-nonce=90");
        Assert.Equal("cli.example", options.Realm);
        Assert.Equal(40000, options.MinPort);
        Assert.Equal(41000, options.MaxPort);
        Assert.Equal(90, options.StaleNonceSeconds);
        Assert.Equal(3, options.UserQuota);
    }

    /// <summary>As in coturn, the command line wins over the file wherever -c stands.</summary>
    [Fact]
    public void Command_line_options_before_c_also_win_over_the_file()
    {
        string path = WriteConfig("realm=file.example", "user=carol:three");
        TurnServerOptions options = Bind("--realm", "cli.example", "--user", "dave:four", "-c", path);
        Assert.Equal("cli.example", options.Realm);
        Assert.Equal(["dave:four", "carol:three"], options.Users); // lists add up in the order they appear
    }

    /// <summary>
    /// RFC 8489 §10 (loop-free redirects): an alternate server that is this server's own listening address and port is
    /// refused; --redirect-all-allocations needs an alternate server.
    /// </summary>
    [Fact]
    public void Alternate_server_is_never_this_server_and_redirect_all_needs_one()
    {
        Assert.Contains("own listening address", Validate("--listening-ip", "127.0.0.1", "--listening-port", "3478",
            "--alternate-server", "127.0.0.1:3478").FailureMessage, StringComparison.Ordinal);
        Assert.Contains("own listening address", Validate("--listening-port", "3478", "--alternate-server", "127.0.0.1").FailureMessage,
            StringComparison.Ordinal);
        Assert.True(Validate("--listening-ip", "127.0.0.1", "--alternate-server", "127.0.0.1:3480").Succeeded);
        Assert.True(Validate("--listening-ip", "127.0.0.1", "--alternate-server", "192.0.2.1:3478").Succeeded);
        Assert.Contains("RedirectAllAllocations needs", Validate("--redirect-all-allocations").FailureMessage, StringComparison.Ordinal);
        Assert.True(Validate("--redirect-all-allocations", "--alternate-server", "192.0.2.1").Succeeded);
    }

    /// <summary>
    /// RFC 8656 §7.2: one relay address per family (REQUESTED-/ADDITIONAL-ADDRESS-FAMILY choose by family); a second
    /// address of a family would be ignored, so it is refused, and so is a wildcard.
    /// </summary>
    [Fact]
    public void One_relay_ip_per_family_and_no_wildcard()
    {
        ValidateOptionsResult result = Validate("--relay-ip", "10.0.0.1", "--relay-ip", "10.0.0.2");
        Assert.True(result.Failed);
        Assert.Contains("Turn:RelayIps has more than one IPv4 address", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("more than one IPv6", Validate("-E", "2001:db8::1", "-E", "2001:db8::2").FailureMessage, StringComparison.Ordinal);
        Assert.Contains("wildcard", Validate("--relay-ip", "0.0.0.0").FailureMessage, StringComparison.Ordinal);
        Assert.Contains("wildcard", Validate("--relay-ip", "::").FailureMessage, StringComparison.Ordinal);
        Assert.True(Validate("--relay-ip", "10.0.0.1").Succeeded);
        Assert.True(Validate("--relay-ip", "10.0.0.1", "--relay-ip", "2001:db8::1").Succeeded);
    }

    /// <summary>The relay addresses: configured ones as given; else one per family from the concrete listening addresses.</summary>
    [Fact]
    public void Relay_addresses_follow_the_configuration_then_the_listening_addresses()
    {
        Assert.Equal([IPAddress.Parse("10.0.0.1"), IPAddress.Parse("2001:db8::1")],
            RelayAddressSelector.Select(Bind("--relay-ip", "10.0.0.1", "--relay-ip", "2001:db8::1")));
        Assert.Equal([IPAddress.Parse("2001:db8::7")], RelayAddressSelector.Select(Bind("--relay-ip", "2001:db8::7")));
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback],
            RelayAddressSelector.Select(Bind("-L", "127.0.0.1", "-L", "::1", "-L", "127.0.0.2")));
        Assert.Equal([IPAddress.Loopback], RelayAddressSelector.Select(Bind("-L", "127.0.0.1")));
    }

    /// <summary>Listening and relay addresses must be written out: "10.1" is not silently read as 10.0.0.1.</summary>
    [Theory]
    [InlineData("--listening-ip", "10.1", "Turn:ListeningIps:0")]
    [InlineData("--relay-ip", "12345", "Turn:RelayIps:0")]
    [InlineData("--relay-ip", "010.0.0.1", "Turn:RelayIps:0")]
    public void Shorthand_ipv4_listening_and_relay_addresses_are_rejected(string flag, string value, string key)
    {
        ValidateOptionsResult result = Validate(flag, value);
        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mobility")]
    [InlineData("listening-prot=3478")]
    [InlineData("r example.org")]
    [InlineData("Turn:Realm=example.org")]
    [InlineData("config=/etc/other.conf")]
    public void Config_file_unknown_name_is_an_error_naming_file_line_and_name(string line)
    {
        string path = WriteConfig("# header", "realm=example.org", line, "min-port=40000");
        string name = line.Split('=', ' ')[0];
        string error = TranslationError("-c", path);
        Assert.Contains($"{path}:3", error, StringComparison.Ordinal);
        Assert.Contains($"'{name}'", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("min-port")]
    [InlineData("min-port=")]
    [InlineData("realm")]
    [InlineData("user")]
    [InlineData("relay-ip =  ")]
    [InlineData("static-auth-secret # no secret here")]
    public void Config_file_value_less_option_that_needs_a_value_is_an_error_naming_the_line(string line)
    {
        string path = WriteConfig("realm=example.org", line);
        string name = line.Split('=', ' ')[0];
        string error = TranslationError("-c", path);
        Assert.Contains($"{path}:2", error, StringComparison.Ordinal);
        Assert.Contains($"'{name}'", error, StringComparison.Ordinal);
        Assert.Contains("needs a value", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_file_switch_given_a_value_is_an_error_naming_the_line()
    {
        string path = WriteConfig("lt-cred-mech", "no-tcp yes");
        string error = TranslationError("-c", path);
        Assert.Contains($"{path}:2", error, StringComparison.Ordinal);
        Assert.Contains("'no-tcp'", error, StringComparison.Ordinal);
        Assert.Contains("takes no value", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_config_file_is_a_clear_error_naming_the_file()
    {
        string path = Path.Combine(_directory.FullName, "no-such-turnserver.conf");
        string error = TranslationError("-c", path);
        Assert.Contains("Cannot read configuration file", error, StringComparison.Ordinal);
        Assert.Contains(path, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-c")]
    [InlineData("--config")]
    public void Config_flag_without_a_path_is_an_error(string flag)
    {
        string error = TranslationError("--realm", "example.org", flag);
        Assert.Contains($"'{flag}'", error, StringComparison.Ordinal);
        Assert.Contains("needs a value (FILE)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Realistic_coturn_config_file_binds_every_option()
    {
        string path = WriteConfig(
            "# /etc/turnserver.conf",
            "",
            "# Listener",
            "listening-port=3479",
            "listening-ip=192.0.2.10",
            "listening-ip=2001:db8::10",
            "",
            "# Relay",
            "relay-ip=192.0.2.10",
            "min-port=49160",
            "max-port=49200",
            "external-ip=203.0.113.10/192.0.2.10",
            "no-tcp",
            "",
            "# Authentication",
            "realm=turn.example.com",
            "lt-cred-mech",
            "user=alice:correct-horse",
            "user=bob:battery-staple",
            "use-auth-secret",
            "static-auth-secret=4080218913",
            "stale-nonce=300",
            "",
            "# Quotas and peers",
            "total-quota=100",
            "user-quota=12",
            "allowed-peer-ip=10.0.0.5",
            "denied-peer-ip=198.51.100.0-198.51.100.255");
        TurnServerOptions options = Bind("-c", path);

        Assert.Equal(3479, options.ListeningPort);
        Assert.Equal(["192.0.2.10", "2001:db8::10"], options.ListeningIps);
        Assert.Equal(["192.0.2.10"], options.RelayIps);
        Assert.Equal(49160, options.MinPort);
        Assert.Equal(49200, options.MaxPort);
        Assert.Equal(["203.0.113.10/192.0.2.10"], options.ExternalIps);
        Assert.True(options.EnableUdp);
        Assert.False(options.EnableTcp);
        Assert.Equal("turn.example.com", options.Realm);
        Assert.True(options.LongTermCredentials);
        Assert.Equal(["alice:correct-horse", "bob:battery-staple"], options.Users);
        Assert.True(options.UseAuthSecret);
        Assert.Equal(["4080218913"], options.StaticAuthSecrets);
        Assert.Equal(300, options.StaleNonceSeconds);
        Assert.Equal(100, options.TotalQuota);
        Assert.Equal(12, options.UserQuota);
        Assert.Equal(["10.0.0.5"], options.AllowedPeerRanges);
        Assert.Equal(["198.51.100.0-198.51.100.255"], options.DeniedPeerRanges);
        Assert.False(options.AllowLoopbackPeers);
        Assert.Equal(3600, options.MaxAllocateLifetimeSeconds);

        ValidateOptionsResult result = new TurnServerOptionsValidator().Validate(null, options);
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    // ---- 3. validation ----

    [Fact]
    public void Defaults_are_valid()
    {
        ValidateOptionsResult result = Validate();
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [InlineData("--max-allocate-lifetime=600")]
    [InlineData("--user-quota=0")]
    [InlineData("--total-quota=0")]
    [InlineData("--Turn:MaxChannelsPerAllocation=1")]
    [InlineData("--Turn:MaxChannelsPerAllocation=4096")]
    [InlineData("--min-port=1")]
    [InlineData("--max-port=65535")]
    [InlineData("--stale-nonce=1")]
    [InlineData("--user=a:b")]
    [InlineData("--external-ip=::ffff:203.0.113.1")]
    [InlineData("--relay-ip=::1")]
    public void Boundary_values_are_valid(string arg)
    {
        string[] args = arg.StartsWith("--min-port", StringComparison.Ordinal) ? [arg, "--max-port=1"] : [arg];
        ValidateOptionsResult result = Validate(args);
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [InlineData("Turn:MinPort", "--min-port", "6000", "--max-port", "5000")]
    [InlineData("Turn:MinPort", "--min-port", "0")]
    [InlineData("Turn:MinPort", "--min-port", "-5")]
    [InlineData("Turn:MaxPort", "--max-port", "65536")]
    [InlineData("Turn:MaxPort", "--min-port", "70000", "--max-port", "70001")]
    [InlineData("Turn:ExternalIps:0", "--external-ip", "203.0.113.1/::1")]
    [InlineData("Turn:ExternalIps:0", "--external-ip", "2001:db8::1/10.0.0.1")]
    [InlineData("Turn:ExternalIps:0", "--external-ip", "public-address")]
    [InlineData("Turn:ExternalIps:1", "-X", "203.0.113.1", "-X", "203.0.113.2/private")]
    [InlineData("Turn:ExternalIps:0", "--external-ip", "203.0.113.5/24")]
    [InlineData("Turn:ExternalIps:0", "--external-ip", "12345")]
    [InlineData("Turn:ExternalIps:0", "--external-ip", "203.0.113.1/10.0.0.1/10.0.0.2")]
    [InlineData("Turn:ExternalIps:0", "--external-ip=")]
    [InlineData("Turn:MaxAllocateLifetimeSeconds", "--max-allocate-lifetime", "599")]
    [InlineData("Turn:MaxAllocateLifetimeSeconds", "--max-allocate-lifetime", "0")]
    [InlineData("Turn:UserQuota", "--user-quota", "-1")]
    [InlineData("Turn:TotalQuota", "--total-quota", "-1")]
    [InlineData("Turn:MaxChannelsPerAllocation", "--Turn:MaxChannelsPerAllocation=0")]
    [InlineData("Turn:MaxChannelsPerAllocation", "--Turn:MaxChannelsPerAllocation=4097")]
    [InlineData("Turn:MaxPermissionsPerAllocation", "--Turn:MaxPermissionsPerAllocation=0")]
    [InlineData("Turn:Realm", "--realm=")]
    [InlineData("Turn:UseAuthSecret", "--use-auth-secret")]
    [InlineData("Turn:StaticAuthSecrets:1", "--static-auth-secret", "one", "--static-auth-secret=")]
    [InlineData("Turn:StaleNonceSeconds", "--stale-nonce=0")]
    [InlineData("Turn:StaleNonceSeconds", "--stale-nonce=-1")]
    [InlineData("Turn:AllowedPeerRanges:0", "--allowed-peer-ip", "not-an-address")]
    [InlineData("Turn:AllowedPeerRanges:1", "--allowed-peer-ip", "10.0.0.1", "--allowed-peer-ip", "10.0.0.9-10.0.0.1")]
    [InlineData("Turn:DeniedPeerRanges:0", "--denied-peer-ip", "300.1.1.1")]
    [InlineData("Turn:DeniedPeerRanges:1", "--denied-peer-ip", "10.0.0.0/8", "--denied-peer-ip", "10.0.0.0/33")]
    [InlineData("Turn:RelayIps:0", "--relay-ip", "relay.example.com")]
    [InlineData("Turn:RelayIps:1", "-E", "10.0.0.1", "-E", "10.0.0.256")]
    public void Invalid_turn_options_fail_validation_naming_the_key(string key, params string[] args)
    {
        ValidateOptionsResult result = Validate(args);
        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_port_range_is_reported_once_under_the_real_keys()
    {
        ValidateOptionsResult result = Validate("--min-port", "6000", "--max-port", "5000");
        string failure = Assert.Single(result.Failures!);
        Assert.Contains("Turn:MinPort", failure, StringComparison.Ordinal);
        Assert.Contains("Turn:MaxPort", failure, StringComparison.Ordinal);
        Assert.Contains("6000-5000", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Realm_of_128_characters_is_rejected_and_127_accepted()
    {
        ValidateOptionsResult tooLong = Validate("--realm", new string('r', 128));
        Assert.True(tooLong.Failed);
        Assert.Contains("Turn:Realm", tooLong.FailureMessage, StringComparison.Ordinal);
        Assert.True(Validate("--realm", new string('r', 127)).Succeeded);
    }

    [Theory]
    [InlineData("alice-s3cret-pw")]
    [InlineData(":s3cret-pw")]
    [InlineData("alice:")]
    [InlineData("")]
    public void Malformed_user_is_rejected_without_echoing_the_credential(string user)
    {
        ValidateOptionsResult result = Validate("--user", "ok:fine-password", "--user", user);
        Assert.True(result.Failed);
        Assert.Contains("Turn:Users:1", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("fine-password", result.FailureMessage, StringComparison.Ordinal);
        if (user.Length > 0)
        {
            Assert.DoesNotContain(user, result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Static_auth_secrets_are_never_echoed()
    {
        ValidateOptionsResult result = Validate("--use-auth-secret", "--static-auth-secret", "top-secret-value", "--static-auth-secret=",
            "--stale-nonce=0");
        Assert.True(result.Failed);
        Assert.Contains("Turn:StaticAuthSecrets:1", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("top-secret-value", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_failure_is_reported_not_just_the_first()
    {
        ValidateOptionsResult result = Validate("--min-port", "6000", "--max-port", "5000", "--realm=", "--stale-nonce=0",
            "--relay-ip", "nope", "--denied-peer-ip", "nope");
        Assert.True(result.Failed);
        foreach (string key in new[] { "Turn:MinPort", "Turn:Realm", "Turn:StaleNonceSeconds", "Turn:RelayIps:0", "Turn:DeniedPeerRanges:0" })
        {
            Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("203.0.113.1", "203.0.113.1", null)]
    [InlineData("203.0.113.1/10.0.0.1", "203.0.113.1", "10.0.0.1")]
    [InlineData("2001:db8::1/fd00::1", "2001:db8::1", "fd00::1")]
    public void External_address_map_reads_public_and_optional_private(string value, string expectedPublic, string? expectedPrivate)
    {
        Assert.True(ExternalAddressMap.TryParse(value, out IPAddress? publicAddress, out IPAddress? privateAddress));
        Assert.Equal(IPAddress.Parse(expectedPublic), publicAddress);
        Assert.Equal(expectedPrivate is null ? null : IPAddress.Parse(expectedPrivate), privateAddress);
    }

    /// <summary>
    /// IPv4 only as a dotted quad, as coturn reads it: "203.0.113.5/24" is a CIDR block typed by mistake, not a
    /// mapping to 0.0.0.24; "12345" and octal "010.0.0.1" are not shorthands.
    /// </summary>
    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("garbage")]
    [InlineData("203.0.113.1/")]
    [InlineData("/10.0.0.1")]
    [InlineData("203.0.113.1/::1")]
    [InlineData("::1/203.0.113.1")]
    [InlineData("203.0.113.5/24")]
    [InlineData("12345")]
    [InlineData("203.0.113.1/10.1")]
    [InlineData("010.0.0.1")]
    [InlineData("203.0.113.1/10.0.0.1/10.0.0.2")]
    public void External_address_map_rejects_malformed_values(string value)
    {
        Assert.False(ExternalAddressMap.TryParse(value, out IPAddress? publicAddress, out IPAddress? privateAddress));
        Assert.Null(publicAddress);
        Assert.Null(privateAddress);
    }

    // ---- 4. the executable ----

    [Fact]
    public async Task Executable_with_an_unknown_name_in_the_config_file_exits_2_naming_file_and_line()
    {
        string path = WriteConfig("realm=example.org", "# comment", "mobility");
        var (exitCode, _, err) = await RunToEndAsync("-c", path);
        Assert.Equal(2, exitCode);
        Assert.Contains($"{path}:3", err, StringComparison.Ordinal);
        Assert.Contains("'mobility'", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Executable_with_min_port_above_max_port_exits_1_naming_the_key()
    {
        var (exitCode, _, err) = await RunToEndAsync("--listening-port", "0", "--listening-ip", "127.0.0.1", "--min-port", "6000", "--max-port", "5000");
        Assert.Equal(1, exitCode);
        Assert.Contains("Turn:MinPort", err, StringComparison.Ordinal);
        Assert.Contains("invalid configuration", err, StringComparison.Ordinal);
    }

    /// <summary>
    /// A coturn-style file configures the real executable: it answers a Binding, challenges with the file's realm,
    /// grants the file's user an allocation in the file's port range shown at the file's external address, and
    /// refuses a wrong password.
    /// </summary>
    [Fact]
    public async Task Executable_runs_from_a_config_file_and_serves_its_realm_and_users()
    {
        int port = FreePort();
        string path = WriteConfig(
            "# test server",
            $"listening-port={Port(port)}",
            "listening-ip=127.0.0.1",
            "relay-ip=127.0.0.1",
            "min-port=45000",
            "max-port=45999",
            "external-ip=203.0.113.10/127.0.0.1",
            "realm=\"config.example\"",
            "lt-cred-mech",
            "user=alice:pa#ss word",
            "stale-nonce=300",
            "no-tcp",
            "no-tls");
        using Process process = Start(["-c", path]);
        try
        {
            await WaitForLineAsync(process, "Server ready", TimeSpan.FromSeconds(60));
            var server = new IPEndPoint(IPAddress.Loopback, port);

            using (Socket socket = UdpSocket(server))
            {
                var id = TransactionId.NewRandom();
                byte[]? response = await ExchangeUdpAsync(socket, BindingRequest(id));
                Assert.NotNull(response);
                Answer answer = Decode(response);
                Assert.Equal(id, answer.TransactionId);
                Assert.Equal(LocalAddress(socket), answer.XorMapped);
            }

            using (Socket socket = UdpSocket(server))
            {
                byte[] buffer = new byte[256];
                var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Allocate, StunClass.Request), TransactionId.NewRandom());
                writer.AddRequestedTransport(17);
                writer.AddFingerprint();
                byte[]? challenge = await ExchangeUdpAsync(socket, buffer[..writer.Length]);
                Assert.NotNull(challenge);
                Assert.Equal(StunErrorCode.Unauthenticated, TurnTestClient.ErrorCode(challenge));
                Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(challenge, out StunMessageReader reader));
                Assert.True(reader.TryGetAttribute(StunAttributeType.Realm, out StunAttribute realm));
                Assert.Equal("config.example", Encoding.UTF8.GetString(realm.Value));
            }

            using (var client = new TurnTestClient(server, "alice", "pa#ss word"))
            {
                byte[] allocate = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
                Assert.Null(TurnTestClient.ErrorCode(allocate));
                TransportAddress relayed = TurnTestClient.XorAddress(allocate, StunAttributeType.XorRelayedAddress)!.Value;
                Assert.Equal(IPAddress.Parse("203.0.113.10"), relayed.ToIPAddress());
                Assert.InRange(relayed.Port, 45000, 45999);
            }

            using (var intruder = new TurnTestClient(server, "alice", "pa"))
            {
                byte[] refused = await intruder.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
                Assert.Equal(StunErrorCode.Unauthenticated, TurnTestClient.ErrorCode(refused));
            }

            using var tcp = new TcpClient(AddressFamily.InterNetwork);
            await Assert.ThrowsAnyAsync<SocketException>(async () => await tcp.ConnectAsync(IPAddress.Loopback, port));
        }
        finally
        {
            await StopAsync(process);
        }
    }
    /// <summary>--cipher-list: IANA names separated by ':'; an unknown name is refused naming the key; "system" is accepted.</summary>
    [Fact]
    public void Cipher_list_is_read_and_checked()
    {
        TurnServerOptions options = Bind("--cipher-list", "TLS_AES_128_GCM_SHA256:TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
        Assert.Equal("TLS_AES_128_GCM_SHA256:TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", options.TlsCipherSuites);
        Assert.True(new TurnServerOptionsValidator().Validate(null, options).Succeeded);
        Assert.True(Validate("--cipher-list", "system").Succeeded);
        ValidateOptionsResult bad = Validate("--cipher-list", "ECDHE-RSA-AES128-GCM-SHA256");
        Assert.True(bad.Failed);
        Assert.Contains("Turn:TlsCipherSuites", bad.FailureMessage, StringComparison.Ordinal);
        Assert.Contains("ECDHE-RSA-AES128-GCM-SHA256", bad.FailureMessage, StringComparison.Ordinal);
    }
}
