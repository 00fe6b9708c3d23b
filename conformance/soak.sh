#!/bin/bash
# Soak: our server under steady churn for SOAK_SECONDS (default 600; longer by setting it), on loopback only.
#
# Each cycle, the C load generator of benchmarks/load (turnload, built here with gcc and libssl) makes SOAK_ALLOCS
# allocations (401 round, Allocate, CreatePermission, ChannelBind), relays ChannelData to its sink peer at SOAK_RATE
# packets/s for a few seconds, and deletes them (Refresh 0): allocation churn, permissions, channels and relay at a
# steady rate. Every loop is bounded (turnload stops at its deadline and packet count; the soak at its end time).
#
# After a warm-up (a fifth of the time, 30 to 60 s) the server's RSS and open file descriptors are taken as the
# baseline. At the end it asserts: RSS grew less than 5 % over the baseline, the descriptors are back to the baseline,
# every packet of every cycle reached the sink (counted exactly, once the relay went quiet), and the server sent no
# error response but the 401 of each allocation's first round (and 438 for a nonce that aged) and dropped nothing.
# Prints one summary line.
#
# Run on its own (a 60-minute soak):   SOAK_SECONDS=3600 bash conformance/soak.sh
# test.sh runs it with SOAK_SECONDS=90.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.bash"
. "$HERE/lib/turnserver.bash"

SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_ALLOCS=${SOAK_ALLOCS:-50}
SOAK_RATE=${SOAK_RATE:-2000}
CYCLE_SECONDS=5
name="soak ($SOAK_SECONDS s): allocation churn, permissions, channels and relay at $SOAK_RATE packets/s; RSS, descriptors and errors stay flat"

if ! command -v gcc >/dev/null 2>&1 || ! echo '#include <openssl/hmac.h>' | gcc -E -x c - >/dev/null 2>&1; then
    skip "$name" "gcc and libssl-dev are needed to build the load generator"
    exit 1
fi
if ! gcc -O2 -o "$tmp/turnload" "$CONFORMANCE_ROOT/benchmarks/load/turnload.c" -lssl -lcrypto -lm 2>"$tmp/gcc.log"; then
    show "$tmp/gcc.log"
    fail "$name" "the load generator did not build"
    exit 1
fi

# The managed heap is capped for the soak (SOAK_HEAP_LIMIT, 16 MiB: the soak's allocations need a few). Left to its
# default budgets the GC lets promoted garbage (allocations live a few seconds, past two collections) pile up until a
# full collection, which reads as steady RSS growth without any leak; under the cap it collects as it goes and the
# RSS is flat, while a managed leak ends in OutOfMemoryException (the server dies: a failure). A native leak still
# shows as RSS growth.
read -r relay_min relay_max < <(free_port_block 2000)
export DOTNET_GCHeapHardLimit=${SOAK_HEAP_LIMIT:-0x1000000}
if ! start_turn_server soak --relay-ip 127.0.0.1 --allow-loopback-peers --realm soak.test --user soak:soak-pass \
        --min-port "$relay_min" --max-port "$relay_max" --no-dtls; then
    fail "$name" "our server did not start"
    exit 1
fi
pid=$srv_pid
unset DOTNET_GCHeapHardLimit

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }
fds() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
metrics() { /usr/bin/python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode())' "$srv_admin_port"; }

# Where a lost packet went: datagrams the kernel dropped at the server's listening socket for a full receive buffer
# (the last column of /proc/net/udp), read around each cycle and named when the cycle lost packets. (The machine-wide
# RcvbufErrors count says nothing here: the load generator's sink counts arrivals by letting the kernel drop them.)
listener_drops() {
    awk -v port=":$(printf '%04X' "$srv_port")" '$2 ~ port"$" { s += $NF } END { print s + 0 }' /proc/net/udp
}

