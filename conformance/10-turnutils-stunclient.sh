#!/bin/bash
# Conformance: coturn's turnutils_stunclient (RFC 5389 Binding over UDP).
#
# turnutils_stunclient sends a 20-byte Binding request (magic cookie, no
# attributes), reads ONE datagram and prints, on success, twice on stdout:
#     0: : IPv4. UDP reflexive addr: 127.0.0.1:54321
#     0: : IPv6. UDP reflexive addr: ::1:54321
# On failure it prints one of:
#     The response is an error 400 (Bad Request)
#     Cannot read the response            (success without XOR-MAPPED-ADDRESS)
#     The response is not a STUN message / Wrong type of response / ...
# It exits 0 in all these cases and blocks forever if nothing comes back, so
# the verdict comes from its output and every run is bounded by timeout.
# It does not check the transaction id or FINGERPRINT of the response.  If
# the response carries OTHER-ADDRESS it goes on with RFC 5780 tests, so the
# server must not send OTHER-ADDRESS.
#
# The client has no option to pin its source port (-L takes an address
# only).  When strace works, the script reads the port from the client's
# getsockname() call under strace (required).
#
# Environment: TURN_HOST (default 127.0.0.1), TURN_PORT (required),
#              TURN_HOST6 (default ::1).
set -u

CLIENT=/usr/bin/turnutils_stunclient
HOST="${TURN_HOST:-127.0.0.1}"
HOST6="${TURN_HOST6:-::1}"
PORT="${TURN_PORT:-}"
LIMIT=10

. "$(dirname "$0")/lib/common.bash"

if [ -z "$PORT" ]; then
    fail "turnutils_stunclient environment" "TURN_PORT is not set"
    exit 1
fi
if [ ! -x "$CLIENT" ]; then
    fail "turnutils_stunclient present" "$CLIENT not found (install the coturn package)"
    exit 1
fi

# Can strace observe the client's local port here?
use_strace=0
if command -v strace >/dev/null 2>&1 &&
   strace -f -qq -o /dev/null -e trace=none /bin/true >/dev/null 2>&1; then
    use_strace=1
else
    fail "strace usable" "strace is needed to learn the client's local port (install the strace package)"
    exit 1
fi

# run_case NAME SERVER_ADDRESS
run_case() {
    local name=$1 server=$2
    local out="$tmp/out" trace="$tmp/strace" rc
    : >"$trace"
    echo "# running: $CLIENT -p $PORT $server" >&2
    if [ "$use_strace" = 1 ]; then
        timeout $((LIMIT + 5)) strace -f -qq -o "$trace" -e trace=getsockname \
            timeout "$LIMIT" "$CLIENT" -p "$PORT" "$server" >"$out" 2>&1
        rc=$?
    else
        timeout "$LIMIT" "$CLIENT" -p "$PORT" "$server" >"$out" 2>&1
        rc=$?
    fi
    show "$out"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        fail "$name" "no answer within ${LIMIT}s (client timed out)"
        return
    fi

    local line
    line=$(grep -m1 'UDP reflexive addr: ' "$out")
    if [ -z "$line" ]; then
        local why
        why=$(grep -v '^[[:space:]]*$' "$out" | head -n1)
        fail "$name" "no reflexive address printed (exit $rc): ${why:-no output}"
        return
    fi
    local addr=${line##*UDP reflexive addr: }
    addr=${addr%%[[:space:]]*}
    local ip=${addr%:*} port=${addr##*:}

    if [ "$(canon_ip "$ip")" != "$(canon_ip "$server")" ]; then
        fail "$name" "reported address $ip, expected $server (full: $addr)"
        return
    fi
    if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
        fail "$name" "reported port '$port' is not a valid port number"
        return
    fi

    local localport=""
    if [ "$use_strace" = 1 ]; then
        # e.g. getsockname(3, {sa_family=AF_INET, sin_port=htons(57706), ...
        localport=$(grep 'getsockname(' "$trace" | grep -v ' = -1' |
                    sed -n 's/.*port=htons(\([0-9]*\)).*/\1/p' | tail -n1)
    fi
    if [ -n "$localport" ]; then
        if [ "$port" != "$localport" ]; then
            fail "$name" "reported port $port, but the client's local port was $localport"
            return
        fi
        pass "$name" "mapped $ip port $port = client's local port"
    else
        fail "$name" "mapped $ip port $port, but the client's local port was not observed"
    fi
}

run_case "turnutils_stunclient UDP Binding over IPv4 ($HOST)" "$HOST"

if have_local_addr "$HOST6"; then
    run_case "turnutils_stunclient UDP Binding over IPv6 ($HOST6)" "$HOST6"
else
    skip "turnutils_stunclient UDP Binding over IPv6 ($HOST6)" "address $HOST6 not usable here"
fi

[ "$failures" = 0 ]
