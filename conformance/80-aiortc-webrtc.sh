#!/bin/bash
# Conformance: aiortc (Debian package python3-aiortc, 1.4 on aioice 0.8; importable only by
# /usr/bin/python3) carries a WebRTC DataChannel through our server over TURN/UDP, TURN/TCP and
# TURN/TLS.
#
# aiortc_relay.py next to this script runs two aiortc RTCPeerConnections in one process, the
# offerer and the answerer.  Both have our server as their only ICE server, each gets its own
# allocation, and both are made relay-only (aiortc 1.4 has no iceTransportPolicy; how, and why
# aioice's own RELAY policy is not enough, is explained at the top of that file), so the only path
# between them is relay to relay through our server.  A text message and 1000 binary bytes go each
# way over the DataChannel.
#
# A case passes when, for the offerer and for the answerer alike:
#   - it gathered exactly one candidate, a relay candidate on 127.0.0.1 inside our
#     --min-port..--max-port block,
#   - its selected (nominated) pair is its own relay candidate with the other side's relay
#     candidate,
#   - every message arrived intact,
#   - and, checked while the connection was up, its relay port is a UDP socket held open by our
#     server process (/proc), so the data went nowhere but through our server.
#
# TLS: our server serves a certificate made for this run by a throwaway test CA
# (lib/testcert.bash; IP 127.0.0.1 among its names).  aioice connects with Python's default TLS
# context, which verifies the chain and the name; SSL_CERT_FILE points it at the test CA, so the
# certificate is trusted honestly and verification stays on.  A last case checks that it is on:
# without SSL_CERT_FILE the same turns: URL must fail with a certificate verification error.
#
# Our own server is started here (lib/turnserver.bash), with credentials and loopback peers.
# Environment: TURN_SERVER_DLL (default: the Release build of this repository).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT="$HERE/aiortc_relay.py"
PY=/usr/bin/python3
LIMIT=90

. "$HERE/lib/common.bash"
. "$HERE/lib/turnserver.bash"
. "$HERE/lib/testcert.bash"

if ! "$PY" -c 'import aiortc' 2>/dev/null; then
    fail "aiortc importable" "/usr/bin/python3 cannot import aiortc (install the python3-aiortc package)"
    exit 1
fi

if ! make_test_certificate "$tmp/cert" >/dev/null; then
    fail "aiortc setup" "openssl could not make the test certificate"
    exit 1
fi
read -r relay_min relay_max < <(free_port_block 200)
if [ -z "${relay_max:-}" ]; then
    fail "aiortc setup" "no block of free relay ports"
    exit 1
fi
if ! start_turn_server main --relay-ip 127.0.0.1 --allow-loopback-peers --realm conformance.test \
        --user alice:alice-secret --min-port "$relay_min" --max-port "$relay_max" \
        --cert "$tmp/cert/server.pem" --pkey "$tmp/cert/server.key"; then
    fail "aiortc setup" "our server did not start"
    exit 1
fi
if [ -z "$srv_tls_port" ]; then
    fail "aiortc setup" "our server logged no TLS listener"
    show "$srv_log"
    exit 1
fi

value() { awk -v key="$1 " 'index($0, key) == 1 { print substr($0, length(key) + 1); exit }' "$tmp/out"; }

# client URL [ENV...]: runs aiortc_relay.py (bounded) with the given environment; sets rc.
client() {
    local url=$1
    shift
    echo "# running: $* aiortc_relay.py --url $url" >&2
    env -u SSL_CERT_FILE -u SSL_CERT_DIR "$@" timeout "$LIMIT" "$PY" "$CLIENT" --url "$url" \
        --username alice --password alice-secret --server-pid "$srv_pid" --timeout 30 \
        >"$tmp/out" 2>"$tmp/err"
    rc=$?
    show "$tmp/out"
    show "$tmp/err"
}

