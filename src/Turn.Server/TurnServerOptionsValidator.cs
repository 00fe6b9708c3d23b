using System.Net;
using Microsoft.Extensions.Options;
using Turn.Stun;

namespace Turn.Server;

/// <summary>Rejects a bad configuration at start with messages that name the key (e.g. "Turn:ListeningPort").</summary>
public sealed class TurnServerOptionsValidator : IValidateOptions<TurnServerOptions>
{
    public ValidateOptionsResult Validate(string? name, TurnServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        string section = TurnServerOptions.SectionName;

        if (options.ListeningPort is < 0 or > 65535)
        {
            failures.Add($"{section}:ListeningPort must be between 0 and 65535 (got {options.ListeningPort}).");
        }

        for (int i = 0; i < options.ListeningIps.Count; i++)
        {
            if (!IPAddress.TryParse(options.ListeningIps[i], out _))
            {
                failures.Add($"{section}:ListeningIps:{i} is not an IP address (got '{options.ListeningIps[i]}').");
            }
        }

        if (!options.EnableUdp && !options.EnableTcp)
        {
            failures.Add($"{section}:EnableUdp and {section}:EnableTcp are both false: the server would listen on nothing.");
        }

        if (options.Software is { } software && !TextValue.IsValidText(System.Text.Encoding.UTF8.GetBytes(software), StunConstants.MaxTextCharacters))
        {
            failures.Add($"{section}:Software must be fewer than 128 characters (RFC 8489 §14.14).");
        }

        if (options.TcpIdleTimeoutSeconds < 1)
        {
            failures.Add($"{section}:TcpIdleTimeoutSeconds must be at least 1 (got {options.TcpIdleTimeoutSeconds}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
