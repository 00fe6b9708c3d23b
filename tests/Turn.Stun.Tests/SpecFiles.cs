using System.Text.Json;

namespace Turn.Stun.Tests;

/// <summary>Finds the shared RFC test vectors next to the repository (../shared/spec) at run time.</summary>
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

            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Turn.sln")))
                {
                    string spec = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "spec"));
                    if (Directory.Exists(spec))
                    {
                        return spec;
                    }

                    throw new DirectoryNotFoundException($"The shared spec folder is missing: expected {spec} (or set TURN_SPEC_DIR).");
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
