using System.Text.RegularExpressions;

namespace Turn.Stun.Tests;

/// <summary>
/// Keeps the shared conformance checklist (turn-rfc-checklist.md) and the tests in step: every numbered item is cited
/// in a comment of some test under tests/ as "Checklist N" (also "Checklist N, M", "Checklist N and M", "Checklist
/// N-M"), or is listed below with the reason no test of this server checks it. Removing the last citation of an item
/// makes this fail, naming the item.
/// </summary>
public partial class ChecklistCoverageTests
{
    /// <summary>Items no test cites on purpose, each with the reason.</summary>
    private static readonly Dictionary<int, string> Exceptions = new()
    {
        // Section B. The server offers the long-term credential mechanism only (RFC 8656 §5, checklist 50); the
        // short-term key is derived in the codec tests just to verify the RFC 5769 vectors, which use it.
        [31] = "short-term credentials (RFC 8489 §9.1) are deliberately not offered by this server",

        // Section B. A timing property: a unit test cannot measure it reliably. The integrity checks and the nonce MAC
        // compare with CryptographicOperations.FixedTimeEquals (checked by review, not by a test).
        [37] = "constant-time comparison is a timing property no functional test can observe",

        // Section J. For TCP-to-UDP and UDP-to-TCP relaying the server leaves TTL, DSCP and ECN to the kernel's
        // defaults (the alternate behaviour of RFC 8656 §15, §16); a test on loopback would only observe the kernel.
        [123] = "IP header fields of TCP-to-UDP and UDP-to-TCP relaying are the kernel's defaults; nothing of the server's to test",
    };

    /// <summary>
    /// Items the server does not meet yet. Listed, not cited, so the gap stays visible here and in the report of the
    /// change that closes it (which then cites the item from its test and removes it from this list).
    /// </summary>
    private static readonly Dictionary<int, string> KnownGaps = new()
    {
    };

    [GeneratedRegex(@"^(\d+)\.\s", RegexOptions.Multiline)]
    private static partial Regex ItemPattern();

    [GeneratedRegex(@"[Cc]hecklist(?:\s+items?)?\s+(\d+(?:\s*[-–]\s*\d+)?(?:\s*(?:,|and)\s*\d+(?:\s*[-–]\s*\d+)?)*)")]
    private static partial Regex CitationPattern();

    [GeneratedRegex(@"(\d+)(?:\s*[-–]\s*(\d+))?")]
    private static partial Regex NumberOrRangePattern();