cycles=0
relayed=0
inflight_cycles=0
problems=""
cycle() {
    local out listener0
    listener0=$(listener_drops)
    out=$(timeout -k 2 60 "$tmp/turnload" flood --server "127.0.0.1:$srv_port" --user soak --pass soak-pass --realm soak.test \
        --allocs "$SOAK_ALLOCS" --payload 200 --rate "$SOAK_RATE" --warmup 1 --seconds "$CYCLE_SECONDS" --deadline 50 2>>"$tmp/turnload.err")
    local rc=$?
    cycles=$((cycles + 1))
    local sent arrived lost window_loss
    sent=$(sed -n 's/^sent_total=//p' <<<"$out")
    arrived=$(sed -n 's/^arrived_total=//p' <<<"$out")
    lost=$(sed -n 's/^lost_total=//p' <<<"$out")
    window_loss=$(sed -n 's/^loss_pct=//p' <<<"$out")
    if [ "$rc" -ne 0 ] || [ -z "$sent" ] || [ -z "$arrived" ] || [ -z "$lost" ]; then
        problems="$problems; cycle $cycles: the load generator failed (status $rc)"
        return
    fi
    relayed=$((relayed + arrived))
    echo "$(( $(date +%s) - start )) $(rss)" >>"$tmp/rss.log"
    # The 5-second window's loss_pct counts what was still in flight at its end as lost (a pause of a few
    # milliseconds at the server is enough); such cycles are counted for the record, not failed.
    [ "${window_loss:-0.000}" = 0.000 ] || inflight_cycles=$((inflight_cycles + 1))
    # Exact: every packet sent in the cycle against every arrival at the sink once the relay went quiet.
    if [ "$lost" != 0 ]; then
        problems="$problems; cycle $cycles: $arrived of $sent packets arrived ($(( $(listener_drops) - listener0 )) dropped at the server's listening socket)"
    fi
}

start=$(date +%s)
end=$((start + SOAK_SECONDS))
warmup=$((SOAK_SECONDS / 5))
[ "$warmup" -lt 30 ] && warmup=30
[ "$warmup" -gt 60 ] && warmup=60
while [ "$(date +%s)" -lt $((start + warmup)) ]; do cycle; done
sleep 1
rss0=$(rss)
fds0=$(fds)
while [ "$(date +%s)" -lt "$end" ]; do cycle; done
sleep 2
rss1=$(rss)
fds1=$(fds)

if [ -z "$rss0" ] || [ -z "$rss1" ]; then
    problems="$problems; the server's RSS could not be read"
else
    if [ $((rss1 * 100)) -ge $((rss0 * 105)) ]; then
        problems="$problems; RSS grew from $rss0 to $rss1 KiB (5 % or more)"
    fi
fi
[ "$fds1" -le "$fds0" ] || problems="$problems; open descriptors went from $fds0 to $fds1"
m=$(metrics)
errors=$(grep '^turn_error_responses_total{' <<<"$m" | grep -v 'code="401"' | grep -v 'code="438"' | awk '$2 > 0' | tr '\n' ' ')
[ -z "$errors" ] || problems="$problems; error responses: $errors"
dropped=$(grep '^turn_dropped_packets_total{' <<<"$m" | awk '$2 > 0' | tr '\n' ' ')
[ -z "$dropped" ] || problems="$problems; dropped: $dropped"
allocations=$(sed -n 's/^turn_allocations_created_total \([0-9]*\).*/\1/p' <<<"$m")
live=$(grep '^turn_allocations{' <<<"$m" | awk '{ s += $2 } END { print s + 0 }')
[ "${live:-0}" = 0 ] || problems="$problems; $live allocations still live after the last cycle"
kill -0 "$srv_pid" 2>/dev/null || problems="$problems; the server died"

echo "# RSS (KiB) after each cycle, by second: $(tr '\n' ' ' <"$tmp/rss.log" | sed 's/\([0-9]*\) \([0-9]*\) /\1:\2 /g')" >&2
summary="$cycles cycles in $(( $(date +%s) - start )) s, ${allocations:-?} allocations, $relayed packets relayed, RSS $rss0 -> $rss1 KiB, descriptors $fds0 -> $fds1"
echo "# cycles whose timed 5-second window ended with packets still in flight: $inflight_cycles" >&2
echo "# soak: $summary" >&2
if [ -z "$problems" ]; then
    pass "$name" "$summary"
else
    show "$tmp/turnload.err"
    fail "$name" "${problems#; } ($summary)"
fi
exit $((failures > 0))
