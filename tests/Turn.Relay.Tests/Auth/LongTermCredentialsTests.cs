using System.Reflection;
using Turn.Relay.Auth;
using Turn.Stun;

namespace Turn.Relay.Tests.Auth;

/// <summary>Credential sources: static users kept as keys, TURN REST API passwords, option checks.</summary>
public class LongTermCredentialsTests
{
    /// <summary>Checklist 153: the draft's example, secret "foobar", username "1599491771".</summary>
    [Fact]
    public void TurnRest_password_is_base64_of_hmac_sha1_of_the_username()
    {
        Assert.Equal("Tpz/nKkyvX/vMSLKvL4sbtBt8Vs=", LongTermCredentials.ComputeRestPassword("foobar", "1599491771"));
    }

    /// <summary>
    /// RFC 8656 §6, checklist 35: after loading, no field of the credentials (or of the users they hold) keeps the
    /// password; only derived keys remain.
    /// </summary>
    [Fact]
    public void Rfc8656_S6_passwords_are_not_kept_after_loading()
    {
        const string password = "correct horse battery staple";
        LongTermCredentials credentials = LongTermCredentials.Create(new LongTermAuthOptions { Realm = "example.org", Users = ["alice:" + password] });

        Assert.DoesNotContain(password, StringsReachableFrom(credentials, new HashSet<object>(ReferenceEqualityComparer.Instance)));
        Assert.Equal(1, credentials.StaticUserCount);
    }

    /// <summary>DESIGN.md "Secrets": printing the options (a log line, a debugger) shows no password or secret.</summary>
    [Fact]
    public void Options_print_without_passwords_or_secrets()
    {
        var options = new LongTermAuthOptions
        {
            Realm = "example.org",
            Users = ["alice:hunter2"],
            RestSecrets = ["rest-secret-value"],
            NonceSecret = "nonce-secret-value-0123",
        };

        string printed = options.ToString();

        Assert.Contains("example.org", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("rest-secret-value", printed, StringComparison.Ordinal);
        Assert.DoesNotContain("nonce-secret-value", printed, StringComparison.Ordinal);
    }

    /// <summary>Checklist 42: the features the nonces advertise follow what the credentials support.</summary>
    [Fact]
    public void Features_advertise_password_algorithms_always_and_anonymity_only_when_userhash_works()
    {
        var staticOnly = LongTermCredentials.Create(new LongTermAuthOptions { Realm = "r", Users = ["a:b"] });
        var restOnly = LongTermCredentials.Create(new LongTermAuthOptions { Realm = "r", RestSecrets = ["s"] });
        var both = LongTermCredentials.Create(new LongTermAuthOptions { Realm = "r", Users = ["a:b"], RestSecrets = ["s"] });

        Assert.Equal(SecurityFeatures.PasswordAlgorithms | SecurityFeatures.UsernameAnonymity, staticOnly.Features);
        Assert.Equal(SecurityFeatures.PasswordAlgorithms, restOnly.Features);
        Assert.Equal(SecurityFeatures.PasswordAlgorithms, both.Features);
    }

    /// <summary>Options validated at start with a message naming the key (DESIGN.md).</summary>
    [Theory]
    [InlineData("", "a:b", "Realm")]
    [InlineData("r", "no-colon", "Users")]
    [InlineData("r", ":password", "Users")]
    [InlineData("r", "name:", "Users")]
    public void Bad_options_fail_at_start_naming_the_key(string realm, string user, string key)
    {
        var exception = Assert.ThrowsAny<ArgumentException>(() => LongTermCredentials.Create(new LongTermAuthOptions { Realm = realm, Users = [user] }));
        Assert.Contains(key, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_users_empty_secrets_and_digit_separators_fail_at_start()
    {
        Assert.Throws<ArgumentException>(() => LongTermCredentials.Create(new LongTermAuthOptions { Realm = "r", Users = ["a:b", "a:c"] }));
        Assert.Throws<ArgumentException>(() => LongTermCredentials.Create(new LongTermAuthOptions { Realm = "r", RestSecrets = [""] }));
        Assert.Throws<ArgumentException>(() => LongTermCredentials.Create(new LongTermAuthOptions { Realm = "r", RestUsernameSeparator = '7' }));
        Assert.Throws<ArgumentException>(() => LongTermCredentials.Create(new LongTermAuthOptions { Realm = new string('r', 128) }));
    }

    /// <summary>Every string held by the object graph, through collections and the fields of this project's types.</summary>
    private static IEnumerable<string> StringsReachableFrom(object? value, HashSet<object> seen)
    {
        if (value is null)
        {
            yield break;
        }

        if (value is string text)
        {
            yield return text;
            yield break;
        }

        Type type = value.GetType();
        if (type.IsPrimitive || type.IsEnum || (!type.IsValueType && !seen.Add(value)))
        {
            yield break;
        }

        var children = new List<object?>();
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(KeyValuePair<,>))
        {
            children.Add(type.GetProperty("Key")!.GetValue(value));
            children.Add(type.GetProperty("Value")!.GetValue(value));
        }
        else if (value is System.Collections.IEnumerable items)
        {
            foreach (object? item in items)
            {
                children.Add(item);
            }
        }

        for (Type? level = type; level?.Namespace?.StartsWith("Turn.", StringComparison.Ordinal) == true; level = level.BaseType)
        {
            foreach (FieldInfo field in level.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                children.Add(field.GetValue(value));
            }
        }

        foreach (object? child in children)
        {
            foreach (string found in StringsReachableFrom(child, seen))
            {
                yield return found;
            }
        }
    }
}
