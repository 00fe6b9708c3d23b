#!/bin/bash
# Conformance: RFC 5780 NAT behaviour discovery with the clients people use for it, against a private server of ours
# that listens on two loopback addresses (127.0.0.1 and 127.0.0.2; all of 127/8 is loopback), so it has the second
# IP and second port RFC 5780 §4 asks for:
#   * coturn's turnutils_natdiscovery (RFC 5780, magic cookie): mapping (-m) and filtering (-f) behaviour, hairpin
#     (-H) and port preservation (-P). It prints, per answer, "Response origin: : IP:PORT" (RESPONSE-ORIGIN) and
#     "Other addr: : IP:PORT" (OTHER-ADDRESS), then its verdicts. On loopback there is no NAT: mapping and filtering
#     are both endpoint independent, and every answer must come from the address RESPONSE-ORIGIN names.
#   * the classic RFC 3489 client /usr/bin/stun (stun-client): tests I, II (change IP), III (change port) and I(2)
#     (to CHANGED-ADDRESS's IP). With -v it prints per answer "SourceAddress = IP:PORT", "ChangedAddress = IP:PORT"
#     and "Received message of type 257  id=N" (257: success), and "Primary: Open" at the end.
# The shared server of test.sh has one address per family, so there CHANGE-REQUEST gets 420 (20-stun-client).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib/common.bash"
. "$HERE/lib/turnserver.bash"

NATDISCOVERY=/usr/bin/turnutils_natdiscovery
STUN=/usr/bin/stun
LIMIT=30

if ! start_turn_server nat --listening-ip 127.0.0.2 --relay-ip 127.0.0.1 --no-tls --no-dtls; then
    fail "RFC 5780 setup" "our server did not start"
    exit 1
fi
line=$(grep -m1 'RFC 5780 NAT behaviour discovery on UDP' "$srv_log")
alt_port=$(sed -n 's/.*ports [0-9]* and \([0-9]*\).*/\1/p' <<<"$line")
if [ -z "$alt_port" ]; then
    show "$srv_log"
    fail "RFC 5780 setup" "the server did not log RFC 5780 on 127.0.0.1 and 127.0.0.2"
    exit 1
fi
echo "# server 127.0.0.1 and 127.0.0.2, ports $srv_port and $alt_port" >&2

# --- turnutils_natdiscovery -----------------------------------------------------------------------
name="turnutils_natdiscovery (RFC 5780): RESPONSE-ORIGIN and OTHER-ADDRESS, endpoint-independent mapping and filtering, change IP and port answered from the other IP and port"
if [ -x "$NATDISCOVERY" ]; then
    out="$tmp/natdiscovery.out"
    timeout "$LIMIT" "$NATDISCOVERY" -m -f -H -P -p "$srv_port" 127.0.0.1 >"$out" 2>&1
    rc=$?
    show "$out"
    problems=""
    grep -q "Response origin: : 127.0.0.1:$srv_port" "$out" || problems="$problems; no answer from 127.0.0.1:$srv_port"
    grep -q "Response origin: : 127.0.0.2:$alt_port" "$out" || problems="$problems; no change-IP-and-port answer from 127.0.0.2:$alt_port"
    grep -q "Other addr: : 127.0.0.2:$alt_port" "$out" || problems="$problems; no OTHER-ADDRESS 127.0.0.2:$alt_port"
    grep -q "NAT with Endpoint Independent Mapping!" "$out" || problems="$problems; mapping not found endpoint independent"
    grep -q "NAT with Endpoint Independent Filtering!" "$out" || problems="$problems; filtering not found endpoint independent"
    [ "$rc" = 124 ] && problems="$problems; did not finish within ${LIMIT}s"
    if [ -z "$problems" ]; then
        pass "$name" "$(grep -c 'RFC 5780 response' "$out") RFC 5780 responses"
    else
        fail "$name" "${problems#; }"
    fi
else
    fail "$name" "$NATDISCOVERY not found (install the coturn package)"
fi

# --- classic stun (RFC 3489) ----------------------------------------------------------------------
name="stun (RFC 3489) tests I, II, III, I(2): answers from the changed address, SOURCE-ADDRESS and CHANGED-ADDRESS, verdict Open"
if [ -x "$STUN" ]; then
    out="$tmp/stun.out"
    local_port=$(free_udp_port 2)
    timeout "$LIMIT" "$STUN" "127.0.0.1:$srv_port" -v -p "$local_port" >"$out" 2>&1
    show "$out"
    # One block per answer: SourceAddress, ChangedAddress, then "type 257 id=N".
    verdict=$(/usr/bin/python3 - "$out" "$srv_port" "$alt_port" <<'PY'
import re, sys
text = open(sys.argv[1], errors="replace").read()
port, alt = sys.argv[2], sys.argv[3]
answers = {}
for block in text.split("Received stun message")[1:]:
    m = re.search(r"Received message of type (\d+)\s+id=(\d+)", block)
    if not m:
        continue
    source = re.search(r"SourceAddress = (\S+)", block)
    changed = re.search(r"ChangedAddress = (\S+)", block)
    answers[int(m.group(2))] = (int(m.group(1)), source.group(1) if source else None, changed.group(1) if changed else None)
want = {1: f"127.0.0.1:{port}", 2: f"127.0.0.2:{port}", 3: f"127.0.0.1:{alt}", 10: f"127.0.0.2:{port}"}
problems = []
for test, source in want.items():
    got = answers.get(test)
    if got is None:
        problems.append(f"no answer to test id {test}")
    elif got[0] != 257 or got[1] != source:
        problems.append(f"test id {test}: type {got[0]} from {got[1]}, want 257 from {source}")
if answers.get(1) and answers[1][2] != f"127.0.0.2:{alt}":
    problems.append(f"CHANGED-ADDRESS {answers[1][2]}, want 127.0.0.2:{alt}")
if "Primary: Open" not in text:
    problems.append("no 'Primary: Open' verdict")
print("ok" if not problems else "fail " + "; ".join(problems))
PY
)
    if [ "$verdict" = ok ]; then
        pass "$name"
    else
        fail "$name" "${verdict#fail }"
    fi
else
    fail "$name" "$STUN not found (install the stun-client package)"
fi

[ "$failures" = 0 ]
