#!/bin/bash
# Conformance: Chromium's WebRTC stack (Debian package chromium) relays a DataChannel through our
# server over TURN/UDP, TURN/TCP and TURN/TLS.
#
# How: our server is started here with credentials, loopback peers allowed, relay sockets on
# 127.0.0.1 in a port block of its own, and a TLS certificate made for this run by a throwaway
# test CA (lib/testcert.bash; IP 127.0.0.1, ::1 and DNS localhost).  One headless Chromium is
# started here (fresh --user-data-dir in the script's temporary folder, no sandbox since it runs as
# root, nothing that reaches the internet: background networking, component updates, sync and QUIC
# off) with --ignore-certificate-errors-spki-list set to the SPKI hash of that server certificate,
# the only certificate it accepts without a trusted root.  chromium/webrtc_relay.mjs (playwright-core
# from npm, installed by test.sh with npm ci; it only talks to this Chromium over the DevTools
# protocol and never downloads a browser) opens one page per case with two RTCPeerConnections,
# iceTransportPolicy 'relay' and our server as their only ICE server.
#
# A case passes when:
#   - both peers gathered relay candidates and a DataChannel opened between them,
#   - a text message and 1000 binary bytes arrived intact in each direction,
#   - getStats() on both sides shows a selected pair whose local and remote candidates are both of
#     type relay, the local one with the relayProtocol of the case (udp, tcp or tls),
#   - on the server side, every relay port of the selected pairs is inside our --min-port..--max-port
#     block and is a UDP socket on 127.0.0.1 held open by our server process (checked through /proc
#     while the connection is up), so the data went nowhere but through our server;
#   - and the server is still running afterwards.
# What Chromium sends on the way (seen in a packet capture of these cases): Binding requests to the
# TURN port without FINGERPRINT, then CreatePermission and Send indications (answered with Data
# indications) while ICE checks run, and ChannelBind + ChannelData only once a pair was picked; so
# both the indication path and the channel path carry data here.
#
# turns: with the IP 127.0.0.1 works as it is, no host name needed.  Chromium does verify the TURN
# server's certificate: with a wrong SPKI hash in the flag the TLS case fails (ICE candidate error
# 701, no relay candidate); the right hash lets it accept a certificate whose CA it does not trust.
# Environment: TURN_SERVER_DLL (default: the Release build of this repository).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
DRIVER="$HERE/chromium/webrtc_relay.mjs"
CHROMIUM=/usr/bin/chromium
LIMIT=60

. "$HERE/lib/common.bash"
. "$HERE/lib/turnserver.bash"
. "$HERE/lib/testcert.bash"

if [ ! -x "$CHROMIUM" ]; then
    fail "Chromium installed" "$CHROMIUM is missing (install the chromium package)"
    exit 1
fi
if ! command -v node >/dev/null 2>&1 || [ ! -d "$HERE/chromium/node_modules/playwright-core" ]; then
    fail "playwright-core installed" "node or conformance/chromium/node_modules is missing (run npm ci in conformance/chromium)"
    exit 1
fi
echo "# $("$CHROMIUM" --version 2>/dev/null), node $(node --version)" >&2

if ! spki=$(make_test_certificate "$tmp/cert"); then
    fail "Chromium setup" "openssl could not make the test certificate"
    exit 1
fi
read -r relay_min relay_max < <(free_port_block 200)
if [ -z "${relay_max:-}" ]; then
    fail "Chromium setup" "no block of free relay ports"
    exit 1
fi
if ! start_turn_server main --relay-ip 127.0.0.1 --allow-loopback-peers --realm conformance.test \
        --user alice:alice-secret --min-port "$relay_min" --max-port "$relay_max" \
        --cert "$tmp/cert/server.pem" --pkey "$tmp/cert/server.key"; then
    fail "Chromium setup" "our server did not start"
    exit 1
fi
if [ -z "$srv_tls_port" ]; then
    fail "Chromium setup" "our server logged no TLS listener"
    show "$srv_log"
    exit 1
fi

