# coturn's turnutils_uclient (Debian package coturn, 4.6.x) run against a private server of
# lib/turnserver.bash and a turnutils_peer echo peer (sourced, never run on its own).
#
# What uclient does (coturn 4.6.1, src/apps/uclient):
#   * per client it opens a "probe" socket and allocates on it,
#     then one allocation for RTP and, without -c, one more for RTCP; the peer is
#     "-e IP -r PORT" for RTP and PORT+1 for RTCP (turnutils_peer listens on both).
#     "-m N" counts sessions (allocations that carry data): with -c, N clients of one
#     session each; without -c, N/2 clients (N rounded up to even) of two sessions each.
#   * without -c every other allocation sends EVEN-PORT with the R bit (and gets a
#     RESERVATION-TOKEN back), the next one sends that RESERVATION-TOKEN and must get the
#     port above it.  With -v it prints, per allocation, in this order:
#         IPv4. Received relay addr: 127.0.0.1:40006
#         clnet_allocate: rtv=9093246481596735866      (0 = no RESERVATION-TOKEN)
#   * default: ChannelBind (twice for the RTCP peer, twice for the RTP peer, once on the RTCP
#     allocation) then ChannelData; with -s: CreatePermission, then Send indications, and
#     the peer's echo comes back as Data indications.
#   * -W SECRET: TURN REST API credentials; it builds the username "<now+86400>:<-u name>"
#     and the password base64(HMAC-SHA1(SECRET, username)) itself.
#   * it sends "-n" messages of "-l" bytes per allocation, every 20 ms, echoed by the peer,
#     and ends with (the lines parsed here):
#         start_mclient: tot_send_msgs=40, tot_recv_msgs=40
#         start_mclient: tot_send_bytes ~ 4000, tot_recv_bytes ~ 4000
#         Total lost packets 0 (0.000000%), total send dropped 0 (0.000000%)
#     It exits 0 even when every packet was lost, so the verdict comes from these totals.
#   * any refused request ends it at once with exit status 255 after a line such as
#         channel bind: error 400 (Bad Request)
#         create permission error 403 (Forbidden)
#     and a wrong password makes it retry the 401 challenge 32 times, then print
#         ERROR: Cannot complete Allocation
#
# RFC 5766 CHANNEL NUMBERS.  uclient picks every channel number at random in 0x4000-0x7FFF, the
# range of RFC 5766.  RFC 8656 §12 allows only 0x4000-0x4FFF and our server answers 400 (Bad
# Request) for anything else, so a script with ChannelData cases starts its server with
# --legacy-channel-numbers, which also accepts 0x5000-0x7FFF in ChannelBind and ChannelData.

UCLIENT=/usr/bin/turnutils_uclient
UCLIENT_PEER=/usr/bin/turnutils_peer
UCLIENT_LIMIT=60   # seconds for one uclient run

peer_port=""
peer_pid=""

# Every uclient run gets a local address of its own in 127.1.0.0/16 (-L; all of 127/8 is
# loopback).  uclient never deletes its allocations, so a new socket could land on the 5-tuple
# of an earlier run's allocation, still live on the server, and get 437 (Allocation Mismatch):
# correct, but not what a case is about.
uclient_run_count=0
uclient_next_local_addr() {
    uclient_run_count=$((uclient_run_count + 1))
    uclient_local_addr="127.1.$((uclient_run_count / 250)).$((uclient_run_count % 250 + 1))"
}

# start_uclient_peer: turnutils_peer on 127.0.0.1, ports peer_port and peer_port+1.
start_uclient_peer() {
    peer_port=$(free_udp_port 2)
    [ -n "$peer_port" ] || { echo "# no two free ports for turnutils_peer" >&2; return 1; }
    "$UCLIENT_PEER" -L 127.0.0.1 -p "$peer_port" >"$tmp/peer.log" 2>&1 &
    peer_pid=$!
    track_pid "$peer_pid"
    if ! wait_udp_bound "$peer_port" || ! kill -0 "$peer_pid" 2>/dev/null; then
        echo "# turnutils_peer did not start on 127.0.0.1:$peer_port" >&2
        show "$tmp/peer.log"
        return 1
    fi
    wait_udp_bound $((peer_port + 1)) || echo "# warning: turnutils_peer is not on port $((peer_port + 1))" >&2
    return 0
}

