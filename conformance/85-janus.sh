#!/bin/bash
# Conformance: a real SFU behind our server.  Janus (Debian package janus, HTTP transport and echo
# test plugin only) answers an aiortc client that can reach it only through our TURN relay; the
# DataChannel text and the audio the plugin sends back must arrive, over TURN/UDP, over TURN/TCP,
# and with Janus itself forced to relay through our server too.
#
# Network: Janus (its ICE library, libnice) never gathers candidates on a loopback interface, and
# cannot send from another interface to 127.0.0.1.  So the whole test runs in a private network
# namespace of its own (this script runs itself again under `unshare --net`): there, lo is up and a
# virtual non-loopback device, ifb0, carries 127.0.0.2/32.  Janus gathers on ifb0 only
# (ice_enforce_list), with no STUN server and no 1:1 NAT mapping, so its one host candidate is
# 127.0.0.2.  Our server listens on 127.0.0.2 (and 127.0.0.1), relays from 127.0.0.2 and accepts
# exactly 127.0.0.2 as a peer address (--allowed-peer-ip).  Nothing leaves the namespace.
#
# janus_echotest.py next to this script is the client: relay-only (no host socket at all; see its
# top comment), our server as its only ICE server with TURN REST credentials, the Janus HTTP API
# for signalling.  It prints what it gathered, Janus's answer candidates, the nominated pair, the
# DataChannel reply and how many (and how loud) audio frames came back.
#
# Cases (each prints three or four results):
#   TURN/UDP   client -> our server over UDP, relay -> Janus's host candidate
#   TURN/TCP   client -> our server over TCP (turn:...?transport=tcp), relay -> Janus's host candidate
#   forced     client over UDP, and Janus configured with our server as its TURN server (long-term
#              user, turn_server/turn_port/turn_type/turn_user/turn_pwd, allow_force_relay = true in
#              the nat section) while the client's offer carries "force_relay": true in its jsep
#              object: Janus's ICE agent may then use relay candidates only, so the media crosses our
#              server twice, relay to relay.
# Checks of every case:
#   - DataChannel: the echo plugin's reply to a text with a random token contains the token.
#   - audio: at least half of the expected 20 ms frames come back on Janus's track, and they are
#     not silence (RMS of the decoded 440 Hz tone well above zero).
#   - relayed: every candidate the client offered is a relay candidate on 127.0.0.2 inside our
#     --min-port..--max-port block; the nominated pair starts at one of them; our server's audit log
#     shows that relay address allocated for the client's username over the case's transport; and
#     our /metrics relayed-packet counters of that transport grew by at least 50 packets each way
#     (100 when forced: then every packet crosses our server twice).
#   - forced only: every candidate in Janus's answer is a relay candidate in our block, allocated by
#     our server for Janus's long-term user (audit log), and the client's nominated pair ends at one
#     of them.  Without "force_relay" Janus would offer its host candidate.
#
# Environment: TURN_SERVER_DLL (default: the Release build of this repository).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
SELF="$HERE/$(basename "$0")"
CLIENT="$HERE/janus_echotest.py"
PY=/usr/bin/python3
# Where the janus package keeps its modules (the multiarch library folder).
JANUS_LIB=$(dpkg -L janus 2>/dev/null | sed -n 's#/plugins/libjanus_echotest\.so$##p' | head -n 1)
JANUS_LIB=${JANUS_LIB:-/usr/lib/$(uname -m)-linux-gnu/janus}
LIMIT=30        # seconds for one client run (each of its steps: 10)
OUTER_LIMIT=100 # seconds for everything inside the namespace

. "$HERE/lib/common.bash"
. "$HERE/lib/turnserver.bash"

