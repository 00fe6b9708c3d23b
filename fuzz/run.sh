#!/bin/bash
# Fuzzes one target of fuzz/Turn.Fuzz with AFL++ (Debian package afl++) through SharpFuzz, for a bounded time.
#
#   fuzz/run.sh TARGET SECONDS [WORK_DIR]
#
# TARGET is stun (the codec), framing (the TCP/TLS stream framer) or engine (the protocol engine, several clients and
# peers). The code under test (Turn.Stun.dll, Turn.Relay.dll) is instrumented with the sharpfuzz tool
# (dotnet-tools.json) in a copy of the build; the seeds are the RFC test vectors of ../shared/spec and messages of
# every TURN method. Prints one summary line; exits 1 when AFL++ found a crash or a hang (each is replayed and
# printed; copy it under fuzz/regressions/TARGET/ so FuzzRegressionTests replays it from then on), 2 when it could
# not run. Everything stays in WORK_DIR (default: a temporary folder, removed unless findings were made).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-}
seconds=${2:-}
if [ -z "$target" ] || [ -z "$seconds" ]; then
    echo "usage: fuzz/run.sh TARGET SECONDS [WORK_DIR]" >&2
    exit 2
fi
work=${3:-$(mktemp -d)}
keep=${3:+1}
mkdir -p "$work"
vectors="${TURN_SPEC_DIR:-$ROOT/../shared/spec}/stun-test-vectors.json"
command -v afl-fuzz >/dev/null 2>&1 || { echo "fuzz $target: afl-fuzz not found (install afl++)" >&2; exit 2; }
[ -r "$vectors" ] || { echo "fuzz $target: no test vectors at $vectors" >&2; exit 2; }

cd "$ROOT" || exit 2
# The plain build seeds and replays; a copy of it, instrumented, runs under afl-fuzz (instrumented code needs AFL's
# shared memory and cannot run on its own).
if ! dotnet build fuzz/Turn.Fuzz -c Release -o "$work/plain" >"$work/build.log" 2>&1; then
    tail -20 "$work/build.log" >&2
    echo "fuzz $target: build failed" >&2
    exit 2
fi
rm -rf "$work/bin"
cp -r "$work/plain" "$work/bin"
dotnet tool restore >/dev/null 2>&1
for dll in Turn.Stun.dll Turn.Relay.dll; do
    if ! dotnet sharpfuzz "$work/bin/$dll" >"$work/instrument.log" 2>&1; then
        cat "$work/instrument.log" >&2
        echo "fuzz $target: instrumenting $dll failed" >&2
        exit 2
    fi
done
rm -rf "$work/in" "$work/out"
dotnet "$work/plain/Turn.Fuzz.dll" seed "$target" "$work/in" "$vectors" >/dev/null || exit 2

# No UI, no CPU frequency or core dump checks (a container or CI machine), no fork server check for a managed binary.
AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 \
    timeout $((seconds + 120)) afl-fuzz -i "$work/in" -o "$work/out" -V "$seconds" -t 5000 -m none \
    -- dotnet "$work/bin/Turn.Fuzz.dll" fuzz "$target" >"$work/afl.log" 2>&1
rc=$?
stats="$work/out/default/fuzzer_stats"
if [ ! -r "$stats" ]; then
    tail -30 "$work/afl.log" >&2
    echo "fuzz $target: afl-fuzz did not run (status $rc)" >&2
    exit 2
fi
stat() { sed -n "s/^$1 *: *//p" "$stats"; }
crashes=$(find "$work/out/default/crashes" -type f ! -name README.txt 2>/dev/null | wc -l)
hangs=$(find "$work/out/default/hangs" -type f 2>/dev/null | wc -l)
echo "fuzz $target: $(stat execs_done) executions in $(stat run_time) s ($(stat execs_per_sec)/s), corpus $(stat corpus_count), coverage $(stat bitmap_cvg), $crashes crashes, $hangs hangs"
if [ "$crashes" -gt 0 ] || [ "$hangs" -gt 0 ]; then
    for f in "$work/out/default/crashes"/id:* "$work/out/default/hangs"/id:*; do
        [ -f "$f" ] || continue
        echo "# $f ($(od -An -tx1 -v "$f" | tr -d ' \n' | cut -c1-160))" >&2
        timeout 20 dotnet "$work/plain/Turn.Fuzz.dll" replay "$target" "$f" >&2
    done
    echo "fuzz $target: findings kept in $work" >&2
    exit 1
fi
[ -n "$keep" ] || rm -rf "$work"
exit 0
