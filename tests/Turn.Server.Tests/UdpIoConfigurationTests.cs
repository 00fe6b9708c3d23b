using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Turn.Transports;

namespace Turn.Server.Tests;

/// <summary>
/// The UDP serving settings: --udp-io, --udp-batch and --relay-threads land on Turn:UdpIo, Turn:UdpBatchSize and
/// Turn:RelayThreads, and bad values are refused by <see cref="TurnServerOptionsValidator"/> naming the key.
/// </summary>
public class UdpIoConfigurationTests
{
    private static IReadOnlyList<string> Translate(params string[] args)
    {
        CommandLineTranslator.Result result = CommandLineTranslator.Translate(args);
        Assert.Null(result.Error);
        return result.ConfigurationArguments;
    }

    private static TurnServerOptions Bind(params string[] args)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddCommandLine([.. Translate(args)]).Build();
        var options = new TurnServerOptions();
        configuration.GetSection(TurnServerOptions.SectionName).Bind(options);
        return options;
    }

    private static ValidateOptionsResult Validate(params string[] args) => new TurnServerOptionsValidator().Validate(null, Bind(args));

    [Theory]
    [InlineData("batched")]
    [InlineData("sockets")]
    [InlineData("auto")]
    public void Udp_io_flag_translates_to_the_udp_io_key(string mode)
    {
        Assert.Equal([$"--Turn:UdpIo={mode}"], Translate("--udp-io", mode));
        Assert.Equal([$"--Turn:UdpIo={mode}"], Translate($"--udp-io={mode}"));
        Assert.Equal(mode, Bind("--udp-io", mode).UdpIo);
    }

    [Fact]
    public void Udp_batch_and_relay_threads_flags_translate_to_their_keys()
    {
        Assert.Equal(["--Turn:UdpBatchSize=64", "--Turn:RelayThreads=3"], Translate("--udp-batch", "64", "--relay-threads=3"));
        TurnServerOptions options = Bind("--udp-batch", "64", "--relay-threads", "3");
        Assert.Equal(64, options.UdpBatchSize);
        Assert.Equal(3, options.RelayThreads);
    }

    [Fact]
    public void Udp_io_defaults_are_auto_32_and_one_relay_thread_per_core()
    {
        TurnServerOptions options = Bind();
        Assert.Equal("auto", options.UdpIo);
        Assert.Equal(UdpBatching.DefaultBatchSize, options.UdpBatchSize);
        Assert.Equal(32, options.UdpBatchSize);
        Assert.Equal(Environment.ProcessorCount, options.RelayThreads);
    }

    [Fact]
    public void Help_lists_the_udp_io_flags_and_their_keys()
    {
        string help = CommandLineTranslator.HelpText();
        foreach (string expected in new[] { "--udp-io", "--udp-batch", "--relay-threads", "Turn:UdpIo", "Turn:UdpBatchSize", "Turn:RelayThreads" })
        {
            Assert.Contains(expected, help, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--udp-io=sockets")]
    [InlineData("--udp-io=auto")]
    [InlineData("--udp-io=Sockets")]
    [InlineData("--udp-batch=1")]
    [InlineData("--udp-batch=1024")]
    [InlineData("--relay-threads=1")]
    [InlineData("--relay-threads=256")]
    public void Boundary_values_are_valid(string arg)
    {
        ValidateOptionsResult result = Validate(arg);
        Assert.True(result.Succeeded, result.FailureMessage);
    }

    /// <summary>Batched mode is valid exactly where it can run (64-bit Linux).</summary>
    [Fact]
    public void Udp_io_batched_is_valid_where_batching_is_supported()
    {
        ValidateOptionsResult result = Validate("--udp-io", "batched");
        Assert.Equal(UdpBatching.IsSupported, result.Succeeded);
        if (result.Failed)
        {
            Assert.Contains("Turn:UdpIo", result.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Turn:UdpIo", "--udp-io", "fast")]
    [InlineData("Turn:UdpIo", "--udp-io=")]
    [InlineData("Turn:UdpIo", "--udp-io", "1")]
    [InlineData("Turn:UdpIo", "--udp-io", "auto,batched")]
    [InlineData("Turn:UdpBatchSize", "--udp-batch", "0")]
    [InlineData("Turn:UdpBatchSize", "--udp-batch", "2000")]
    [InlineData("Turn:UdpBatchSize", "--udp-batch", "1025")]
    [InlineData("Turn:UdpBatchSize", "--udp-batch", "-1")]
    [InlineData("Turn:RelayThreads", "--relay-threads", "0")]
    [InlineData("Turn:RelayThreads", "--relay-threads", "257")]
    public void Invalid_udp_io_options_fail_validation_naming_the_key(string key, params string[] args)
    {
        ValidateOptionsResult result = Validate(args);
        Assert.True(result.Failed);
        Assert.Contains(key, result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_udp_io_value_is_quoted_in_the_failure()
    {
        ValidateOptionsResult result = Validate("--udp-io", "fast");
        string failure = Assert.Single(result.Failures!);
        Assert.Contains("'fast'", failure, StringComparison.Ordinal);
    }
}
