using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Turn.Server.Tests;

/// <summary>Self-signed certificates written as PEM files, as an operator would hand them to --cert and --pkey.</summary>
internal static class TestCertificates
{
    /// <summary>
    /// Writes a new self-signed certificate (ECDSA P-256, or RSA 2048 when <paramref name="rsa"/>) and its key as PEM,
    /// both stamped with <paramref name="stamp"/> as last-write time; returns the certificate's SHA-256 in hex.
    /// </summary>
    public static async Task<string> WriteAsync(string certFile, string keyFile, string subject, DateTime stamp, bool rsa = false)
    {
        using AsymmetricAlgorithm key = rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = key is RSA rsaKey
            ? new CertificateRequest(subject, rsaKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest(subject, (ECDsa)key, HashAlgorithmName.SHA256);
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());
        await File.WriteAllTextAsync(certFile, certificate.ExportCertificatePem());
        File.SetLastWriteTimeUtc(keyFile, stamp);
        File.SetLastWriteTimeUtc(certFile, stamp);
        return Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256));
    }
}

/// <summary>A certificate and key file pair in a temporary directory of their own, deleted on dispose.</summary>
internal sealed class TempCertificateFiles : IDisposable
{
    private readonly string _directory;

    public TempCertificateFiles(string prefix)
    {
        _directory = Directory.CreateTempSubdirectory(prefix).FullName;
        CertFile = Path.Combine(_directory, "cert.pem");
        KeyFile = Path.Combine(_directory, "key.pem");
    }

    public string CertFile { get; }

    public string KeyFile { get; }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