# uclient_judge OUT EXPECTED_MESSAGES MESSAGE_LENGTH EVEN_PORT RELAY_MIN RELAY_MAX
# Prints "ok DETAIL" or "fail REASON".
uclient_judge() {
    /usr/bin/python3 - "$@" <<'PY'
import re, sys
path, expected, length, even_port, low, high = sys.argv[1], *map(int, sys.argv[2:])
text = open(path, errors="replace").read()
def last(pattern):
    found = re.findall(pattern, text, re.M)
    return found[-1] if found else None
problems = []
# Over TLS, uclient also tries its contexts for older protocol versions (ctx 1, 2); the server refuses anything below TLS 1.2 by design
# ("alert protocol version"), and uclient then connects with TLS 1.2/1.3. Over DTLS it probes DTLS 1.0 first (ctx 0), which
# the server refuses the same way (DTLS 1.2 only), before it connects with DTLS 1.2. Those probes are not failures: a
# "cannot connect" line whose next line is that alert is one.
lines = text.splitlines()
def refused_probe(i):
    return (re.search(r"tls_connect: cannot connect: rc=-1, ctx=[12]\b", lines[i]) is not None
            or ("tls_connect: cannot connect: rc=-1" in lines[i] and i + 1 < len(lines) and "alert protocol version" in lines[i + 1]))
# Within one run, uclient closes some sockets without deleting their allocations, so the kernel may hand a later socket
# the same local port: the server rightly answers 437 on that live 5-tuple (RFC 8656 §7.2 item 2), and uclient moves to
# a new port ("trying allocate again 437"). A 437 followed by that retry is not a failure; the totals below still are.
def port_reuse_437(i):
    return "error 437" in lines[i] and i + 1 < len(lines) and "trying allocate again 437" in lines[i + 1]
# With UCLIENT_REDIRECTED=1 (a cluster script), the probe allocation may be sent on with 300 Try Alternate, which
# uclient follows: its real allocations go to the ALTERNATE-SERVER. That line is not a failure there.
import os
def redirect_300(i):
    return os.environ.get("UCLIENT_REDIRECTED") == "1" and re.search(r"error 300 \(Try Alternate\)", lines[i]) is not None
errors = [l.split(": : ", 1)[-1] for i, l in enumerate(lines)
          if re.search(r"error|ERROR|Cannot|cannot|!!!", l) and "alert protocol version" not in l and not refused_probe(i)
          and not port_reuse_437(i) and not redirect_300(i)]
if errors:
    problems.append("client reported: " + "; ".join(dict.fromkeys(errors)))
msgs = last(r"start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+)\s*$")
size = last(r"start_mclient: tot_send_bytes ~ (\d+), tot_recv_bytes ~ (\d+)\s*$")
lost = last(r"Total lost packets (\d+) \([^)]*\), total send dropped (\d+)")
if not msgs or not size or not lost:
    problems.append("no totals printed (no 'tot_send_msgs=', 'tot_send_bytes ~' or 'Total lost packets' line)")
else:
    sent, received = map(int, msgs)
    sent_bytes, received_bytes = map(int, size)
    lost_packets, dropped = map(int, lost)
    if sent != expected:
        problems.append(f"tot_send_msgs={sent}, want {expected}")
    if received != sent:
        problems.append(f"tot_recv_msgs={received} of {sent} sent")
    if sent_bytes != expected * length or received_bytes != sent_bytes:
        problems.append(f"tot_send_bytes ~ {sent_bytes}, tot_recv_bytes ~ {received_bytes}, want {expected * length} both")
    if lost_packets or dropped:
        problems.append(f"Total lost packets {lost_packets}, total send dropped {dropped}")
allocs = re.findall(r"Received relay addr: ([0-9.]+):(\d+)\s*\n(?:.*\n)*?.*clnet_allocate: rtv=(\d+)", text)
if not allocs:
    problems.append("no 'Received relay addr' / 'rtv=' lines (was -v given?)")
for ip, port, _ in allocs:
    if ip != "127.0.0.1" or not low <= int(port) <= high:
        problems.append(f"relay address {ip}:{port} is not 127.0.0.1:{low}-{high}")
pairs = 0
if even_port:
    for i, (_, port, token) in enumerate(allocs):
        port = int(port)
        if token == "0":
            continue
        if port % 2:
            problems.append(f"allocation with RESERVATION-TOKEN got odd port {port} (EVEN-PORT with R)")
        if i + 1 < len(allocs):
            nport, ntoken = int(allocs[i + 1][1]), allocs[i + 1][2]
            if nport != port + 1:
                problems.append(f"allocation with the RESERVATION-TOKEN of port {port} got port {nport}, want {port + 1}")
            else:
                pairs += 1
    if pairs == 0:
        problems.append("no EVEN-PORT/RESERVATION-TOKEN pair seen")
if problems:
    print("fail " + "; ".join(problems))
else:
    detail = f"{msgs[0]}/{msgs[0]} messages, {size[1]} bytes echoed, lost 0, {len(allocs)} allocations"
    if even_port:
        detail += f", {pairs} EVEN-PORT/RESERVATION-TOKEN pairs (even port, then port+1)"
    print("ok " + detail)
PY
}

