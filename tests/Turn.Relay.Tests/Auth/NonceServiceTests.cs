using System.Text;
using Microsoft.Extensions.Time.Testing;
using Turn.Relay.Auth;
using Turn.Stun;

namespace Turn.Relay.Tests.Auth;

/// <summary>Stateless nonces: RFC 8489 §9.2 cookie, §9.2.4 binding to the source, §14.10 size, and expiry.</summary>
public class NonceServiceTests
{
    private static readonly TransportAddress ClientA = AuthRequest.Tuple("192.0.2.1", 5000).Client;
    private static readonly TransportAddress ClientB = AuthRequest.Tuple("192.0.2.1", 5001).Client;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero));

    private NonceService Service(int lifetimeSeconds = 600) => new(_time, TimeSpan.FromSeconds(lifetimeSeconds));

    /// <summary>
    /// RFC 8489 §9.2, §18.1 + Errata 6290 (checklist 40-42), §14.10: "obMatJos2" + base64 of the features, bit 0 the
    /// least significant; the whole nonce is well under 128 characters and URL-safe base64 after the cookie.
    /// </summary>
    [Theory]
    [InlineData(SecurityFeatures.None, "obMatJos2AAAA")]
    [InlineData(SecurityFeatures.PasswordAlgorithms, "obMatJos2AAAB")]
    [InlineData(SecurityFeatures.UsernameAnonymity, "obMatJos2AAAC")]
    [InlineData(SecurityFeatures.PasswordAlgorithms | SecurityFeatures.UsernameAnonymity, "obMatJos2AAAD")]
    public void Rfc8489_S9_2_nonce_starts_with_the_cookie_of_its_features(SecurityFeatures features, string cookie)
    {
        string nonce = Service().Issue(features, ClientA);

        Assert.StartsWith(cookie, nonce, StringComparison.Ordinal);
        Assert.Equal(NonceService.NonceLength, nonce.Length);
        Assert.True(nonce.Length < 128);
        Assert.All(nonce[NonceCookie.Length..], c => Assert.True(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'));
        Assert.True(NonceCookie.TryParse(Encoding.ASCII.GetBytes(nonce), out SecurityFeatures parsed));
        Assert.Equal(features, parsed);
    }

    /// <summary>
    /// RFC 8489 §9.2.4 (checklist 39): nonces for different source ports or addresses differ, and each is valid only
    /// from the source it was issued to. RFC 8656 §5 (checklist 49): even for one source every nonce is fresh.
    /// </summary>
    [Fact]
    public void Rfc8489_S9_2_4_nonce_is_bound_to_the_source_address_and_port()
    {
        NonceService service = Service();
        TransportAddress clientC = AuthRequest.Tuple("2001:db8::1", 5000).Client;
        string a = service.Issue(SecurityFeatures.PasswordAlgorithms, ClientA);
        string b = service.Issue(SecurityFeatures.PasswordAlgorithms, ClientB);
        string c = service.Issue(SecurityFeatures.PasswordAlgorithms, clientC);
        string again = service.Issue(SecurityFeatures.PasswordAlgorithms, ClientA);

        Assert.Equal(4, new HashSet<string>([a, b, c, again]).Count);
        Assert.Equal(NonceValidation.Valid, service.Validate(Encoding.ASCII.GetBytes(a), ClientA));
        Assert.Equal(NonceValidation.Valid, service.Validate(Encoding.ASCII.GetBytes(again), ClientA));
        Assert.Equal(NonceValidation.Invalid, service.Validate(Encoding.ASCII.GetBytes(a), ClientB));
        Assert.Equal(NonceValidation.Invalid, service.Validate(Encoding.ASCII.GetBytes(a), clientC));
        Assert.Equal(NonceValidation.Valid, service.Validate(Encoding.ASCII.GetBytes(b), ClientB));
        Assert.Equal(NonceValidation.Valid, service.Validate(Encoding.ASCII.GetBytes(c), clientC));
    }

    /// <summary>coturn --stale-nonce: valid for the lifetime, then Stale (not Invalid: the MAC still holds).</summary>
    [Fact]
    public void Nonce_turns_stale_after_its_lifetime()
    {
        NonceService service = Service(lifetimeSeconds: 600);
        byte[] nonce = Encoding.ASCII.GetBytes(service.Issue(SecurityFeatures.PasswordAlgorithms, ClientA));

        _time.Advance(TimeSpan.FromSeconds(599));
        Assert.Equal(NonceValidation.Valid, service.Validate(nonce, ClientA));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(NonceValidation.Stale, service.Validate(nonce, ClientA));
        _time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(NonceValidation.Stale, service.Validate(nonce, ClientA));
        Assert.Equal(NonceValidation.Invalid, service.Validate(nonce, ClientB));
    }

    /// <summary>Anything altered or foreign is Invalid: every character of the nonce is covered by the MAC.</summary>
    [Fact]
    public void Altered_or_foreign_nonces_are_invalid()
    {
        NonceService service = Service();
        string nonce = service.Issue(SecurityFeatures.PasswordAlgorithms, ClientA);
        for (int i = 0; i < nonce.Length; i++)
        {
            char replacement = nonce[i] == 'A' ? 'B' : 'A';
            string altered = nonce[..i] + replacement + nonce[(i + 1)..];
            Assert.Equal(NonceValidation.Invalid, service.Validate(Encoding.ASCII.GetBytes(altered), ClientA));
        }

        Assert.Equal(NonceValidation.Invalid, service.Validate(Encoding.ASCII.GetBytes(nonce[..^1]), ClientA));
        Assert.Equal(NonceValidation.Invalid, service.Validate(Encoding.ASCII.GetBytes(nonce + "A"), ClientA));
        Assert.Equal(NonceValidation.Invalid, service.Validate(default, ClientA));
        Assert.Equal(NonceValidation.Invalid, service.Validate("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"u8, ClientA));
        Assert.Equal(NonceValidation.Invalid, Service().Validate(Encoding.ASCII.GetBytes(nonce), ClientA));
    }

    /// <summary>
    /// A cluster's shared key (UseKey): services that adopt the same key accept each other's nonces; a nonce issued
    /// under the key before stays valid until the key changes again; the same key twice changes nothing.
    /// </summary>
    [Fact]
    public void Services_sharing_a_key_accept_each_others_nonces_and_the_previous_key_stays_valid_once()
    {
        NonceService first = Service();
        NonceService second = Service();
        byte[] own = Encoding.ASCII.GetBytes(first.Issue(SecurityFeatures.PasswordAlgorithms, ClientA));
        Assert.Equal(NonceValidation.Invalid, second.Validate(own, ClientA));

        byte[] shared = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];
        first.UseKey(shared);
        second.UseKey(shared);
        first.UseKey(shared);
        byte[] fromFirst = Encoding.ASCII.GetBytes(first.Issue(SecurityFeatures.PasswordAlgorithms, ClientA));
        Assert.Equal(NonceValidation.Valid, second.Validate(fromFirst, ClientA));
        Assert.Equal(NonceValidation.Invalid, second.Validate(fromFirst, ClientB));
        Assert.Equal(NonceValidation.Valid, first.Validate(own, ClientA));
        Assert.Equal(NonceValidation.Invalid, second.Validate(own, ClientA));

        byte[] rotated = [.. Enumerable.Range(100, 32).Select(i => (byte)i)];
        first.UseKey(rotated);
        Assert.Equal(NonceValidation.Valid, first.Validate(fromFirst, ClientA));
        Assert.Equal(NonceValidation.Invalid, first.Validate(own, ClientA));
        Assert.Throws<ArgumentException>(() => first.UseKey(new byte[8]));
    }

    /// <summary>
    /// Nodes' clocks differ a little: a nonce from a node up to <see cref="NonceService.MaxClockSkewSeconds"/> ahead is
    /// valid; one from further ahead (or issued before this clock was set back) is Stale, so it cannot outlive its
    /// lifetime by the size of a clock step.
    /// </summary>
    [Theory]
    [InlineData(0, NonceValidation.Valid)]
    [InlineData(NonceService.MaxClockSkewSeconds, NonceValidation.Valid)]
    [InlineData(NonceService.MaxClockSkewSeconds + 1, NonceValidation.Stale)]
    [InlineData(86_400, NonceValidation.Stale)]
    public void A_nonce_from_a_clock_further_ahead_than_the_allowed_skew_is_stale(int aheadSeconds, NonceValidation expected)
    {
        byte[] key = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];
        var ahead = new FakeTimeProvider(_time.GetUtcNow().AddSeconds(aheadSeconds));
        var issuer = new NonceService(ahead, TimeSpan.FromSeconds(600), key);
        var validator = new NonceService(_time, TimeSpan.FromSeconds(600), key);
        byte[] nonce = Encoding.ASCII.GetBytes(issuer.Issue(SecurityFeatures.PasswordAlgorithms, ClientA));
        Assert.Equal(expected, validator.Validate(nonce, ClientA));
    }

    /// <summary>Issuing and validating allocate nothing once warm (Validate runs on every authenticated request).</summary>
    [Fact]
    public void Issue_and_validate_allocate_nothing_once_warm()
    {
        NonceService service = Service();
        byte[] nonce = new byte[NonceService.NonceLength];
        int valid = 0;
        for (int round = 0; round < 2; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100; i++)
            {
                service.Issue(SecurityFeatures.PasswordAlgorithms, ClientA, nonce);
                valid += service.Validate(nonce, ClientA) == NonceValidation.Valid ? 1 : 0;
            }

            if (round == 1)
            {
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }

        Assert.Equal(200, valid);
    }

    /// <summary>Options are checked at start: lifetime 1 s to 365 days, a shared key of at least 16 bytes.</summary>
    [Fact]
    public void Bad_lifetime_or_key_fails_at_start()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NonceService(_time, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NonceService(_time, TimeSpan.FromDays(366)));
        Assert.Throws<ArgumentException>(() => new NonceService(_time, TimeSpan.FromSeconds(600), "too-short"u8));
        Assert.Equal(TimeSpan.FromSeconds(600), new NonceService(_time, TimeSpan.FromSeconds(600), "sixteen-bytes-ok"u8).Lifetime);
    }
}
