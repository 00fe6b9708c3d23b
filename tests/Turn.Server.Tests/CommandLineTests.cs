using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Turn.Server.Tests;

/// <summary>coturn-style flags, native configuration arguments, and clear errors for anything else.</summary>
public class CommandLineTests
{
    private static TurnServerOptions Bind(params string[] args)
    {
        CommandLineTranslator.Result result = CommandLineTranslator.Translate(args);
        Assert.Null(result.Error);
        IConfiguration configuration = new ConfigurationBuilder().AddCommandLine([.. result.ConfigurationArguments]).Build();
        var options = new TurnServerOptions();
        configuration.GetSection(TurnServerOptions.SectionName).Bind(options);
        return options;
    }

    [Fact]
    public void Defaults_without_arguments()
    {
        TurnServerOptions options = Bind();
        Assert.Equal(3478, options.ListeningPort);
        Assert.Empty(options.ListeningIps);
        Assert.True(options.EnableUdp);
        Assert.True(options.EnableTcp);
        Assert.Equal(TurnServerOptions.DefaultSoftware, options.Software);
    }

    /// <summary>
    /// Checklist 53, RFC 8656 §4.1, §5: by default TURN is served over UDP and TCP on port 3478 and over TLS and DTLS
    /// on port 5349.
    /// </summary>
    [Fact]
    public void Rfc8656_S4_1_default_transports_and_ports()
    {
        TurnServerOptions options = Bind();
        Assert.True(options.EnableUdp);
        Assert.True(options.EnableTcp);
        Assert.True(options.EnableTls);
        Assert.True(options.EnableDtls);
        Assert.Equal(3478, options.ListeningPort);
        Assert.Equal(5349, options.EffectiveTlsPort);
        Assert.Equal(5349, options.EffectiveDtlsPort);
    }

    [Fact]
    public void Coturn_flags_map_onto_options()
    {
        TurnServerOptions options = Bind("--listening-port", "5000", "--listening-ip", "127.0.0.1", "-L", "::1",
            "--no-udp", "--software", "edge-7", "--tcp-idle-timeout", "42");
        Assert.Equal(5000, options.ListeningPort);
        Assert.Equal(["127.0.0.1", "::1"], options.ListeningIps);
        Assert.False(options.EnableUdp);
        Assert.True(options.EnableTcp);
        Assert.Equal("edge-7", options.Software);
        Assert.Equal(42, options.TcpIdleTimeoutSeconds);
    }

    /// <summary>
    /// The admin listener: on loopback port 9641 by default, a free loopback port when the TURN port is 0 (tests),
    /// --admin-listen, coturn's --prometheus-port over it, --no-admin; an address without a port is refused at start.
    /// </summary>
    [Fact]
    public void Admin_listener_flags()
    {
        Assert.Equal(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 9641), Bind().EffectiveAdminEndPoint);
        Assert.Equal(0, Bind("--listening-port", "0").EffectiveAdminEndPoint!.Port);
        Assert.Equal(System.Net.IPEndPoint.Parse("[::1]:9000"), Bind("--admin-listen", "[::1]:9000").EffectiveAdminEndPoint);
        Assert.Equal(System.Net.IPEndPoint.Parse("0.0.0.0:9100"),
            Bind("--admin-listen", "0.0.0.0:9000", "--prometheus", "--prometheus-port", "9100").EffectiveAdminEndPoint);
        Assert.Null(Bind("--no-admin").EffectiveAdminEndPoint);
        TurnServerOptions bad = Bind("--admin-listen", "127.0.0.1");
        ValidateOptionsResult result = new TurnServerOptionsValidator().Validate(null, bad);
        Assert.True(result.Failed);
        Assert.Contains("Turn:AdminListen", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Equals_sign_short_flags_and_no_software_attribute()
    {
        TurnServerOptions options = Bind("--listening-port=6000", "-p", "6001", "--no-tcp", "--no-software-attribute");
        Assert.Equal(6001, options.ListeningPort); // the last one wins
        Assert.False(options.EnableTcp);
        Assert.Equal(string.Empty, options.Software);
    }

    [Fact]
    public void Native_configuration_arguments_pass_through()
    {
        TurnServerOptions options = Bind("--Turn:ListeningPort=7000", "--Turn:Software", "native", "--Turn:ListeningIps:0=10.0.0.1");
        Assert.Equal(7000, options.ListeningPort);
        Assert.Equal("native", options.Software);
        Assert.Equal(["10.0.0.1"], options.ListeningIps);
    }

    [Theory]
    [InlineData("--bogus", "'--bogus'")]
    [InlineData("--listening-prot=3", "'--listening-prot=3'")]
    [InlineData("-Z", "'-Z'")]
    [InlineData("stray", "'stray'")]
    [InlineData("--listening-port", "needs a value")]
    [InlineData("--no-udp=yes", "takes no value")]
    public void Unknown_or_misused_flags_are_errors_naming_the_argument(string arg, string expected)
    {
        CommandLineTranslator.Result result = CommandLineTranslator.Translate([arg]);
        Assert.NotNull(result.Error);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_every_flag_and_its_configuration_key()
    {
        Assert.True(CommandLineTranslator.Translate(["--help"]).HelpRequested);
        Assert.True(CommandLineTranslator.Translate(["-h"]).HelpRequested);
        string help = CommandLineTranslator.HelpText();
        foreach (string expected in new[] { "--listening-port", "-p,", "--listening-ip", "-L,", "--no-udp", "--no-tcp", "--software",
                     "--no-software-attribute", "--tcp-idle-timeout", "--verbose", "--help", "--version",
                     "Turn:ListeningPort", "Turn:ListeningIps", "Turn:EnableUdp", "Turn:EnableTcp", "Turn:Software",
                     "Turn:TcpIdleTimeoutSeconds", "TURN__" })
        {
            Assert.Contains(expected, help, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("ListeningPort", "70000", "Turn:ListeningPort")]
    [InlineData("ListeningPort", "-1", "Turn:ListeningPort")]
    [InlineData("ListeningIps:0", "not-an-ip", "Turn:ListeningIps:0")]
    [InlineData("TcpIdleTimeoutSeconds", "0", "Turn:TcpIdleTimeoutSeconds")]
    [InlineData("EnableUdp", "false", "Turn:EnableUdp")]
    public void Invalid_options_fail_validation_naming_the_key(string key, string value, string named)
    {
        string[] args = key == "EnableUdp" ? ["--no-udp", "--no-tcp"] : [$"--Turn:{key}={value}"];
        TurnServerOptions options = Bind(args);
        ValidateOptionsResult result = new TurnServerOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains(named, result.FailureMessage, StringComparison.Ordinal);
    }

    /// <summary>Checklist 18, RFC 8489 §14.14: SOFTWARE must be fewer than 128 characters; 128 is refused at start, 127 is accepted.</summary>
    [Fact]
    public void Software_longer_than_127_characters_is_rejected()
    {
        TurnServerOptions options = Bind("--software", new string('x', 128));
        Assert.True(new TurnServerOptionsValidator().Validate(null, options).Failed);
        Assert.True(new TurnServerOptionsValidator().Validate(null, Bind("--software", new string('x', 127))).Succeeded);
    }
}