# run_case NAME URL [ENV...]
run_case() {
    local name=$1 url=$2
    shift 2
    client "$url" "$@"
    if [ "$rc" = 124 ]; then
        fail "$name" "the client did not finish within ${LIMIT}s"
        return
    fi
    if [ "$rc" != 0 ]; then
        fail "$name" "exit $rc: $(grep -m1 '^error:' "$tmp/err" || echo 'no error line')"
        return
    fi
    local side other gathered rtype rip rport
    local -A port
    for side in offerer answerer; do
        gathered=$(grep -c "^gathered $side " "$tmp/out")
        read -r rtype rip rport <<<"$(value "gathered $side")"
        if [ "$gathered" != 1 ] || [ "${rtype:-}" != relay ] || [ "${rip:-}" != 127.0.0.1 ] ||
           ! [[ "${rport:-}" =~ ^[0-9]+$ ]] || [ "$rport" -lt "$relay_min" ] || [ "$rport" -gt "$relay_max" ]; then
            fail "$name" "want one relay candidate 127.0.0.1 in $relay_min-$relay_max, the $side gathered: $(grep "^gathered $side " "$tmp/out" | tr '\n' ';')"
            return
        fi
        port[$side]=$rport
    done
    if [ "${port[offerer]}" = "${port[answerer]}" ]; then
        fail "$name" "offerer and answerer have the same relay port ${port[offerer]}, want one allocation each"
        return
    fi
    local sel
    for side in offerer answerer; do
        if [ "$side" = offerer ]; then other=answerer; else other=offerer; fi
        sel=$(value "selected $side")
        if [ "$sel" != "relay 127.0.0.1 ${port[$side]} relay 127.0.0.1 ${port[$other]}" ]; then
            fail "$name" "the $side selected '$sel', want its relay candidate 127.0.0.1 ${port[$side]} with the $other's relay candidate 127.0.0.1 ${port[$other]}"
            return
        fi
        if [ "$(value "received $side")" != "hello-from-$other 1000" ]; then
            fail "$name" "messages lost or altered: $(grep '^received' "$tmp/out" | tr '\n' ';')"
            return
        fi
        if [ "$(value "server-socket $side" | cut -d' ' -f1)" != "${port[$side]}" ]; then
            fail "$name" "the $side's relay port ${port[$side]} not seen held by our server"
            return
        fi
    done
    pass "$name" "relay 127.0.0.1 ${port[offerer]} <-> relay 127.0.0.1 ${port[answerer]} on both sides; both ports held by our server (pid $srv_pid)"
}

run_case "aiortc DataChannel through the relay over TURN/UDP (both peers relay-only)" \
    "turn:127.0.0.1:$srv_port"
run_case "aiortc DataChannel through the relay over TURN/TCP (both peers relay-only)" \
    "turn:127.0.0.1:$srv_port?transport=tcp"
run_case "aiortc DataChannel through the relay over TURN/TLS (both peers relay-only; turns:, test CA trusted through SSL_CERT_FILE)" \
    "turns:127.0.0.1:$srv_tls_port?transport=tcp" SSL_CERT_FILE="$tmp/cert/ca.pem"

name="aiortc turns: without the test CA: certificate verification fails, no relay candidate"
client "turns:127.0.0.1:$srv_tls_port?transport=tcp"
if [ "$rc" = 1 ] && grep -q '^error: .*CERTIFICATE_VERIFY_FAILED' "$tmp/err" && ! grep -q '^gathered' "$tmp/out"; then
    pass "$name" "$(grep -m1 '^error:' "$tmp/err")"
else
    fail "$name" "exit $rc, want 1 with CERTIFICATE_VERIFY_FAILED: $(grep -m1 '^error:' "$tmp/err" || head -n1 "$tmp/out")"
fi

if ! kill -0 "$srv_pid" 2>/dev/null; then
    fail "our server survived the aiortc runs" "it exited; its log:"
    show "$srv_log"
fi
[ "$failures" = 0 ]
