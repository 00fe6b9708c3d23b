using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Turn.Transports;

/// <summary>
/// The certificate TLS connections are served with: loaded from PEM files (certificate, then its chain, in one file;
/// the private key in another), or generated at start when none is configured. Each new connection takes
/// <see cref="Current"/>, so replacing it affects new connections only.
/// </summary>
public sealed class TlsCertificateSource : IDisposable
{
    private readonly Lock _sync = new();
    private readonly List<X509Certificate2> _retired = [];
    private volatile SslStreamCertificateContext _current;
    private volatile X509Certificate2 _certificate;
    private (DateTime Certificate, DateTime Key, long CertificateLength, long KeyLength) _stamp;

    private TlsCertificateSource(X509Certificate2 certificate, X509Certificate2Collection chain, bool selfSigned)
    {
        _certificate = certificate;
        _current = SslStreamCertificateContext.Create(certificate, chain, offline: true);
        IsSelfSigned = selfSigned;
    }

    /// <summary>The PEM files this certificate came from; null when it was generated.</summary>
    public string? CertificateFile { get; private init; }

    public string? KeyFile { get; private init; }

    public SslStreamCertificateContext Current => _current;

    public X509Certificate2 Certificate => _certificate;

    /// <summary>True when the certificate was generated at start (no files configured).</summary>
    public bool IsSelfSigned { get; }

    /// <summary>SHA-256 of the certificate (DER), upper-case hex: what a client can pin.</summary>
    public string Sha256Fingerprint => Convert.ToHexString(_certificate.GetCertHash(HashAlgorithmName.SHA256));

    /// <summary>Loads the certificate (and any chain after it) and its private key from PEM files.</summary>
    public static TlsCertificateSource FromPemFiles(string certificateFile, string keyFile)
    {
        (X509Certificate2 certificate, X509Certificate2Collection chain) = LoadPem(certificateFile, keyFile);
        return new TlsCertificateSource(certificate, chain, selfSigned: false)
        {
            CertificateFile = certificateFile,
            KeyFile = keyFile,
            _stamp = Stamp(certificateFile, keyFile),
        };
    }

    private static (X509Certificate2 Certificate, X509Certificate2Collection Chain) LoadPem(string certificateFile, string keyFile)
    {
        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(certificateFile);
        if (all.Count == 0)
        {
            throw new InvalidDataException($"{certificateFile} holds no PEM certificate.");
        }

        using X509Certificate2 leaf = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        // A key loaded from PEM is ephemeral; exporting and re-importing makes it usable by SslStream everywhere.
        X509Certificate2 usable = X509CertificateLoader.LoadPkcs12(leaf.Export(X509ContentType.Pkcs12), null);
        var chain = new X509Certificate2Collection();
        for (int i = 1; i < all.Count; i++)
        {
            chain.Add(all[i]);
        }

        return (usable, chain);
    }

    /// <summary>
    /// When the PEM files changed since they were read (time or size), reads them again and serves the new
    /// certificate to new connections; connections already open keep theirs. Returns true when it changed; throws
    /// (and keeps the current certificate) when the new files cannot be used.
    /// </summary>
    public bool ReloadIfChanged()
    {
        if (CertificateFile is null || KeyFile is null)
        {
            return false;
        }

        lock (_sync)
        {
            var stamp = Stamp(CertificateFile, KeyFile);
            if (stamp == _stamp)
            {
                return false;
            }

            // Files that cannot be used are tried again only once they change again (no error every interval).
            _stamp = stamp;
            (X509Certificate2 certificate, X509Certificate2Collection chain) = LoadPem(CertificateFile, KeyFile);
            SslStreamCertificateContext context = SslStreamCertificateContext.Create(certificate, chain, offline: true);
            // Open connections may still use the old certificate; it is kept until this source is disposed.
            _retired.Add(_certificate);
            _certificate = certificate;
            _current = context;
            return true;
        }
    }

    /// <summary>
    /// A self-signed certificate for <paramref name="hostName"/> (and localhost, 127.0.0.1, ::1), ECDSA P-256, valid
    /// for a year from an hour ago: enough for tests and for clients that pin its fingerprint.
    /// </summary>
    public static TlsCertificateSource SelfSigned(string hostName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={hostName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(hostName);
        names.AddDnsName("localhost");
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        names.AddIpAddress(System.Net.IPAddress.IPv6Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        DateTimeOffset now = DateTimeOffset.UtcNow;
        using X509Certificate2 created = request.CreateSelfSigned(now.AddHours(-1), now.AddYears(1));
        X509Certificate2 usable = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        return new TlsCertificateSource(usable, [], selfSigned: true);
    }

    public void Dispose()
    {
        lock (_sync)
        {
            _certificate.Dispose();
            foreach (X509Certificate2 old in _retired)
            {
                old.Dispose();
            }

            _retired.Clear();
        }
    }

    private static (DateTime, DateTime, long, long) Stamp(string certificateFile, string keyFile)
    {
        var certificate = new FileInfo(certificateFile);
        var key = new FileInfo(keyFile);
        return (certificate.LastWriteTimeUtc, key.LastWriteTimeUtc, certificate.Exists ? certificate.Length : -1, key.Exists ? key.Length : -1);
    }
}
