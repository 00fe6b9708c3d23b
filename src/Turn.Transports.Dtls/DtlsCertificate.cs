using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Turn.Transports.Dtls;

/// <summary>
/// The TLS certificate (and its chain) and private key in BouncyCastle's form, converted once per certificate the
/// <see cref="TlsCertificateSource"/> serves: a reloaded certificate is converted on the next handshake after it.
/// </summary>
internal sealed class DtlsCertificate
{
    private DtlsCertificate(SslStreamCertificateContext source, Certificate chain, AsymmetricKeyParameter privateKey, bool isEcdsa)
    {
        Source = source;
        Chain = chain;
        PrivateKey = privateKey;
        IsEcdsa = isEcdsa;
    }

    /// <summary>What this was converted from; a different one means the certificate was reloaded.</summary>
    public SslStreamCertificateContext Source { get; }

    public Certificate Chain { get; }

    public AsymmetricKeyParameter PrivateKey { get; }

    /// <summary>ECDSA key (else RSA): decides the cipher suites offered.</summary>
    public bool IsEcdsa { get; }

    public static DtlsCertificate From(SslStreamCertificateContext context, BcTlsCrypto crypto)
    {
        X509Certificate2 leaf = context.TargetCertificate;
        byte[] pkcs8;
        bool ecdsa;
        using (ECDsa? ec = leaf.GetECDsaPrivateKey())
        using (RSA? rsa = ec is null ? leaf.GetRSAPrivateKey() : null)
        {
            if (ec is not null)
            {
                pkcs8 = ec.ExportPkcs8PrivateKey();
                ecdsa = true;
            }
            else if (rsa is not null)
            {
                pkcs8 = rsa.ExportPkcs8PrivateKey();
                ecdsa = false;
            }
            else
            {
                throw new NotSupportedException("DTLS needs an ECDSA or RSA certificate key.");
            }
        }

        var certificates = new TlsCertificate[1 + context.IntermediateCertificates.Count];
        certificates[0] = crypto.CreateCertificate(leaf.RawData);
        for (int i = 0; i < context.IntermediateCertificates.Count; i++)
        {
            certificates[i + 1] = crypto.CreateCertificate(context.IntermediateCertificates[i].RawData);
        }

        AsymmetricKeyParameter key = PrivateKeyFactory.CreateKey(pkcs8);
        CryptographicOperations.ZeroMemory(pkcs8);
        return new DtlsCertificate(context, new Certificate(certificates), key, ecdsa);
    }
}
