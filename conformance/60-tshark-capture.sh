#!/bin/bash
# Conformance: Wireshark's STUN/TURN dissector (tshark, Debian package tshark) reads what our
# server puts on the wire during turnutils_uclient runs (see 40-turnutils-uclient.sh and
# lib/uclient.bash for uclient itself).
#
# A private server (lib/turnserver.bash; with --legacy-channel-numbers, as uclient picks channel
# numbers in RFC 5766's 0x4000-0x7FFF) and a turnutils_peer run on 127.0.0.1; tshark captures
#     tshark -n -i lo -f "udp port SERVER or udp portrange MIN-MAX" -w FILE -a duration:LIMIT
# (started first; uclient runs only once tshark has printed "Capturing on"), during two uclient
# runs:
#   * -s (no -c): Allocate with EVEN-PORT / RESERVATION-TOKEN, 401 challenges, Refresh,
#     CreatePermission, Send indications and Data indications;
#   * -c: ChannelBind and ChannelData both ways.
# tshark is then stopped by PID and the file is read with "Decode As" STUN on the server port
# (-d udp.port==SERVER,stun: every datagram to or from it must be STUN or ChannelData):
#   * each message kind below must be there, counted with -Y on stun.type (0x0003 Allocate
#     request ... 0x0017 Data indication) or stun.channel (ChannelData), per direction;
#   * a success Allocate response with RESERVATION-TOKEN (stun.att.token) must be there;
#   * every response from the server must be matched to its request by tshark (stun.response-to);
#   * every FINGERPRINT the server sent must be verified by tshark (stun.att.crc32.status == 1);
#   * nothing may be malformed or flagged: _ws.malformed, _ws.expert.severity >= warning,
#     stun.att.crc32.bad, stun.long_attribute, stun.wrong_msglen, stun.short_packet, and
#     stun.unknown_attribute in messages from the server, all counted, all must be 0.
# Running tshark as root prints a warning on stderr; that is fine.
#
# Environment: TURN_SERVER_DLL (default: the Release build of this repository).
set -u

. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/turnserver.bash"
. "$(dirname "$0")/lib/uclient.bash"

TSHARK=$(command -v tshark || true)
CAPTURE_LIMIT=300   # seconds: tshark stops by itself after this, whatever happens here
N=10

if [ -z "$TSHARK" ]; then
    fail "tshark present" "tshark not found (install the tshark package)"
    exit 1
fi
for tool in "$UCLIENT" "$UCLIENT_PEER"; do
    if [ ! -x "$tool" ]; then
        fail "turnutils_uclient present" "$tool not found (install the coturn package)"
        exit 1
    fi
done

read -r relay_min relay_max < <(free_port_block 2000)
if [ -z "${relay_max:-}" ]; then
    fail "tshark capture setup" "no block of free relay ports"
    exit 1
fi
if ! start_turn_server main --relay-ip 127.0.0.1 --allow-loopback-peers --realm conformance.test \
        --user alice:alice-secret --min-port "$relay_min" --max-port "$relay_max" --legacy-channel-numbers; then
    fail "tshark capture setup" "our server did not start"
    exit 1
fi
if ! start_uclient_peer; then
    fail "tshark capture setup" "turnutils_peer did not start"
    exit 1
fi

cap="$tmp/capture.pcapng"
filter="udp port $srv_port or udp portrange $relay_min-$relay_max"
# A 64 MiB capture buffer (-B) keeps the kernel from dropping frames when the machine is busy.
echo "# capturing: $TSHARK -n -i lo -B 64 -f \"$filter\" -w $cap -a duration:$CAPTURE_LIMIT" >&2
"$TSHARK" -n -i lo -B 64 -f "$filter" -w "$cap" -a "duration:$CAPTURE_LIMIT" >"$tmp/tshark.out" 2>"$tmp/tshark.err" &
tshark_pid=$!
track_pid "$tshark_pid"
for _ in $(seq 1 300); do
    grep -q "Capturing on" "$tmp/tshark.err" && break
    kill -0 "$tshark_pid" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q "Capturing on" "$tmp/tshark.err"; then
    show "$tmp/tshark.err"
    fail "tshark captures on lo" "tshark did not start capturing (see its messages above)"
    exit 1
fi

LT=(-u alice -w alice-secret)
uclient_transfer_case "uclient run captured by tshark: Send/Data indications, RTP+RTCP with EVEN-PORT (-s)" \
    $((2 * N)) 100 1 "$relay_min" "$relay_max" -s -n "$N" "${LT[@]}"
uclient_transfer_case "uclient run captured by tshark: ChannelData (-c)" \
    "$N" 100 0 "$relay_min" "$relay_max" -c -n "$N" "${LT[@]}"

sleep 0.5
stop_pid "$tshark_pid"
show "$tmp/tshark.err"
if [ ! -s "$cap" ]; then
    fail "tshark capture written" "no capture file"
    exit 1
fi

# count FILTER: frames of the capture matching the display filter (-1 if tshark failed).
count() {
    local n
    if n=$("$TSHARK" -n -r "$cap" -d "udp.port==$srv_port,stun" -Y "$1" -T fields -e frame.number 2>"$tmp/count.err" | wc -l) &&
       ! grep -qiE 'error|invalid|isn.t a valid|were unexpected' "$tmp/count.err"; then
        echo "$n"
    else
        echo "# tshark -Y '$1': $(grep -v 'Running as user' "$tmp/count.err" | head -n 2)" >&2
        echo -1
    fi
}

