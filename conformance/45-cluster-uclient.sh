#!/bin/bash
# Conformance: a cluster of two of our servers sharing one real redis-server (Debian package redis-server), and
# coturn's turnutils_uclient following the 300 Try Alternate (RFC 8489 §10) of a draining node to the other node.
#
#   redis-server on a free port of 127.0.0.1 (no persistence), stopped by PID on exit;
#   node "drain" and node "room" (lib/turnserver.bash), both with --redis, region "conformance", and the options of
#   40-turnutils-uclient.sh.
#
# uclient allocates first on a "probe" socket, and makes its real allocations where the probe was answered, or at the
# ALTERNATE-SERVER when the probe got 300 (coturn 4.6, src/apps/uclient/startuclient.c; a 300 on a later allocation
# ends it). It deletes its real allocations at the end, not the probe's. So:
#   1. a first uclient run against node "drain" relays there and leaves its probe allocation (600+ s) behind;
#   2. POST /drain: node "drain" makes no new allocation, but does not stop while that allocation lives;
#   3. once node "drain" sees node "room" in the registry (GET /cluster), a uclient run against node "drain" must get
#      300 on its probe, allocate on node "room" and relay every message there: over UDP, and over TCP (a TCP client
#      is sent to the other node's TCP listener).
# Each run is judged as in 40-turnutils-uclient.sh (lib/uclient.bash), with the "error 300 (Try Alternate)" line of
# the probe allowed (UCLIENT_REDIRECTED=1); node "room" must have made the allocations and node "drain" none more.
# The full-node case (--total-quota) is covered with our own client in ClusterRedirectTests.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.bash"
. "$HERE/lib/turnserver.bash"
. "$HERE/lib/uclient.bash"

N=20
REDIS=/usr/bin/redis-server

for tool in "$UCLIENT" "$UCLIENT_PEER" "$REDIS"; do
    if [ ! -x "$tool" ]; then
        fail "cluster with turnutils_uclient" "$tool not found (install the coturn and redis-server packages)"
        exit 1
    fi
done

# --- Redis ---------------------------------------------------------------------------------------
redis_port=$(free_udp_port 1)
"$REDIS" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$tmp/redis.log" 2>&1 &
redis_pid=$!
track_pid "$redis_pid"
for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null && break
    sleep 0.1
