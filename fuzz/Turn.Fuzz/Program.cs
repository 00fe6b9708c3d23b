using Turn.Fuzz;

// turn-fuzz fuzz TARGET                 run under afl-fuzz (SharpFuzz out-of-process mode), one input per run
// turn-fuzz replay TARGET PATH...       run inputs (files, or every file of folders) once; exit 1 when one fails
// turn-fuzz seed TARGET DIR VECTORS     write the seed corpus of TARGET into DIR (VECTORS: stun-test-vectors.json)
if (args.Length >= 2 && args[0] == "fuzz")
{
    string target = args[1];
    SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
    {
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        FuzzTargets.Run(target, memory.ToArray());
    });
    return 0;
}

if (args.Length >= 3 && args[0] == "replay")
{
    int failed = 0;
    int ran = 0;
    foreach (string path in args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p) : [p]))
    {
        ran++;
        try
        {
            FuzzTargets.Run(args[1], File.ReadAllBytes(path));
        }
#pragma warning disable CA1031 // every failure of an input is reported, whatever it is
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failed++;
            Console.Error.WriteLine($"{path}: {ex.GetType().Name}: {ex.Message}");
        }
    }

    Console.WriteLine($"{args[1]}: {ran} inputs replayed, {failed} failed");
    return failed == 0 ? 0 : 1;
}

if (args.Length >= 4 && args[0] == "seed")
{
    Directory.CreateDirectory(args[2]);
    int n = 0;
    foreach (byte[] seed in Seeds.For(args[1], args[3]))
    {
        File.WriteAllBytes(Path.Combine(args[2], $"seed-{n++:D3}"), seed);
    }

    Console.WriteLine($"{args[1]}: {n} seeds in {args[2]}");
    return 0;
}

Console.Error.WriteLine("usage: turn-fuzz fuzz TARGET | replay TARGET PATH... | seed TARGET DIR VECTORS_JSON   (targets: "
    + string.Join(", ", FuzzTargets.Names) + ")");
return 2;
