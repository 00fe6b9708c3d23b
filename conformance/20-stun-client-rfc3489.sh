#!/bin/bash
# Conformance: the classic RFC 3489 client /usr/bin/stun (Debian package
# stun-client, "STUN client version 0.97", Vovida stund code), UDP/IPv4 only.
#
# What `stun HOST:PORT -v -p P` does (seen on the wire and in its source):
#   * opens UDP sockets on P and P+1 (P pinned here, so the expected mapped
#     address is TURN_HOST:P);
#   * every request is a 28-byte Binding request (0x0001) with a 16-byte
#     transaction id and NO magic cookie; the first id byte is the test number;
#     EVERY request carries CHANGE-REQUEST (0x0003, length 4):
#        test I   (id 1)  from P,   CHANGE-REQUEST flags 0   (plain Binding)
#        test II  (id 2)  from P+1, flags 0x4 (change IP)
#        test III (id 3)  from P+1, flags 0x2 (change port)
#        test I(2)(id 10) from P, flags 0, sent to CHANGED-ADDRESS's IP only
#                          if the test I response had CHANGED-ADDRESS
#        hairpin  (id 11) from P, flags 0, sent to the MAPPED-ADDRESS of
#                          test I (on loopback: to itself)
#     unanswered tests are resent every 150 ms, 7 rounds, ~1 s in total;
#   * with -v it logs on stderr, for every datagram it receives:
#        Received stun message: 32 bytes
#        MappedAddress = 127.0.0.1:40000         (if MAPPED-ADDRESS present)
#        ErrorCode = 4 20 Unknown Attribute      (if ERROR-CODE present)
#        Received message of type 257  id=1      (257 = 0x0101, 273 = 0x0111)
#     then "test I = 1", "test II = 1", ... and on stdout "Primary: Open".
#   * It matches answers to tests ONLY by the first transaction-id byte and
#     never looks at the message type: an error answer to test II counts as
#     "test II = 1" and the verdict is "Open" either way.  Its exit status is
#     a NAT-type bit mask (1 = open + port preserved), not success/failure.
# So the verdict here comes from the per-message log lines.
#
# Environment: TURN_HOST (default 127.0.0.1), TURN_PORT (required).
set -u

CLIENT=/usr/bin/stun
HOST="${TURN_HOST:-127.0.0.1}"
PORT="${TURN_PORT:-}"
LIMIT=10

. "$(dirname "$0")/lib/common.bash"

CASE_I="stun (RFC 3489) test I: plain Binding gets MAPPED-ADDRESS = client source address"
CASE_II="stun (RFC 3489) test II: CHANGE-REQUEST change-IP gets an error response, no mapped address"
CASE_III="stun (RFC 3489) test III: CHANGE-REQUEST change-port gets an error response, no mapped address"
CASE_420="stun (RFC 3489) change-request errors carry ERROR-CODE 420"

if [ -z "$PORT" ]; then
    fail "stun (RFC 3489) environment" "TURN_PORT is not set"
    exit 1
fi
if [ ! -x "$CLIENT" ]; then
    fail "stun (RFC 3489) client present" "$CLIENT not found (install the stun-client package)"
    exit 1
fi

# A UDP port P such that P and P+1 are both free (the client binds both on
# INADDR_ANY).
srcport=$(/usr/bin/python3 - "$PORT" <<'EOF'
import random, socket, sys
server_port = int(sys.argv[1])
for _ in range(500):
    p = random.randrange(20000, 60000)
    if server_port in (p, p + 1):
        continue
    socks = []
    try:
        for q in (p, p + 1):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind(("0.0.0.0", q))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(p)
    sys.exit(0)
sys.exit(1)
EOF
)
if [ -z "$srcport" ]; then
    fail "$CASE_I" "could not find two free consecutive UDP ports"
    exit 1
fi

