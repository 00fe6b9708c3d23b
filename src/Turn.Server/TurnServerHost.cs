using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Turn.Relay;
using Turn.Transports;

namespace Turn.Server;

/// <summary>Builds the Generic Host: configuration, validated options, the protocol engine and the listeners.</summary>
public static class TurnServerHost
{
    /// <param name="configurationArguments">Arguments already translated by <see cref="CommandLineTranslator"/>.</param>
    public static HostApplicationBuilder CreateBuilder(IReadOnlyList<string> configurationArguments)
    {
        ArgumentNullException.ThrowIfNull(configurationArguments);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [.. configurationArguments],
        });

        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            console.UseUtcTimestamp = true;
        });

        builder.Services.AddOptions<TurnServerOptions>()
            .Bind(builder.Configuration.GetSection(TurnServerOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TurnServerOptions>, TurnServerOptionsValidator>();
        builder.Services.AddSingleton<ServerCounters>();
        builder.Services.AddSingleton<TransportCounters>();
        builder.Services.AddSingleton<ListenerRegistry>();
        builder.Services.AddSingleton(services =>
        {
            TurnServerOptions options = services.GetRequiredService<IOptions<TurnServerOptions>>().Value;
            return new StunMessageProcessor(new TurnEngineOptions { Software = options.Software }, services.GetRequiredService<ServerCounters>());
        });
        builder.Services.AddHostedService<ListenerHostedService>();
        return builder;
    }
}
