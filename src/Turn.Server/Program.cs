using System.Net.Sockets;
using System.Reflection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Turn.Server;

// Before the first socket exists (see SocketRuntimeSettings).
SocketRuntimeSettings.Apply();

if (args.Length > 0 && args[0] == CredentialsCommand.Name)
{
    return CredentialsCommand.Run(args[1..], Console.Out, Console.Error, DateTimeOffset.UtcNow);
}

if (args.Length > 0 && args[0] == RevokeCommand.Name)
{
    return await RevokeCommand.RunAsync(args[1..], Console.Out, Console.Error).ConfigureAwait(false);
}

if (args.Length > 0 && args[0] == Turn.Server.Probe.ProbeCommand.Name)
{
    using CancellationTokenSource stop = Turn.Server.Probe.ProbeCommand.CancelOnSignals(out IDisposable signals);
    using (signals)
    {
        return await Turn.Server.Probe.ProbeCommand.RunAsync(args[1..], Console.Out, Console.Error, stop.Token).ConfigureAwait(false);
    }
}

CommandLineTranslator.Result command = CommandLineTranslator.Translate(args);
if (command.Error is not null)
{
    await Console.Error.WriteLineAsync("turn-server: " + command.Error).ConfigureAwait(false);
    return 2;
}

if (command.HelpRequested)
{
    await Console.Out.WriteAsync(CommandLineTranslator.HelpText()).ConfigureAwait(false);
    return 0;
}

if (command.VersionRequested)
{
    string version = typeof(TurnServerOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
    await Console.Out.WriteLineAsync("turn-server " + version).ConfigureAwait(false);
    return 0;
}

try
{
    using IHost host = TurnServerHost.CreateBuilder(command.ConfigurationArguments, args).Build();
    await host.RunAsync().ConfigureAwait(false);
    return 0;
}
catch (OptionsValidationException ex)
{
    foreach (string failure in ex.Failures)
    {
        await Console.Error.WriteLineAsync("turn-server: invalid configuration: " + failure).ConfigureAwait(false);
    }

    return 1;
}
catch (InvalidOperationException ex) when (ex.Message.Contains("configuration", StringComparison.OrdinalIgnoreCase))
{
    await Console.Error.WriteLineAsync("turn-server: invalid configuration: " + ex.Message).ConfigureAwait(false);
    return 1;
}
catch (StartupException ex)
{
    await Console.Error.WriteLineAsync("turn-server: cannot start: " + ex.Message).ConfigureAwait(false);
    return 1;
}
catch (SocketException ex)
{
    await Console.Error.WriteLineAsync("turn-server: cannot listen: " + ex.Message).ConfigureAwait(false);
    return 1;
}
