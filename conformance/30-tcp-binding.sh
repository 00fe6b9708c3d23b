#!/bin/bash
# Conformance: STUN Binding over TCP (RFC 8489 framing: messages are sent
# back-to-back on the stream, each delimited by the length in its header),
# using our own standard-library client tcp_binding.py next to this script.
#
# tcp_binding.py sends Binding requests with a random 96-bit transaction id
# and a FINGERPRINT, and requires each answer to be a Binding success
# response (0x0101) with the same transaction id, a valid FINGERPRINT (last
# attribute) and an XOR-MAPPED-ADDRESS.  It prints
#     local <ip> <port>      (the local end of the TCP connection)
#     mapped <ip> <port>     (one line per response, in request order)
# and this script checks mapped == local.
#
# Environment: TURN_HOST (default 127.0.0.1), TURN_PORT (required),
#              TURN_HOST6 (default ::1).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT="$HERE/tcp_binding.py"
PY=/usr/bin/python3
HOST="${TURN_HOST:-127.0.0.1}"
HOST6="${TURN_HOST6:-::1}"
PORT="${TURN_PORT:-}"
LIMIT=10

. "$(dirname "$0")/lib/common.bash"

if [ -z "$PORT" ]; then
    fail "TCP Binding environment" "TURN_PORT is not set"
    exit 1
fi
if [ ! -r "$CLIENT" ]; then
    fail "TCP Binding client present" "$CLIENT not found"
    exit 1
fi

# run_case NAME EXPECTED_RESPONSES SERVER [CLIENT OPTIONS...]
run_case() {
    local name=$1 want=$2 server=$3
    shift 3
    local out="$tmp/out" err="$tmp/err" rc
    echo "# running: tcp_binding.py $server $PORT $*" >&2
    timeout "$LIMIT" "$PY" "$CLIENT" "$server" "$PORT" "$@" >"$out" 2>"$err"
    rc=$?
    show "$out"
    show "$err"
    if [ "$rc" = 124 ]; then
        fail "$name" "client did not finish within ${LIMIT}s"
        return
    fi

    local lip lport
    read -r _ lip lport < <(grep -m1 '^local ' "$out")
    if [ -z "${lip:-}" ]; then
        fail "$name" "$(grep -m1 '^error:' "$err" || echo "client printed no local address (exit $rc)")"
        return
    fi

    local mapped count
    mapped=$(grep '^mapped ' "$out")
    count=$(grep -c '^mapped ' "$out")
    if [ "$rc" != 0 ] || [ "$count" != "$want" ]; then
        local why
        why=$(grep -m1 '^error:' "$err")
        fail "$name" "${why:-got $count of $want responses (exit $rc)}"
        return
    fi

    local ip port
    while read -r _ ip port; do
        if [ "$ip" != "$lip" ] || [ "$port" != "$lport" ]; then
            fail "$name" "XOR-MAPPED-ADDRESS $ip port $port, but the connection's local address is $lip port $lport"
            return
        fi
    done <<<"$mapped"
    pass "$name" "$count response(s), mapped $lip port $lport = local address"
}

run_case "TCP Binding over IPv4 ($HOST), XOR-MAPPED-ADDRESS = local address, FINGERPRINT valid" \
    1 "$HOST"

if have_local_addr "$HOST6"; then
    run_case "TCP Binding over IPv6 ($HOST6), XOR-MAPPED-ADDRESS = local address, FINGERPRINT valid" \
        1 "$HOST6"
else
    skip "TCP Binding over IPv6 ($HOST6), XOR-MAPPED-ADDRESS = local address, FINGERPRINT valid" \
        "address $HOST6 not usable here"
fi

run_case "TCP Binding request split over several writes with pauses" \
    1 "$HOST" --split

run_case "TCP two Binding requests in one write, both answered" \
    2 "$HOST" --pipeline 2

[ "$failures" = 0 ]
