using System.Text.Json;

namespace Turn.Stun.Tests;

/// <summary>Finds the shared RFC test vectors and checklist next to the repository (../shared/spec) at run time.</summary>
internal static class SpecFiles
{
    private static readonly Lazy<JsonDocument> Vectors = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(SpecDirectory, "stun-test-vectors.json"))));

    public static string SpecDirectory
    {
        get
        {
            string? overridden = Environment.GetEnvironmentVariable("TURN_SPEC_DIR");
            if (!string.IsNullOrEmpty(overridden))
            {
                return overridden;
            }

            string spec = Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "spec"));
            return Directory.Exists(spec)
                ? spec
                : throw new DirectoryNotFoundException($"The shared spec folder is missing: expected {spec} (or set TURN_SPEC_DIR).");
        }
    }

    /// <summary>The repository root: the nearest folder above the test binaries that holds Turn.sln.</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Turn.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new DirectoryNotFoundException("Repository root (Turn.sln) not found above the test binaries.");
        }
    }

    public static JsonElement Root => Vectors.Value.RootElement;

    public static JsonElement Vector(string id)
    {
        foreach (JsonElement vector in Root.GetProperty("vectors").EnumerateArray())
        {
            if (vector.GetProperty("id").GetString() == id)
            {
                return vector;
            }
        }

        throw new KeyNotFoundException(id);
    }

    public static IEnumerable<string> VectorIds()
    {
        foreach (JsonElement vector in Root.GetProperty("vectors").EnumerateArray())
        {
            yield return vector.GetProperty("id").GetString()!;
        }
    }

    public static byte[] Hex(JsonElement element, string property) => Convert.FromHexString(element.GetProperty(property).GetString()!);
}
