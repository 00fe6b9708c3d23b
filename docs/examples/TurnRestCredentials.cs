using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Signaling.Examples;

/// <summary>Mints TURN REST API credentials with the secret the TURN server shares (--static-auth-secret).</summary>
public static class TurnRestCredentials
{
    /// <summary>Username "EXPIRY:USER" (EXPIRY in Unix seconds); credential base64(HMAC-SHA1(secret, username)).</summary>
    public static (string Username, string Credential) Mint(string secret, string user, TimeSpan ttl)
    {
        long expiry = DateTimeOffset.UtcNow.Add(ttl).ToUnixTimeSeconds();
        string username = expiry.ToString(CultureInfo.InvariantCulture) + ":" + user;
#pragma warning disable CA5350 // The TURN REST API defines the credential as HMAC-SHA1.
        byte[] mac = HMACSHA1.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(username));
#pragma warning restore CA5350
        return (username, Convert.ToBase64String(mac));
    }
}