# --- outside: prerequisites, then the same script inside a new network namespace ----------------
if [ "${JANUS_CONFORMANCE_NETNS:-}" != 1 ]; then
    if ! command -v janus >/dev/null 2>&1; then
        skip "janus installed" "no janus binary (install the janus package)"
        exit 1
    fi
    for so in plugins/libjanus_echotest.so transports/libjanus_http.so; do
        if [ ! -e "$JANUS_LIB/$so" ]; then
            skip "janus installed" "no $JANUS_LIB/$so"
            exit 1
        fi
    done
    if ! "$PY" -c 'import aiortc, numpy' 2>/dev/null; then
        skip "aiortc importable" "/usr/bin/python3 cannot import aiortc (install the python3-aiortc package)"
        exit 1
    fi
    if ! command -v unshare >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
        skip "janus network namespace" "unshare (util-linux) and ip (iproute2) are needed"
        exit 1
    fi
    if ! unshare --net true 2>"$tmp/unshare.err"; then
        skip "janus network namespace" "unshare --net failed (root or CAP_SYS_ADMIN needed): $(head -n1 "$tmp/unshare.err")"
        exit 1
    fi
    echo "# running inside a new network namespace: unshare --net $SELF" >&2
    # The inner run records "PID START-TIME" of everything it starts here, so that even if it has to
    # be killed, what it left running can be stopped by PID (and only if it is still that process).
    : >"$tmp/inner.pids"
    JANUS_CONFORMANCE_NETNS=1 JANUS_CONFORMANCE_PIDS="$tmp/inner.pids" unshare --net -- bash "$SELF" &
    inner=$!   # unshare runs bash in its own place: this is the inner script's PID
    track_pid "$inner"
    for _ in $(seq 1 $((OUTER_LIMIT * 10))); do
        kill -0 "$inner" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$inner" 2>/dev/null; then
        fail "janus conformance finished in time" "the run inside the namespace took over ${OUTER_LIMIT}s and was stopped"
        kill "$inner" 2>/dev/null   # its EXIT trap stops what it started
        for _ in $(seq 1 200); do
            kill -0 "$inner" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$inner" 2>/dev/null && kill -9 "$inner" 2>/dev/null
    fi
    wait "$inner"
    rc=$?
    while read -r pid start; do
        [ -n "${pid:-}" ] || continue
        if [ "$(awk '{ print $22 }' "/proc/$pid/stat" 2>/dev/null)" = "$start" ]; then
            echo "# stopping $pid, left running by the inner run" >&2
            kill -9 "$pid" 2>/dev/null
        fi
    done <"$tmp/inner.pids"
    exit "$rc"
fi

# --- inside the namespace ------------------------------------------------------------------------
# A TERM from the outer run ends this one through its EXIT trap, which stops what it started (the
# long steps run in the background with `wait`, so the trap runs at once).
trap 'exit 143' TERM INT
# Every process started here is also recorded for the outer run (see there).
track_pid() {
    started_pids+=("$1")
    echo "$1 $(awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null)" >>"${JANUS_CONFORMANCE_PIDS:-/dev/null}"
}

if ! ip link set lo up 2>"$tmp/ip.err"; then
    skip "janus network namespace" "cannot bring lo up: $(head -n1 "$tmp/ip.err")"
    exit 1
fi
if ! ip link add ifb0 type ifb 2>"$tmp/ip.err"; then
    skip "janus network namespace" "cannot create the ifb device ifb0 (ifb kernel module): $(head -n1 "$tmp/ip.err")"
    exit 1
fi
if ! ip addr add 127.0.0.2/32 dev ifb0 2>"$tmp/ip.err" || ! ip link set ifb0 up 2>>"$tmp/ip.err"; then
    skip "janus network namespace" "cannot put 127.0.0.2 on ifb0: $(head -n1 "$tmp/ip.err")"
    exit 1
fi
echo "# namespace: lo up, ifb0 up with 127.0.0.2/32" >&2

read -r relay_min relay_max < <(free_port_block 200)
if [ -z "${relay_max:-}" ]; then
    fail "janus setup" "no block of free relay ports"
    exit 1
fi
secret=$(random_secret)
janus_turn_password=$(random_secret)
if ! start_turn_server janus --listening-ip 127.0.0.2 --relay-ip 127.0.0.2 --allowed-peer-ip 127.0.0.2 \
        --realm conformance.test --user "janus:$janus_turn_password" \
        --use-auth-secret --static-auth-secret "$secret" --min-port "$relay_min" --max-port "$relay_max"; then
    fail "janus setup" "our server did not start"
    exit 1
