using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Turn.Relay;

/// <summary>
/// Who an authenticated request came from and the key it proved (RFC 8489 §9.2): the response to it is signed with
/// the same key, with MESSAGE-INTEGRITY-SHA256 when the request negotiated a password algorithm (PASSWORD-ALGORITHMS
/// and PASSWORD-ALGORITHM present, whichever algorithm), else MESSAGE-INTEGRITY (§9.2.4, checklist 48).
/// </summary>
public readonly struct RequestKey
{
    private readonly KeyBytes _key;

    public RequestKey(string username, ReadOnlySpan<byte> key, bool sha256, string? secretId = null)
    {
        SecretId = secretId;
        ArgumentNullException.ThrowIfNull(username);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(key.Length, 32);
        Username = username;
        Length = key.Length;
        UseSha256 = sha256;
        key.CopyTo(_key);
    }

    public string Username { get; }

    /// <summary>For a TURN REST API username, the id of the shared secret its password was made with; null otherwise.</summary>
    public string? SecretId { get; }

    public int Length { get; }

    public bool UseSha256 { get; }

    public bool IsEmpty => Username is null;

    [UnscopedRef]
    public ReadOnlySpan<byte> Key => ((ReadOnlySpan<byte>)_key)[..Length];

    [InlineArray(32)]
    private struct KeyBytes
    {
        private byte _element;
    }
}
