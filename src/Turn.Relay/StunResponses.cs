using Turn.Stun;

namespace Turn.Relay;

/// <summary>
/// Builds the answers every method shares: error responses (RFC 8489 §6.3.1.1) and the common tail of SOFTWARE and
/// FINGERPRINT. RFC 3489 clients (no magic cookie) get answers they can parse: no FINGERPRINT or SOFTWARE, and every
/// attribute a multiple of 4 bytes long (RFC 3489 §11.2.9, §11.2.10).
/// </summary>
internal sealed class StunResponses
{
    private readonly byte[]? _software;

    public StunResponses(string? software)
    {
        _software = string.IsNullOrEmpty(software) ? null : System.Text.Encoding.UTF8.GetBytes(software);
    }

    /// <summary>Starts a response of the request's method and class, echoing its transaction id and cookie field.</summary>
    public static StunMessageWriter Begin(Span<byte> buffer, in StunHeader request, StunClass cls) =>
        new(buffer, new StunMessageType(request.Method, cls), request.TransactionId, request.Cookie);

    /// <summary>
    /// RFC 8489 §6.3.1.1, §14.14, §9.2.4, §7: SOFTWARE, then the integrity attribute when the request was
    /// authenticated (signed with the request's key), then FINGERPRINT close every answer to an RFC 5389+ client.
    /// </summary>
    public int Finish(ref StunMessageWriter writer, in StunHeader request, in RequestKey key = default)
    {
        if (request.HasMagicCookie)
        {
            if (_software is not null)
            {
                writer.AddAttribute(StunAttributeType.Software, _software);
            }

            if (!key.IsEmpty)
            {
                if (key.UseSha256)
                {
                    writer.AddMessageIntegritySha256(key.Key);
                }
                else
                {
                    writer.AddMessageIntegrity(key.Key);
                }
            }

            writer.AddFingerprint();
        }

        return writer.HasOverflowed ? 0 : writer.Length;
    }

    /// <summary>
    /// RFC 8489 §9.2.4: 401 or 438 with REALM, NONCE and PASSWORD-ALGORITHMS, and no integrity attribute (there is
    /// no key the client proved).
    /// </summary>
    public int WriteChallenge(Span<byte> buffer, in StunHeader request, int code, ITurnAuthenticator authenticator, in FiveTuple tuple)
    {
        var writer = Begin(buffer, request, StunClass.ErrorResponse);
        writer.AddErrorCode(code);
        authenticator.AddChallenge(ref writer, tuple);
        return Finish(ref writer, request);
    }

    /// <summary>
    /// RFC 8489 §6.3.1.1: an error response with ERROR-CODE (first, as RFC 3489 parsers expect) and, for 420, the
    /// UNKNOWN-ATTRIBUTES list (§14.13).
    /// </summary>
    public int WriteError(Span<byte> buffer, in StunHeader request, int code, scoped ReadOnlySpan<ushort> unknownAttributes = default) =>
        WriteError(buffer, request, code, default, unknownAttributes);

    /// <summary>An error response to an authenticated request, signed with its key (RFC 8489 §9.2.4).</summary>
    public int WriteError(Span<byte> buffer, in StunHeader request, int code, in RequestKey key, scoped ReadOnlySpan<ushort> unknownAttributes = default)
    {
        var writer = Begin(buffer, request, StunClass.ErrorResponse);
        if (request.HasMagicCookie)
        {
            writer.AddErrorCode(code);
            if (!unknownAttributes.IsEmpty)
            {
                writer.AddUnknownAttributes(unknownAttributes);
            }
        }
        else
        {
            AddClassicErrorCode(ref writer, code);
            if (!unknownAttributes.IsEmpty)
            {
                AddClassicUnknownAttributes(ref writer, unknownAttributes);
            }
        }

        return Finish(ref writer, request, key);
    }

    /// <summary>
    /// RFC 8489 §10: 300 Try Alternate with ALTERNATE-SERVER (and ALTERNATE-DOMAIN when given), signed with the request's
    /// key, so the client can trust the redirection (§10: only an authenticated 300 may be followed over TLS/DTLS).
    /// </summary>
    public int WriteTryAlternate(Span<byte> buffer, in StunHeader request, in RequestKey key, in TransportAddress alternate, string? domain)
    {
        var writer = Begin(buffer, request, StunClass.ErrorResponse);
        writer.AddErrorCode(StunErrorCode.TryAlternate);
        writer.AddAddress(StunAttributeType.AlternateServer, alternate);
        if (domain is not null)
        {
            writer.AddText(StunAttributeType.AlternateDomain, domain);
        }

        return Finish(ref writer, request, key);
    }

    /// <summary>RFC 3489 §11.2.9: the reason phrase is padded with spaces to a multiple of 4 bytes.</summary>
    private static void AddClassicErrorCode(ref StunMessageWriter writer, int code)
    {
        string reason = StunErrorCode.DefaultReason(code);
        int padded = (reason.Length + 3) & ~3;
        writer.AddErrorCode(code, reason.PadRight(padded));
    }

    /// <summary>RFC 3489 §11.2.10: an odd number of types is made even by repeating one of them.</summary>
    private static void AddClassicUnknownAttributes(ref StunMessageWriter writer, scoped ReadOnlySpan<ushort> types)
    {
        if ((types.Length & 1) == 0)
        {
            writer.AddUnknownAttributes(types);
            return;
        }

        Span<ushort> even = stackalloc ushort[types.Length + 1];
        types.CopyTo(even);
        even[^1] = types[^1];
        writer.AddUnknownAttributes(even);
    }
}
