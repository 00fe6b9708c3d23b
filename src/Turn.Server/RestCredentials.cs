using System.Globalization;
using System.Text;
using System.Text.Json;
using Turn.Relay.Auth;

namespace Turn.Server;

/// <summary>
/// TURN REST API credentials (draft-uberti-behave-turn-rest-00, as coturn's --use-auth-secret checks them): the
/// username is "EXPIRY:USER" (EXPIRY in Unix seconds), the password base64(HMAC-SHA1(secret, username)). A signaling
/// backend that knows the shared secret mints them itself; this is the same computation, for the credentials command
/// and the admin endpoint.
/// </summary>
public static class RestCredentials
{
    /// <summary>Longest lifetime handed out.</summary>
    public static readonly TimeSpan MaxTtl = TimeSpan.FromDays(7);

    public sealed record Minted(string Username, string Password, DateTimeOffset Expires, IReadOnlyList<string> Urls);

    /// <summary>Credentials valid until <paramref name="now"/> + <paramref name="ttl"/>, for <paramref name="user"/> (may be empty).</summary>
    public static Minted Mint(string secret, string? user, TimeSpan ttl, DateTimeOffset now, IReadOnlyList<string> urls)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ttl, MaxTtl);
        DateTimeOffset expires = now + ttl;
        string timestamp = expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        string username = string.IsNullOrEmpty(user) ? timestamp : timestamp + ":" + user;
        return new Minted(username, LongTermCredentials.ComputeRestPassword(secret, username), expires, urls);
    }

    /// <summary>The URLs for UDP, TCP and TLS on one host: turn:HOST:PORT?transport=udp|tcp and turns:HOST:TLSPORT?transport=tcp.</summary>
    public static IReadOnlyList<string> UrlsFor(string host, int port, int tlsPort)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        string h = host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? "[" + host + "]" : host;
        return
        [
            string.Create(CultureInfo.InvariantCulture, $"turn:{h}:{port}?transport=udp"),
            string.Create(CultureInfo.InvariantCulture, $"turn:{h}:{port}?transport=tcp"),
            string.Create(CultureInfo.InvariantCulture, $"turns:{h}:{tlsPort}?transport=tcp"),
        ];
    }

    /// <summary>The RTCIceServer dictionary of WebRTC: {"urls": [...], "username": ..., "credential": ...}.</summary>
    public static string IceServerJson(Minted minted)
    {
        ArgumentNullException.ThrowIfNull(minted);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            WriteIceServer(json, minted);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>
    /// What managed TURN services answer: {"iceServers": [RTCIceServer], "ttl": seconds, "expires": ISO 8601}.
    /// </summary>
    public static string ResponseJson(Minted minted, TimeSpan ttl)
    {
        ArgumentNullException.ThrowIfNull(minted);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteStartArray("iceServers");
            WriteIceServer(json, minted);
            json.WriteEndArray();
            json.WriteNumber("ttl", (long)ttl.TotalSeconds);
            json.WriteString("expires", minted.Expires.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture));
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteIceServer(Utf8JsonWriter json, Minted minted)
    {
        json.WriteStartObject();
        json.WriteStartArray("urls");
        foreach (string url in minted.Urls)
        {
            json.WriteStringValue(url);
        }

        json.WriteEndArray();
        json.WriteString("username", minted.Username);
        json.WriteString("credential", minted.Password);
        json.WriteEndObject();
    }

    /// <summary>A user id for a REST username: 1-64 letters, digits or . _ - @ (no separator, nothing to escape).</summary>
    public static bool IsValidUser(string? user) =>
        user is { Length: > 0 and <= 64 } && user.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or '@');
}