fi
if [ -z "$srv_admin_port" ]; then
    fail "janus setup" "our server logged no admin listener"
    show "$srv_log"
    exit 1
fi

janus_pid=""
janus_port=""
janus_log=""

# start_janus plain|forced: Janus with the HTTP transport and the echo test plugin only; when
# forced, our server is its TURN server and applications may force it to relay.
start_janus() {
    local name=$1 dir="$tmp/janus-$1" nat_turn=""
    mkdir -p "$dir/plugins" "$dir/transports" "$dir/events" "$dir/loggers"
    # Only these two modules are in the folders Janus loads from.
    ln -s "$JANUS_LIB/plugins/libjanus_echotest.so" "$dir/plugins/"
    ln -s "$JANUS_LIB/transports/libjanus_http.so" "$dir/transports/"
    janus_port=$(free_udp_port 1)
    janus_log="$dir/janus.log"
    if [ "$name" = forced ]; then
        nat_turn="
    turn_server = \"127.0.0.2\"
    turn_port = $srv_port
    turn_type = \"udp\"
    turn_user = \"janus\"
    turn_pwd = \"$janus_turn_password\"
    allow_force_relay = true"
    fi
    cat >"$dir/janus.jcfg" <<EOF
general: {
    configs_folder = "$dir"
    plugins_folder = "$dir/plugins"
    transports_folder = "$dir/transports"
    events_folder = "$dir/events"
    loggers_folder = "$dir/loggers"
    debug_level = 4
    debug_timestamps = true
    session_timeout = 60
}
certificates: {
}
media: {
    ipv6 = false
}
nat: {
    nice_debug = false
    full_trickle = false
    ice_lite = false
    ice_tcp = false
    ignore_mdns = true
    ice_enforce_list = "ifb0"$nat_turn
}
plugins: {
}
transports: {
}
loggers: {
}
events: {
    broadcast = false
}
EOF
    cat >"$dir/janus.transport.http.jcfg" <<EOF
general: {
    json = "compact"
    base_path = "/janus"
    http = true
    port = $janus_port
    ip = "127.0.0.1"
    https = false
}
admin: {
    admin_http = false
    admin_https = false
}
EOF
    printf 'general: {\n}\n' >"$dir/janus.plugin.echotest.jcfg"
    echo "# starting: janus -C $dir/janus.jcfg -F $dir -o ($name; HTTP API on 127.0.0.1:$janus_port)" >&2
    janus -C "$dir/janus.jcfg" -F "$dir" -o >"$janus_log" 2>&1 &
    janus_pid=$!
    track_pid "$janus_pid"
    # Ready when GET /janus/info answers (at most 20 s).
    if ! "$PY" - "$janus_port" "$janus_pid" <<'PY'
import json, os, sys, time, urllib.request
port, pid = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/janus/info", timeout=2) as r:
            info = json.load(r)
            if info.get("janus") == "server_info":
                print(f"# Janus {info.get('version_string')}: plugins {sorted(info.get('plugins', {}))}, "
                      f"transports {sorted(info.get('transports', {}))}, turn-server {info.get('turn-server')}, "
                      f"allow-force-relay {info.get('allow-force-relay', False)}", file=sys.stderr)
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
sys.exit(1)
PY
    then
        echo "# Janus ($name) did not start; its log:" >&2
        show "$janus_log"
        stop_pid "$janus_pid"
        return 1
    fi
    return 0
}

# metric_sum TRANSPORT DIRECTION: turn_relayed_packets_total{transport=..., direction=...} now.
metric_sum() {
    "$PY" - "$srv_admin_port" "$1" "$2" <<'PY'
import re, sys, urllib.request
port, transport, direction = sys.argv[1:4]
with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
    text = r.read().decode()
total = 0
for line in text.splitlines():
    if line.startswith("turn_relayed_packets_total{"):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if labels.get("transport") == transport and labels.get("direction") == direction:
            total += int(float(line.rsplit(" ", 1)[1]))
print(total)
PY
}

# value KEY: the rest of the first client stdout line starting with KEY.
value() { awk -v key="$1 " 'index($0, key) == 1 { print substr($0, length(key) + 1); exit }' "$tmp/out"; }