done
if ! (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then
    show "$tmp/redis.log"
    fail "cluster setup" "redis-server did not start on 127.0.0.1:$redis_port"
    exit 1
fi

# --- two nodes -----------------------------------------------------------------------------------
read -r relay_min relay_max < <(free_port_block 2000)
if [ -z "${relay_max:-}" ]; then
    fail "cluster setup" "no block of free relay ports"
    exit 1
fi
half=$(((relay_min + relay_max) / 2))
COMMON=(--redis "127.0.0.1:$redis_port" --region conformance --relay-ip 127.0.0.1 --allow-loopback-peers
        --realm conformance.test --user alice:alice-secret --legacy-channel-numbers --no-dtls)
if ! start_turn_server drain "${COMMON[@]}" --node-id drain --min-port "$relay_min" --max-port "$half"; then
    fail "cluster setup" "node drain did not start"
    exit 1
fi
drain_port=$srv_port
drain_admin=$srv_admin_port
drain_log=$srv_log
if ! start_turn_server room "${COMMON[@]}" --node-id room --min-port $((half + 1)) --max-port "$relay_max"; then
    fail "cluster setup" "node room did not start"
    exit 1
fi
room_port=$srv_port
room_admin=$srv_admin_port
room_log=$srv_log
if ! start_uclient_peer; then
    fail "cluster setup" "turnutils_peer did not start"
    exit 1
fi
echo "# redis 127.0.0.1:$redis_port; node drain 127.0.0.1:$drain_port (admin $drain_admin), node room 127.0.0.1:$room_port (admin $room_admin)" >&2

# cluster_json ADMIN_PORT: GET /cluster of a node.
cluster_json() {
    /usr/bin/python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/cluster", timeout=5).read().decode())' "$1"
}

# own_allocations ADMIN_PORT: the allocations a node reports of itself.
own_allocations() {
    cluster_json "$1" | /usr/bin/python3 -c 'import json, sys; print(next(n["allocations"] for n in json.load(sys.stdin)["nodes"] if n["self"]))'
}

# wait_registry ADMIN_PORT NODE ALLOCATIONS: until the node sees NODE in the registry with its UDP and TCP addresses and
# ALLOCATIONS allocations (at most 15 s).
wait_registry() {
    local i
    for i in $(seq 1 75); do
        if cluster_json "$1" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
node, allocations = sys.argv[1], int(sys.argv[2])
seen = [n for n in json.load(sys.stdin)["nodes"] if n["id"] == node and not n["self"]]
sys.exit(0 if seen and seen[0]["allocations"] == allocations and "udp" in seen[0]["addresses"] and "tcp" in seen[0]["addresses"] else 1)' "$2" "$3"; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

LT=(-u alice -w alice-secret)

# 1. A first run on node drain leaves its probe allocation there.
srv_port=$drain_port
uclient_transfer_case "cluster: uclient relays through a node of the cluster (-c)" \
    "$N" 100 0 "$relay_min" "$half" -c -n "$N" "${LT[@]}"
left=$(own_allocations "$drain_admin")
if [ "${left:-0}" -lt 1 ]; then
    fail "cluster: uclient left its probe allocation on node drain" "node drain reports ${left:-nothing}"
    exit 1
fi

# 2. Drain it, and 3. it sends uclient on; uclient allocates on node room and relays there.
/usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/drain", method="POST"), timeout=5)' "$drain_admin"
if ! wait_registry "$drain_admin" room 0; then
    cluster_json "$drain_admin" | show
    fail "cluster: node drain sees node room in the registry" "not within 15 s"
    exit 1
fi
export UCLIENT_REDIRECTED=1
created_on_drain=$(grep -c "Allocation created" "$drain_log")
before=$(grep -c "Allocation created" "$room_log")
uclient_transfer_case "cluster: a draining node sends uclient to the other node (300 ALTERNATE-SERVER), which it follows and relays through, UDP (-c)" \
    "$N" 100 0 $((half + 1)) "$relay_max" -c -n "$N" "${LT[@]}"
redirects=$(grep -c "error 300 (Try Alternate)" "$tmp/uclient.out")
made=$(( $(grep -c "Allocation created" "$room_log") - before ))
if [ "$redirects" -ge 1 ] && [ "$made" -ge 1 ] && [ "$(grep -c "Allocation created" "$drain_log")" = "$created_on_drain" ]; then
    pass "cluster: the UDP run was redirected and allocated on node room, none on node drain" "$redirects 300 answers, $made allocations on node room"
else
    fail "cluster: the UDP run was redirected and allocated on node room, none on node drain" "$redirects 300 answers, $made allocations on node room"
fi

uclient_transfer_case "cluster: a draining node sends a TCP uclient to the other node's TCP listener, which it follows and relays through (-t -c)" \
    "$N" 100 0 $((half + 1)) "$relay_max" -t -c -n "$N" "${LT[@]}"
redirects=$(grep -c "error 300 (Try Alternate)" "$tmp/uclient.out")
made=$(grep -c "Allocation created: Tcp" "$room_log")
if [ "$redirects" -ge 1 ] && [ "$made" -ge 1 ] && [ "$(grep -c "Allocation created" "$drain_log")" = "$created_on_drain" ]; then
    pass "cluster: the TCP run was redirected and allocated over TCP on node room, none on node drain" "$redirects 300 answers, $made TCP allocations on node room"
else
    fail "cluster: the TCP run was redirected and allocated over TCP on node room, none on node drain" "$redirects 300 answers, $made TCP allocations on node room"
fi

exit $((failures > 0))