echo "# running: $CLIENT $HOST:$PORT -v -p $srcport" >&2
timeout "$LIMIT" "$CLIENT" "$HOST:$PORT" -v -p "$srcport" >"$tmp/out" 2>"$tmp/log"
rc=$?
show "$tmp/out"
show "$tmp/log"
echo "# stun exit status $rc (a NAT-type bit mask, not a verdict)" >&2
if [ "$rc" = 124 ]; then
    fail "$CASE_I" "client did not finish within ${LIMIT}s"
    exit 1
fi

# One record per received datagram:  id|type|mapped|error code|parse problems
awk '
    /^Received stun message:/ { mapped = ""; err = ""; prob = ""; next }
    /^MappedAddress = /       { mapped = $3; next }
    /^ErrorCode = /           { err = $3 * 100 + $4; next }
    /^(problem|claims|Unknown attribute|hdrLen|Bad |Message header|ipv6|bad address|head on|String is|MessageIntegrity must)/ {
        prob = prob (prob == "" ? "" : "; ") $0; next }
    /^Received message of type/ {
        id = $NF; sub(/^id=/, "", id)
        printf "%s|%s|%s|%s|%s\n", id, $5, mapped, err, prob
        mapped = ""; err = ""; prob = ""
    }
' "$tmp/log" >"$tmp/records"

records_for() { awk -F '|' -v id="$1" '$1 == id' "$tmp/records"; }

# ---- test I ---------------------------------------------------------------
first=$(records_for 1 | head -n1)
if [ -z "$first" ]; then
    fail "$CASE_I" "no answer to test I (Binding without cookie, CHANGE-REQUEST flags 0)"
else
    IFS='|' read -r _ type mapped err prob <<<"$first"
    [ -n "$prob" ] && echo "# warning: the client could not parse all of the test I answer: $prob" >&2
    if [ "$type" != 257 ]; then
        fail "$CASE_I" "answer has message type $type (want 257 = 0x0101)${err:+, error code $err}"
    elif [ -z "$mapped" ]; then
        fail "$CASE_I" "success answer without a MAPPED-ADDRESS the client could read${prob:+ ($prob)}"
    elif [ "$mapped" != "$HOST:$srcport" ]; then
        fail "$CASE_I" "client printed MappedAddress = $mapped, expected $HOST:$srcport"
    else
        pass "$CASE_I" "MappedAddress = $mapped (source port pinned with -p $srcport)"
    fi
fi

# ---- tests II and III -----------------------------------------------------
check_change_test() { # NAME ID FLAGS
    local name=$1 id=$2 flags=$3 recs bad
    recs=$(records_for "$id")
    if [ -z "$recs" ]; then
        fail "$name" "no answer at all to test id $id (CHANGE-REQUEST flags $flags)"
        return
    fi
    bad=$(awk -F '|' '$2 != 273 || $3 != "" { print "type " $2 (($3 != "") ? " with MappedAddress " $3 : ""); exit }' <<<"$recs")
    if [ -n "$bad" ]; then
        fail "$name" "got $bad (want only error responses, type 273 = 0x0111)"
        return
    fi
    pass "$name" "$(wc -l <<<"$recs") error answer(s), error code(s): $(cut -d"|" -f4 <<<"$recs" | sort -u | tr '\n' ' ')"
}
check_change_test "$CASE_II" 2 0x4
check_change_test "$CASE_III" 3 0x2

# ---- error code -----------------------------------------------------------
errrecs=$(awk -F '|' '($1 == 2 || $1 == 3) && $2 == 273' "$tmp/records")
errs=$(cut -d'|' -f4 <<<"$errrecs" | sort -u | tr '\n' ' ' | sed 's/ *$//')
if [ -z "$errrecs" ]; then
    fail "$CASE_420" "no error responses to the change-request tests"
elif [ "$errs" != 420 ]; then
    probs=$(cut -d'|' -f5 <<<"$errrecs" | sort -u | tr '\n' ' ')
    fail "$CASE_420" "error code(s) the client read: '${errs}' (want 420); client parse messages: ${probs:-none}"
else
    pass "$CASE_420"
fi

[ "$failures" = 0 ]