# in_block PORT: inside our relay port block?
in_block() { [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge "$relay_min" ] && [ "$1" -le "$relay_max" ]; }

# allocated_for USER-SUFFIX TRANSPORT PORT: our audit log has "Allocation created: TRANSPORT client
# ... user ...USER-SUFFIX relay 127.0.0.2:PORT".
allocated_for() {
    grep -F "Allocation created: $2 client " "$srv_log" | grep -F " relay 127.0.0.2:$3 " | grep -qE " user ([0-9]+:)?$1 relay "
}

show_logs() {
    echo "# our server's log:" >&2
    show "$srv_log"
    echo "# Janus's log:" >&2
    show "$janus_log"
}

# run_case LABEL TURN-URL TRANSPORT(udp|tcp) [forced]
run_case() {
    local label=$1 url=$2 transport=$3 mode=${4:-} user creds username password before_peer before_client
    local Transport failures_before=$failures
    Transport="$(tr '[:lower:]' '[:upper:]' <<<"${transport:0:1}")${transport:1}"
    user="echo-$transport${mode:+-$mode}"
    read -r username password <<<"$(rest_credentials "$secret" "$user" 600)"
    before_peer=$(metric_sum "$transport" to_peer)
    before_client=$(metric_sum "$transport" to_client)
    local extra=()
    [ "$mode" = forced ] && extra=(--force-relay)
    echo "# running: janus_echotest.py --janus http://127.0.0.1:$janus_port/janus --turn-url $url ${extra[*]}" >&2
    timeout -k 5 "$LIMIT" "$PY" "$CLIENT" --janus "http://127.0.0.1:$janus_port/janus" --turn-url "$url" \
        --username "$username" --password "$password" --audio-seconds 3 --timeout 10 "${extra[@]}" \
        >"$tmp/out" 2>"$tmp/err" &
    local client_pid=$!
    track_pid "$client_pid"
    wait "$client_pid"
    local rc=$?
    show "$tmp/out"
    show "$tmp/err"
    local after_peer after_client
    after_peer=$(metric_sum "$transport" to_peer)
    after_client=$(metric_sum "$transport" to_client)
    echo "# relayed $transport packets during the case: to peers $((after_peer - before_peer)), to clients $((after_client - before_client))" >&2

    local why=""
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        why="the client did not finish within ${LIMIT}s"
    elif [ "$rc" != 0 ]; then
        why="client exit $rc: $(grep -m1 '^error:' "$tmp/err" || echo 'no error line')"
    fi

    # DataChannel
    local name="Janus echotest over TURN/${transport^^}${mode:+ ($mode: Janus relays too)}"
    local dc token reply
    dc=$(value datachannel)
    token=${dc%% *}
    reply=${dc#* }
    if [ -n "$dc" ] && [[ "$token" == conformance-* ]] && [[ "$reply" == *"$token"* ]]; then
        pass "$name: DataChannel text echoed" "sent $token, got: $reply"
    else
        fail "$name: DataChannel text echoed" "${why:-no reply containing the token}${dc:+ (got: $dc)}"
    fi

    # audio
    local frames rms
    read -r frames rms <<<"$(value audio)"
    if [[ "${frames:-}" =~ ^[0-9]+$ ]] && [ "$frames" -ge 75 ] && [[ "${rms:-}" =~ ^[0-9]+$ ]] && [ "$rms" -ge 500 ]; then
        pass "$name: audio track echoed" "$frames frames of 20 ms in 3 s back from Janus, RMS $rms"
    else
        fail "$name: audio track echoed" "${why:-want >= 75 frames with RMS >= 500}: frames ${frames:-none}, RMS ${rms:-none}"
    fi

    # relayed through our server
    local problems=() kind ip port n=0
    while read -r kind ip port; do
        [ -z "${kind:-}" ] && continue
        n=$((n + 1))
        if [ "$kind" != relay ] || [ "$ip" != 127.0.0.2 ] || ! in_block "$port"; then
            problems+=("offered $kind $ip $port, want relay 127.0.0.2 in $relay_min-$relay_max")
        fi
    done < <(awk '$1 == "gathered" { print $2, $3, $4 }' "$tmp/out")
    [ "$n" = 0 ] && problems+=("the client offered no candidate")
    local lt lip lport rt rip rport
    read -r lt lip lport rt rip rport <<<"$(value selected)"
    if [ -z "${lt:-}" ]; then
        problems+=("no nominated pair")
    else
        if [ "$lt" != relay ] || [ "$lip" != 127.0.0.2 ] || ! in_block "$lport"; then
            problems+=("the nominated pair starts at $lt $lip $lport, not at a relay candidate of ours")
        elif ! allocated_for "$user" "$Transport" "$lport"; then
            problems+=("no '$Transport' allocation of relay 127.0.0.2:$lport for user $user in our audit log")
        fi
    fi
    # 3 s of audio are 150 packets each way on one relay leg; forced, the media crosses our server twice.
    local want=50
    [ "$mode" = forced ] && want=100
    if [ $((after_peer - before_peer)) -lt "$want" ] || [ $((after_client - before_client)) -lt "$want" ]; then
        problems+=("our $transport relayed-packet counters grew by $((after_peer - before_peer)) to peers and $((after_client - before_client)) to clients, want >= $want each")
    fi
    if [ ${#problems[@]} = 0 ]; then
        pass "$name: the client's media went through our relay" \
            "nominated $lt $lip $lport -> $rt $rip $rport; ${Transport} allocation for $user in the audit log; +$((after_peer - before_peer))/+$((after_client - before_client)) packets"
    else
        fail "$name: the client's media went through our relay" "${why:+$why; }$(IFS=';'; echo "${problems[*]}")"
    fi

    if [ "$mode" = forced ]; then
        problems=()
        n=0
        local relay_ports=()
        while read -r kind ip port; do
            [ -z "${kind:-}" ] && continue
            n=$((n + 1))
            if [ "$kind" != relay ] || [ "$ip" != 127.0.0.2 ] || ! in_block "$port"; then
                problems+=("Janus answered with $kind $ip $port, want relay 127.0.0.2 in $relay_min-$relay_max")
            elif ! allocated_for janus Udp "$port"; then
                problems+=("Janus's relay 127.0.0.2:$port is not a UDP allocation of user janus in our audit log")
            else
                relay_ports+=("$port")
            fi
        done < <(awk '$1 == "janus-candidate" { print $2, $3, $4 }' "$tmp/out")
        [ "$n" = 0 ] && problems+=("no candidate in Janus's answer")
        if [ -n "${rt:-}" ] && { [ "$rt" != relay ] || [ "$rip" != 127.0.0.2 ] || [[ " ${relay_ports[*]} " != *" $rport "* ]]; }; then
            problems+=("the nominated pair ends at $rt $rip $rport, not at Janus's relay candidate")
        fi
        [ -z "${rt:-}" ] && problems+=("no nominated pair")
        if [ ${#problems[@]} = 0 ]; then
            pass "$name: Janus's media went through our relay too" \
                "Janus answered with relay 127.0.0.2:${relay_ports[*]} (user janus in the audit log); the pair is relay to relay"
        else
            fail "$name: Janus's media went through our relay too" "${why:+$why; }$(IFS=';'; echo "${problems[*]}")"
        fi
    fi

    [ "$failures" -gt "$failures_before" ] && show_logs
    return 0
}

# Cases 1 and 2: Janus without any TURN server of its own.
if start_janus plain; then
    run_case udp "turn:127.0.0.2:$srv_port" udp
    run_case tcp "turn:127.0.0.2:$srv_port?transport=tcp" tcp
    stop_pid "$janus_pid"
else
    fail "janus setup" "Janus did not start (no TURN server of its own)"
fi

# Case 3: Janus with our server as its TURN server, forced to relay by the client's offer.
if start_janus forced; then
    run_case forced "turn:127.0.0.2:$srv_port" udp forced
    stop_pid "$janus_pid"
else
    fail "janus setup" "Janus did not start (with our server as its TURN server)"
fi

if ! kill -0 "$srv_pid" 2>/dev/null; then
    fail "our server survived the Janus runs" "it exited; its log:"
    show "$srv_log"
fi
[ "$failures" = 0 ]
