using Turn.Stun.Tests;

namespace Turn.Fuzz.Tests;

/// <summary>
/// The fuzz targets of fuzz/Turn.Fuzz (RFC 8489 §6.3, RFC 8656 §21.3.1: any input is refused or handled, never a crash),
/// run in process: their seed corpus, every input a fuzzing run ever found (fuzz/regressions/TARGET/, kept once fixed),
/// and a bounded batch of random and mutated inputs. The long runs under AFL++ are fuzz/run.sh (test.sh runs each
/// target briefly).
/// </summary>
public sealed class FuzzRegressionTests
{
    public static TheoryData<string> Targets => [.. FuzzTargets.Names];

    private static string VectorsPath => Path.Combine(SpecFiles.SpecDirectory, "stun-test-vectors.json");

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_seed_runs_clean(string target)
    {
        byte[][] seeds = [.. Seeds.For(target, VectorsPath)];
        Assert.NotEmpty(seeds);
        foreach (byte[] seed in seeds)
        {
            FuzzTargets.Run(target, seed);
        }
    }

    /// <summary>Every crash or hang a fuzzing run found, saved under fuzz/regressions/TARGET/, now runs clean.</summary>
    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_saved_finding_runs_clean(string target)
    {
        string folder = Path.Combine(SpecFiles.RepositoryRoot, "fuzz", "regressions", target);
        Assert.True(Directory.Exists(folder), $"{folder} is missing");
        foreach (string file in Directory.GetFiles(folder).Where(f => !Path.GetFileName(f).StartsWith('.')))
        {
            FuzzTargets.Run(target, File.ReadAllBytes(file));
        }
    }

    /// <summary>Seeds with bytes flipped, cut and spliced, and plain random bytes: 3,000 inputs per target, a fixed seed.</summary>
    [Theory]
    [MemberData(nameof(Targets))]
    public void Mutated_and_random_inputs_run_clean(string target)
    {
        byte[][] seeds = [.. Seeds.For(target, VectorsPath)];
        var random = new Random(8489);
        for (int i = 0; i < 3000; i++)
        {
            byte[] input;
            if (i % 4 == 0)
            {
                input = new byte[random.Next(0, 600)];
                random.NextBytes(input);
            }
            else
            {
                byte[] seed = seeds[random.Next(seeds.Length)];
                input = (byte[])seed.Clone();
                for (int flips = random.Next(1, 8); flips > 0 && input.Length > 0; flips--)
                {
                    input[random.Next(input.Length)] ^= (byte)(1 << random.Next(8));
                }

                if (i % 4 == 2 && input.Length > 1)
                {
                    input = input[..random.Next(1, input.Length)];
                }
                else if (i % 4 == 3)
                {
                    input = [.. input, .. seeds[random.Next(seeds.Length)]];
                }
            }

            FuzzTargets.Run(target, input);
        }
    }
}