# uclient_transfer_case NAME EXPECTED_MESSAGES MESSAGE_LENGTH EVEN_PORT RELAY_MIN RELAY_MAX UCLIENT_ARGS...
# Runs uclient once against the server on srv_port with the peer on peer_port and passes when
# all messages came back (see uclient_judge).  Without -s in the arguments it is a ChannelData
# run, which must also have sent ChannelBind requests (its -v "channel bind sent" lines).
uclient_transfer_case() {
    local name=$1 expected=$2 length=$3 even_port=$4 low=$5 high=$6
    shift 6
    local out="$tmp/uclient.out" channel=1 tcp_relay=0 a rc verdict binds
    for a in "$@"; do
        [ "$a" = -s ] && channel=0
        [ "$a" = -T ] && channel=0 && tcp_relay=1
    done
    uclient_next_local_addr
    echo "# running: $UCLIENT -v $* -L $uclient_local_addr -p $srv_port -e 127.0.0.1 -r $peer_port 127.0.0.1" >&2
    timeout "$UCLIENT_LIMIT" "$UCLIENT" -v "$@" -L "$uclient_local_addr" -p "$srv_port" -e 127.0.0.1 -r "$peer_port" \
        127.0.0.1 >"$out" 2>&1
    rc=$?
    show "$out"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        fail "$name" "uclient did not finish within ${UCLIENT_LIMIT}s"
        return
    fi
    verdict=$(uclient_judge "$out" "$expected" "$length" "$even_port" "$low" "$high")
    binds=$(grep -c 'channel bind sent' "$out")
    if [ "$channel" = 1 ] && [ "${verdict%% *}" = ok ] && [ "$binds" = 0 ]; then
        verdict="fail no ChannelBind request sent (no 'channel bind sent' line)"
    fi
    # RFC 6062 (-T): every data connection was bound with ConnectionBind (a refused one prints an error line, which
    # the judge already counts).
    local connection_binds
    connection_binds=$(grep -c 'connection bind sent' "$out")
    if [ "$tcp_relay" = 1 ] && [ "${verdict%% *}" = ok ] && [ "$connection_binds" = 0 ]; then
        verdict="fail no ConnectionBind request sent (no 'connection bind sent' line)"
    fi
    if [ "$rc" != 0 ] && [ "${verdict%% *}" = ok ]; then
        verdict="fail uclient exited with $rc"
    fi
    if [ "${verdict%% *}" = ok ]; then
        local detail=${verdict#ok }
        [ "$channel" = 1 ] && detail="$detail, $binds ChannelBind requests"
        [ "$tcp_relay" = 1 ] && detail="$detail, $connection_binds data connections bound"
        pass "$name" "$detail"
    else
        fail "$name" "${verdict#fail }"
    fi
}

# uclient_refusal_case NAME WANTED_LINE_REGEX UCLIENT_ARGS...
# Passes only when uclient failed: it printed a line matching WANTED_LINE_REGEX, received no
# echo (no tot_recv_msgs above 0) and did not exit 0.
uclient_refusal_case() {
    local name=$1 wanted=$2
    shift 2
    local out="$tmp/uclient.out" rc got
    uclient_next_local_addr
    echo "# running: $UCLIENT -v $* -L $uclient_local_addr -p $srv_port -e 127.0.0.1 -r $peer_port 127.0.0.1" >&2
    timeout "$UCLIENT_LIMIT" "$UCLIENT" -v "$@" -L "$uclient_local_addr" -p "$srv_port" -e 127.0.0.1 -r "$peer_port" \
        127.0.0.1 >"$out" 2>&1
    rc=$?
    show "$out"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        fail "$name" "uclient did not finish within ${UCLIENT_LIMIT}s (no answer?)"
        return
    fi
    got=$(grep -oE 'tot_recv_msgs=[0-9]+' "$out" | grep -oE '[0-9]+' | sort -n | tail -n 1)
    if [ -n "$got" ] && [ "$got" -gt 0 ]; then
        fail "$name" "uclient got $got echoed messages through the relay; it must have been refused"
    elif [ "$rc" = 0 ]; then
        fail "$name" "uclient exited 0 (want a failure)"
    elif ! grep -qE "$wanted" "$out"; then
        fail "$name" "uclient failed (exit $rc) but without a line matching '$wanted': $(grep -E 'error|ERROR|Cannot' "$out" | head -n 1)"
    else
        pass "$name" "exit $rc: $(grep -E "$wanted" "$out" | head -n 1 | sed 's/^[0-9]*: : //')"
    fi
}