    /// <summary>The item numbers of the checklist ("N. ..." at the start of a line).</summary>
    private static SortedSet<int> ChecklistItems()
    {
        string text = File.ReadAllText(Path.Combine(SpecFiles.SpecDirectory, "turn-rfc-checklist.md"));
        return [.. ItemPattern().Matches(text).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))];
    }

    /// <summary>Every item cited in a comment of a test source, with the files that cite it.</summary>
    private static Dictionary<int, SortedSet<string>> Citations()
    {
        string root = SpecFiles.RepositoryRoot;
        var citations = new Dictionary<int, SortedSet<string>>();
        foreach (string file in Directory.EnumerateFiles(Path.Combine(root, "tests"), "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (relative.Contains("/bin/", StringComparison.Ordinal) || relative.Contains("/obj/", StringComparison.Ordinal)
                || Path.GetFileName(file) == $"{nameof(ChecklistCoverageTests)}.cs")
            {
                continue;
            }

            foreach (string line in File.ReadLines(file))
            {
                int comment = line.IndexOf("//", StringComparison.Ordinal);
                if (comment < 0)
                {
                    continue;
                }

                foreach (Match citation in CitationPattern().Matches(line[comment..]))
                {
                    foreach (int item in Expand(citation.Groups[1].Value))
                    {
                        if (!citations.TryGetValue(item, out SortedSet<string>? files))
                        {
                            citations[item] = files = [];
                        }

                        files.Add(relative);
                    }
                }
            }
        }

        return citations;
    }

    /// <summary>"7", "7, 9", "61 and 64", "73-74" to the item numbers they name.</summary>
    private static IEnumerable<int> Expand(string list)
    {
        foreach (Match part in NumberOrRangePattern().Matches(list))
        {
            int first = int.Parse(part.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            int last = part.Groups[2].Success ? int.Parse(part.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) : first;
            for (int item = first; item <= last; item++)
            {
                yield return item;
            }
        }
    }

    [Theory]
    [InlineData("Checklist 7, RFC 8489 §6.3.1.1: the answer", new[] { 7 })]
    [InlineData("(checklist 63, 100, 121): DONT-FRAGMENT", new[] { 63, 100, 121 })]
    [InlineData("Checklist 61 and 64, RFC 8656 §7.2 item 2", new[] { 61, 64 })]
    [InlineData("The server side, in the order of checklist items 38-40, with", new[] { 38, 39, 40 })]
    [InlineData("Checklist 113, 117-119, RFC 8656 §12.6", new[] { 113, 117, 118, 119 })]
    [InlineData("Checklist98_translation_forms (a method name) and the checklist examples", new int[0])]
    public void Citations_are_read_as_the_numbers_and_ranges_they_name(string comment, int[] expected)
    {
        int[] read = [.. CitationPattern().Matches(comment).SelectMany(m => Expand(m.Groups[1].Value))];
        Assert.Equal(expected, read);
    }

    /// <summary>The checklist parses into items 1 to N without a gap, so a missing item cannot go unnoticed.</summary>
    [Fact]
    public void The_checklist_items_are_numbered_without_gaps()
    {
        SortedSet<int> items = ChecklistItems();
        Assert.True(items.Count > 100, $"only {items.Count} items read from the checklist");
        Assert.Equal(Enumerable.Range(1, items.Max), items);
    }

    /// <summary>Every item of the checklist is cited by at least one test, or listed with the reason it is not.</summary>
    [Fact]
    public void Every_checklist_item_is_cited_by_a_test_or_listed_with_a_reason()
    {
        Dictionary<int, SortedSet<string>> citations = Citations();
        int[] uncited = [.. ChecklistItems().Where(i => !citations.ContainsKey(i) && !Exceptions.ContainsKey(i) && !KnownGaps.ContainsKey(i))];
        Assert.True(uncited.Length == 0,
            $"Checklist items that no test cites and no list here explains: {string.Join(", ", uncited)}. Cite each as \"Checklist N\" in "
            + "the summary of a test that checks it, or add it to the exceptions of this class with the reason.");
    }

    /// <summary>
    /// The lists above name real items, each with a reason, and none that a test cites (an item a test now checks
    /// comes off the list).
    /// </summary>
    [Fact]
    public void Listed_items_are_checklist_items_that_no_test_cites()
    {
        SortedSet<int> items = ChecklistItems();
        Dictionary<int, SortedSet<string>> citations = Citations();
        foreach (var (item, reason) in Exceptions.Concat(KnownGaps))
        {
            Assert.True(items.Contains(item), $"item {item} is listed but the checklist has no such item");
            Assert.False(string.IsNullOrWhiteSpace(reason), $"item {item} is listed without a reason");
            Assert.False(citations.TryGetValue(item, out SortedSet<string>? files),
                $"item {item} is listed but cited by {string.Join(", ", files ?? [])}: take it off the list");
        }

        Assert.Empty(Exceptions.Keys.Intersect(KnownGaps.Keys));
    }

    /// <summary>Every citation names an item the checklist has (a typo would otherwise count as coverage of nothing).</summary>
    [Fact]
    public void Citations_name_checklist_items()
    {
        SortedSet<int> items = ChecklistItems();
        string[] unknown = [.. Citations().Where(c => !items.Contains(c.Key)).Select(c => $"{c.Key} ({string.Join(", ", c.Value)})")];
        Assert.True(unknown.Length == 0, $"Citations of items the checklist does not have: {string.Join("; ", unknown)}");
    }
}