total=$(count "frame")
stun_frames=$(count "stun")
echo "# capture: $total frames, $stun_frames decoded as STUN/TURN" >&2

from_server="udp.srcport == $srv_port"
to_server="udp.dstport == $srv_port"
kinds=(
    "$to_server && stun.type == 0x0003|Allocate request"
    "$from_server && stun.type == 0x0113|Allocate error response (401)"
    "$from_server && stun.type == 0x0103|Allocate success response"
    "$from_server && stun.type == 0x0103 && stun.att.token|Allocate success with RESERVATION-TOKEN"
    "$to_server && stun.type == 0x0004|Refresh request"
    "$from_server && stun.type == 0x0104|Refresh success response"
    "$to_server && stun.type == 0x0008|CreatePermission request"
    "$from_server && stun.type == 0x0108|CreatePermission success response"
    "$to_server && stun.type == 0x0009|ChannelBind request"
    "$from_server && stun.type == 0x0109|ChannelBind success response"
    "$to_server && stun.type == 0x0016|Send indication"
    "$from_server && stun.type == 0x0017|Data indication"
    "$to_server && stun.channel|ChannelData to the server"
    "$from_server && stun.channel|ChannelData from the server"
)
missing=""
seen=""
for entry in "${kinds[@]}"; do
    f=${entry%%|*}
    label=${entry#*|}
    n=$(count "$f")
    echo "# $label: $n  ($f)" >&2
    if [ "$n" -le 0 ]; then
        missing="$missing; $label ($f): $n"
    else
        seen="$seen, $label $n"
    fi
done
if [ "$stun_frames" -le 0 ] || [ -n "$missing" ]; then
    fail "tshark decodes every kind of STUN/TURN message of the runs" "missing or not decoded${missing:-: no STUN at all}"
else
    pass "tshark decodes every kind of STUN/TURN message of the runs" "$stun_frames STUN/TURN frames of $total${seen}"
fi

# Responses tshark could not pair with a request (transaction id or method wrong). tshark says "Capturing on" a
# moment before frames really flow, so the first request of a run can be missed while its response is seen: only
# responses after the first captured request are judged.
first_request=$("$TSHARK" -n -r "$cap" -d "udp.port==$srv_port,stun" -Y "$to_server && stun.type.class == 0" \
    -T fields -e frame.number 2>/dev/null | head -n 1)
first_request=${first_request:-0}
responses=$(count "$from_server && stun.type.class >= 2 && frame.number > $first_request")
unmatched=$(count "$from_server && stun.type.class >= 2 && !stun.response-to && frame.number > $first_request")
if [ "$responses" -le 0 ] || [ "$unmatched" != 0 ]; then
    # Show the unmatched responses, and what tshark said about dropped frames, to tell a server fault from a lost frame.
    "$TSHARK" -n -r "$cap" -d "udp.port==$srv_port,stun" -Y "$from_server && stun.type.class >= 2 && !stun.response-to && frame.number > $first_request" \
        -T fields -e frame.number -e frame.time_relative -e stun.type -e stun.id 2>/dev/null | sed 's/^/# unmatched: /' >&2
    sed 's/^/# tshark: /' "$tmp/tshark.err" >&2
    fail "tshark pairs every response of the server with its request" "$unmatched of $responses responses unmatched"
else
    pass "tshark pairs every response of the server with its request" "$responses responses"
fi

fingerprints=$(count "$from_server && stun.att.crc32")
good=$(count "$from_server && stun.att.crc32.status == 1")
if [ "$fingerprints" -le 0 ] || [ "$good" != "$fingerprints" ]; then
    fail "tshark verifies every FINGERPRINT the server sent" "$good of $fingerprints FINGERPRINT attributes verified good"
else
    pass "tshark verifies every FINGERPRINT the server sent" "$good FINGERPRINT attributes, all good"
fi

problems=""
for f in "_ws.malformed" "_ws.expert.severity >= 6291456" "stun.att.crc32.bad" "stun.long_attribute" \
         "stun.wrong_msglen" "stun.short_packet" "$from_server && stun.unknown_attribute"; do
    n=$(count "$f")
    echo "# $f: $n" >&2
    [ "$n" = 0 ] || problems="$problems; $f: $n"
done
if [ -n "$problems" ]; then
    "$TSHARK" -n -r "$cap" -d "udp.port==$srv_port,stun" \
        -Y "_ws.malformed || _ws.expert.severity >= 6291456 || stun.att.crc32.bad || stun.long_attribute || stun.wrong_msglen || stun.short_packet" \
        -V 2>/dev/null | head -n 200 | sed 's/^/# /' >&2
    fail "tshark finds no malformed or flagged packet" "${problems#; }"
else
    pass "tshark finds no malformed or flagged packet" "$total frames checked"
fi

if ! kill -0 "$srv_pid" 2>/dev/null; then
    fail "our server survived the captured runs" "it exited; its log:"
    show "$srv_log"
fi

[ "$failures" = 0 ]
