using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Turn.Transports.Dtls;

/// <summary>
/// The server side of one DTLS handshake: DTLS 1.2 only, ECDHE with AES-GCM or ChaCha20-Poly1305 (AEAD only: every
/// DTLS 1.2 client has one, and their fixed overhead lets the listener drop forged short records before BouncyCastle
/// fails the association on them), signed with the TLS certificate; ALPN "stun.turn" and "stun.nat-discovery"
/// (RFC 7443) when the client asks for one.
/// </summary>
internal sealed class TurnDtlsServer : DefaultTlsServer
{
    private static readonly int[] EcdsaSuites =
    [
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    private static readonly int[] RsaSuites =
    [
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    private readonly BcTlsCrypto _crypto;
    private readonly DtlsCertificate _certificate;
    private readonly int _handshakeTimeoutMillis;

    public TurnDtlsServer(BcTlsCrypto crypto, DtlsCertificate certificate, TimeSpan handshakeTimeout)
        : base(crypto)
    {
        _crypto = crypto;
        _certificate = certificate;
        _handshakeTimeoutMillis = (int)Math.Min(int.MaxValue, handshakeTimeout.TotalMilliseconds);
    }

    /// <summary>RFC 6347 §4.1.2.7: a record that fails to decrypt or authenticate is discarded, not fatal.</summary>
    public override bool IgnoreCorruptDtlsRecords => true;

    public override int GetHandshakeTimeoutMillis() => _handshakeTimeoutMillis;

    /// <summary>
    /// Once the cipher suite is chosen (0 before): the smallest encrypted record the negotiated cipher can produce (an
    /// empty plaintext): the 16-byte tag, and for AES-GCM the 8-byte explicit nonce before it (RFC 5288 §3; RFC 7905 has
    /// none). Read by the listener's thread while the handshake goes on, so a forged short record is dropped from the
    /// moment the client could send encrypted records, not only once the handshake is over.
    /// </summary>
    public int MinimumCiphertextLength => _minimumCiphertext;

    private volatile int _minimumCiphertext;

    public override int GetSelectedCipherSuite()
    {
        int suite = base.GetSelectedCipherSuite();
        _minimumCiphertext = TlsUtilities.GetEncryptionAlgorithm(suite) == EncryptionAlgorithm.CHACHA20_POLY1305 ? 16 : 24;
        return suite;
    }

    protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.DTLSv12.Only();

    protected override int[] GetSupportedCipherSuites() =>
        TlsUtilities.GetSupportedCipherSuites(Crypto, _certificate.IsEcdsa ? EcdsaSuites : RsaSuites);

    protected override IList<ProtocolName> GetProtocolNames() =>
        [ProtocolName.AsUtf8Encoding("stun.turn"), ProtocolName.AsUtf8Encoding("stun.nat-discovery")];

    protected override TlsCredentialedSigner GetECDsaSignerCredentials() => Signer(SignatureAlgorithm.ecdsa);

    protected override TlsCredentialedSigner GetRsaSignerCredentials() => Signer(SignatureAlgorithm.rsa);

    private BcDefaultTlsCredentialedSigner Signer(short signature)
    {
        if (_certificate.IsEcdsa != (signature == SignatureAlgorithm.ecdsa))
        {
            throw new TlsFatalAlert(AlertDescription.internal_error);
        }

        return new BcDefaultTlsCredentialedSigner(new TlsCryptoParameters(m_context), _crypto, _certificate.PrivateKey,
            _certificate.Chain, ChooseSignatureAndHash(signature));
    }

    /// <summary>The strongest of SHA-256/384/512 with <paramref name="signature"/> that the client offers (SHA-256 if it names none).</summary>
    private SignatureAndHashAlgorithm ChooseSignatureAndHash(short signature)
    {
        IList<SignatureAndHashAlgorithm>? offered = m_context.SecurityParameters.ClientSigAlgs;
        SignatureAndHashAlgorithm? best = null;
        if (offered is not null)
        {
            foreach (SignatureAndHashAlgorithm candidate in offered)
            {
                if (candidate.Signature == signature && candidate.Hash is HashAlgorithm.sha256 or HashAlgorithm.sha384 or HashAlgorithm.sha512
                    && (best is null || candidate.Hash > best.Hash))
                {
                    best = candidate;
                }
            }
        }

        return best ?? new SignatureAndHashAlgorithm(HashAlgorithm.sha256, signature);
    }
}
