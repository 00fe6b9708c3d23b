using System.Globalization;

namespace Turn.Server;

/// <summary>
/// <c>turn-server credentials</c>: mints TURN REST API credentials with the shared secret and prints them with an
/// RTCIceServer JSON, as a signaling backend would hand them to a browser. Nothing contacts the server.
/// </summary>
public static class CredentialsCommand
{
    public const string Name = "credentials";

    /// <summary>Environment variable read when --secret is not given (keeps the secret out of process listings).</summary>
    public const string SecretVariable = "TURN_STATIC_AUTH_SECRET";

    public const string Usage =
        """
        Usage: turn-server credentials --url turn:HOST[:PORT] [--secret SECRET] [--user ID] [--ttl SECONDS] [--tls-port PORT] [--json]

        Mints TURN REST API credentials (username EXPIRY:ID, password base64(HMAC-SHA1(secret, username))), the ones a
        server started with --use-auth-secret --static-auth-secret SECRET accepts, and prints them with an RTCIceServer
        JSON for a browser.

          --url turn:HOST[:PORT]  The server as clients reach it. One plain turn: URL becomes three: UDP and TCP on PORT
                                  (default 3478) and turns: (TLS) on --tls-port. Several --url, or URLs with a
                                  ?transport= or turns:, are used as given.
          --secret SECRET         The shared secret (default: the TURN_STATIC_AUTH_SECRET environment variable).
          --user ID               Who the credentials are for (1-64 letters, digits, . _ - @); optional.
          --ttl SECONDS           How long they are valid (default 3600, at most 604800).
          --tls-port PORT         TLS port for the turns: URL (default 5349).
          --json                  Print only the RTCIceServer JSON.

        """;

    /// <summary>Runs the command; returns the process exit status (0 done, 2 bad arguments).</summary>
    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        string? secret = null;
        string? user = null;
        int ttlSeconds = 3600;
        int tlsPort = 5349;
        bool json = false;
        var urls = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "-h" or "--help")
            {
                output.Write(Usage);
                return 0;
            }

            if (arg == "--json")
            {
                json = true;
                continue;
            }

            if (i + 1 >= args.Count)
            {
                return Fail(error, $"{arg} needs a value, or is not an option of 'credentials'.");
            }

            string value = args[++i];
            switch (arg)
            {
                case "--secret":
                    secret = value;
                    break;
                case "--user":
                    user = value;
                    break;
                case "--url":
                    urls.Add(value);
                    break;
                case "--ttl" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int ttl)
                    && ttl > 0 && ttl <= RestCredentials.MaxTtl.TotalSeconds:
                    ttlSeconds = ttl;
                    break;
                case "--ttl":
                    return Fail(error, $"--ttl must be 1-{(int)RestCredentials.MaxTtl.TotalSeconds} seconds (got '{value}').");
                case "--tls-port" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and <= 65535:
                    tlsPort = port;
                    break;
                case "--tls-port":
                    return Fail(error, $"--tls-port must be 1-65535 (got '{value}').");
                default:
                    return Fail(error, $"unknown option '{arg}' of 'credentials'.");
            }
        }

        secret ??= Environment.GetEnvironmentVariable(SecretVariable);
        if (string.IsNullOrEmpty(secret))
        {
            return Fail(error, $"--secret (or the {SecretVariable} environment variable) is required.");
        }

        if (user is not null && !RestCredentials.IsValidUser(user))
        {
            return Fail(error, $"--user must be 1-64 letters, digits or . _ - @ (got '{user}').");
        }

        if (urls.Count == 0)
        {
            return Fail(error, "--url turn:HOST[:PORT] is required (the server as clients reach it).");
        }

        IReadOnlyList<string> iceUrls = urls;
        if (urls.Count == 1 && !urls[0].Contains('?', StringComparison.Ordinal) && urls[0].StartsWith("turn:", StringComparison.Ordinal))
        {
            if (!TryParseHostPort(urls[0]["turn:".Length..], out string host, out int port))
            {
                return Fail(error, $"--url must be turn:HOST[:PORT] (got '{urls[0]}').");
            }

            iceUrls = RestCredentials.UrlsFor(host, port, tlsPort);
        }
        else if (urls.Any(u => !u.StartsWith("turn:", StringComparison.Ordinal) && !u.StartsWith("turns:", StringComparison.Ordinal)))
        {
            return Fail(error, "every --url must start with turn: or turns:.");
        }

        RestCredentials.Minted minted = RestCredentials.Mint(secret, user, TimeSpan.FromSeconds(ttlSeconds), now, iceUrls);
        if (!json)
        {
            output.WriteLine($"username  {minted.Username}");
            output.WriteLine($"password  {minted.Password}");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"expires   {minted.Expires.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ} (in {ttlSeconds} s)"));
            output.WriteLine("RTCIceServer:");
        }

        output.WriteLine(RestCredentials.IceServerJson(minted));
        return 0;
    }

    /// <summary>HOST, HOST:PORT, [V6] or [V6]:PORT; port 3478 when left out.</summary>
    private static bool TryParseHostPort(string text, out string host, out int port)
    {
        port = 3478;
        host = text;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            host = text[1..close];
            string rest = text[(close + 1)..];
            return rest.Length == 0 || (rest[0] == ':' && TryPort(rest[1..], out port));
        }

        int colon = text.LastIndexOf(':');
        if (colon >= 0 && text.IndexOf(':', StringComparison.Ordinal) == colon)
        {
            host = text[..colon];
            return host.Length > 0 && TryPort(text[(colon + 1)..], out port);
        }

        return host.Length > 0;
    }

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535;

    private static int Fail(TextWriter error, string message)
    {
        error.WriteLine("turn-server credentials: " + message);
        return 2;
    }
}