profile="$tmp/chromium-profile"
mkdir -p "$profile"
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-default-apps --disable-extensions --no-default-browser-check \
    --user-data-dir="$profile" --remote-debugging-address=127.0.0.1 --remote-debugging-port=0 \
    --ignore-certificate-errors-spki-list="$spki" about:blank >"$tmp/chromium.log" 2>&1 &
chromium_pid=$!
track_pid "$chromium_pid"
for _ in $(seq 1 300); do
    [ -s "$profile/DevToolsActivePort" ] && break
    kill -0 "$chromium_pid" 2>/dev/null || break
    sleep 0.1
done
if [ ! -s "$profile/DevToolsActivePort" ]; then
    fail "Chromium setup" "Chromium did not open its DevTools port within 30 s"
    show "$tmp/chromium.log"
    exit 1
fi
{ read -r cdp_port; read -r cdp_path; } <"$profile/DevToolsActivePort"
cdp="ws://127.0.0.1:$cdp_port$cdp_path"

# run_case NAME URL RELAY-PROTOCOL
run_case() {
    local name=$1 url=$2 proto=$3 rc
    echo "# running: webrtc_relay.mjs --url $url" >&2
    timeout "$LIMIT" node "$DRIVER" --cdp "$cdp" --url "$url" --username alice --password alice-secret \
        --server-pid "$srv_pid" --min-port "$relay_min" --max-port "$relay_max" \
        --limit-seconds $((LIMIT - 15)) >"$tmp/out" 2>"$tmp/err"
    rc=$?
    show "$tmp/out"
    show "$tmp/err"
    if [ "$rc" = 124 ]; then
        fail "$name" "the driver did not finish within ${LIMIT}s"
        return
    fi
    if [ "$rc" != 0 ]; then
        fail "$name" "exit $rc: $(grep -m1 '^error:' "$tmp/err" || echo 'no error line')"
        return
    fi
    local side sel want
    for side in offerer answerer; do
        sel=$(awk -v s="$side" '$1 == "selected" && $2 == s { $1 = ""; $2 = ""; print substr($0, 3) }' "$tmp/out")
        # relay <protocol> 127.0.0.1 <port> relay 127.0.0.1 <port>
        if ! [[ "$sel" =~ ^relay\ $proto\ 127\.0\.0\.1\ [0-9]+\ relay\ 127\.0\.0\.1\ [0-9]+$ ]]; then
            fail "$name" "$side selected '$sel', want a relay/$proto local and a relay remote candidate on 127.0.0.1"
            return
        fi
        want="hello-from-$([ "$side" = offerer ] && echo answerer || echo offerer) 1000"
        if ! grep -qx "received $side $want" "$tmp/out"; then
            fail "$name" "$side did not receive '$want': $(grep "^received $side" "$tmp/out" || echo nothing)"
            return
        fi
    done
    local held
    held=$(grep -c '^server-socket ' "$tmp/out")
    if [ "$held" -lt 2 ]; then
        fail "$name" "want 2 relay ports held by our server, saw $held"
        return
    fi
    if ! kill -0 "$srv_pid" 2>/dev/null; then
        fail "$name" "our server exited; its log:"
        show "$srv_log"
        return
    fi
    pass "$name" "$(grep '^selected offerer' "$tmp/out"); relay ports held by our server: $(awk '/^server-socket/ { printf "%s ", $2 }' "$tmp/out")"
}

run_case "Chromium WebRTC DataChannel relayed over TURN/UDP (relay-only, both sides relay)" \
    "turn:127.0.0.1:$srv_port" udp
run_case "Chromium WebRTC DataChannel relayed over TURN/TCP (relay-only, both sides relay)" \
    "turn:127.0.0.1:$srv_port?transport=tcp" tcp
run_case "Chromium WebRTC DataChannel relayed over TURN/TLS (turns:, relay-only, both sides relay)" \
    "turns:127.0.0.1:$srv_tls_port?transport=tcp" tls

if ! kill -0 "$chromium_pid" 2>/dev/null; then
    fail "Chromium survived the runs" "it exited; its log:"
    show "$tmp/chromium.log"
fi
[ "$failures" = 0 ]
