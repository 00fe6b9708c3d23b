using System.Globalization;
using System.Text;

namespace Turn.Server;

/// <summary>
/// Accepts the coturn-style flags operators know from <c>turnserver</c> (and a few of our own) and turns them into
/// configuration keys, so every setting has one home: <see cref="TurnServerOptions"/>. Native .NET configuration
/// arguments (<c>--Section:Key=value</c> or <c>--Section:Key value</c>) pass through unchanged. Anything else is an
/// error naming the argument.
/// </summary>
public static class CommandLineTranslator
{
    private enum Kind
    {
        /// <summary>Takes a value: --flag VALUE or --flag=VALUE.</summary>
        Value,
        /// <summary>Takes a value and may be given several times; each lands at the next index of a list key.</summary>
        ListValue,
        /// <summary>Takes no value; sets the key to a fixed value.</summary>
        Switch,
    }

    private sealed record Flag(string Long, char? Short, Kind Kind, string Key, string? SwitchValue, string? ValueName, string Help);

    private static readonly Flag[] Flags =
    [
        new("listening-port", 'p', Kind.Value, "Turn:ListeningPort", null, "PORT",
            "UDP and TCP port to listen on (default 3478; 0 picks a free one)."),
        new("listening-ip", 'L', Kind.ListValue, "Turn:ListeningIps", null, "IP",
            "Address to listen on; repeat for several (default 0.0.0.0 and ::)."),
        new("no-udp", null, Kind.Switch, "Turn:EnableUdp", "false", null, "Do not listen on UDP."),
        new("no-tcp", null, Kind.Switch, "Turn:EnableTcp", "false", null, "Do not listen on TCP."),
        new("software", null, Kind.Value, "Turn:Software", null, "NAME",
            "SOFTWARE attribute sent in responses (default \"" + TurnServerOptions.DefaultSoftware + "\")."),
        new("no-software-attribute", null, Kind.Switch, "Turn:Software", "", null, "Send no SOFTWARE attribute."),
        new("tcp-idle-timeout", null, Kind.Value, "Turn:TcpIdleTimeoutSeconds", null, "SECONDS",
            "Close a TCP connection idle this long (default 300)."),
        new("verbose", 'v', Kind.Switch, "Logging:LogLevel:Default", "Debug", null, "Log at Debug level."),
    ];

    /// <summary>The result: configuration arguments for the host, or a request for help, or an error to print.</summary>
    public sealed record Result(IReadOnlyList<string> ConfigurationArguments, bool HelpRequested, bool VersionRequested, string? Error);

    public static Result Translate(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var translated = new List<string>();
        var listCounts = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "-h" or "--help" or "-?")
            {
                return new Result(translated, true, false, null);
            }

            if (arg is "--version")
            {
                return new Result(translated, false, true, null);
            }

            string name;
            string? inlineValue = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                name = arg[2..];
                int equals = name.IndexOf('=', StringComparison.Ordinal);
                if (equals >= 0)
                {
                    inlineValue = name[(equals + 1)..];
                    name = name[..equals];
                }

                if (name.Contains(':', StringComparison.Ordinal))
                {
                    // Native configuration key: --Section:Key=value or --Section:Key value.
                    string? nativeValue = inlineValue ?? (i + 1 < args.Count ? args[++i] : null);
                    if (nativeValue is null)
                    {
                        return Fail($"Option '--{name}' needs a value.");
                    }

                    translated.Add($"--{name}={nativeValue}");
                    continue;
                }
            }
            else if (arg.Length == 2 && arg[0] == '-' && arg[1] != '-')
            {
                name = arg[1..];
            }
            else
            {
                return Fail($"Unexpected argument '{arg}'. Run 'turn-server --help' for the list of options.");
            }

            Flag? flag = Find(name);
            if (flag is null)
            {
                return Fail($"Unknown option '{arg}'. Run 'turn-server --help' for the list of options.");
            }

            if (flag.Kind == Kind.Switch)
            {
                if (inlineValue is not null)
                {
                    return Fail($"Option '--{flag.Long}' takes no value.");
                }

                translated.Add($"--{flag.Key}={flag.SwitchValue}");
                continue;
            }

            string? value = inlineValue ?? (i + 1 < args.Count ? args[++i] : null);
            if (value is null)
            {
                return Fail($"Option '{arg}' needs a value ({flag.ValueName}).");
            }

            if (flag.Kind == Kind.ListValue)
            {
                listCounts.TryGetValue(flag.Key, out int index);
                listCounts[flag.Key] = index + 1;
                translated.Add(string.Create(CultureInfo.InvariantCulture, $"--{flag.Key}:{index}={value}"));
            }
            else
            {
                translated.Add($"--{flag.Key}={value}");
            }
        }

        return new Result(translated, false, false, null);
    }

    public static string HelpText()
    {
        var text = new StringBuilder();
        text.AppendLine("turn-server: a STUN/TURN relay server (RFC 8489, RFC 8656).");
        text.AppendLine();
        text.AppendLine("Usage: turn-server [options]");
        text.AppendLine();
        text.AppendLine("Options (coturn-compatible names):");
        foreach (Flag flag in Flags)
        {
            string names = (flag.Short is { } s ? $"-{s}, " : "    ") + "--" + flag.Long + (flag.ValueName is null ? "" : " " + flag.ValueName);
            text.Append("  ").Append(names.PadRight(36)).AppendLine(flag.Help);
            text.Append(' ', 40).Append("(configuration key ").Append(flag.Key).AppendLine(")");
        }

        text.Append("  ").Append("-h, --help".PadRight(36)).AppendLine("Show this text and exit.");
        text.Append("  ").Append("    --version".PadRight(36)).AppendLine("Show the version and exit.");
        text.AppendLine();
        text.AppendLine("Every setting is also a configuration key, settable as:");
        text.AppendLine("  --Turn:Key=value               on the command line (e.g. --Turn:ListeningPort=3479)");
        text.AppendLine("  TURN__Key=value                in the environment (e.g. TURN__LISTENINGPORT=3479)");
        text.AppendLine("  appsettings.json               section \"Turn\", in the working directory");
        text.AppendLine("Keys: ListeningPort, ListeningIps:N, EnableUdp, EnableTcp, Software, TcpIdleTimeoutSeconds.");
        return text.ToString();
    }

    private static Flag? Find(string name)
    {
        foreach (Flag flag in Flags)
        {
            if (name == flag.Long || (name.Length == 1 && flag.Short == name[0]))
            {
                return flag;
            }
        }

        return null;
    }

    private static Result Fail(string message) => new([], false, false, message);
}
