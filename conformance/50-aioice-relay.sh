#!/bin/bash
# Conformance: aioice (Debian package python3-aioice, 0.8; importable only by /usr/bin/python3)
# gathers a relay candidate from our server over UDP and does ICE through it.
#
# aioice_relay.py next to this script runs two aioice Connections in one process on loopback:
# the ICE-controlling one has the relay candidate only (no host candidate), the controlled one
# a host candidate on 127.0.0.1 only; candidates are handed over directly, both run their
# connectivity checks, then 10 messages (16 to 1200 bytes) go each way over the nominated pair.
# It prints (parsed here):
#     relay 127.0.0.1 40012
#     selected relay-side relay 127.0.0.1 40012 host 127.0.0.1 51234
#     selected host-side host 127.0.0.1 51234 relay 127.0.0.1 40012
#     sent relay-to-host 10 2708 / sent host-to-relay 10 2708
#     received host-side 10 2708 / received relay-side 10 2708
#     deleted                                  (Refresh with LIFETIME 0 answered)
#     turn request_CHANNEL_BIND 1, turn request_CREATE_PERMISSION 0, turn sent_Send_indication 0,
#     turn received_ChannelData 12, turn received_Data_indication 0, ...
# A case passes when ICE completed, BOTH sides' selected pair uses the relay candidate, that
# candidate is 127.0.0.1 in our --min-port..--max-port range, every message arrived intact both
# ways, the allocation was deleted, and the TURN counters show the mechanism the case is about.
#
# aioice 0.8 does not know the DATA attribute (0x0013); aioice_relay.py registers it (the
# "DATA attribute workaround", explained at the top of that file).  Stock aioice only uses
# ChannelBind + ChannelData, where the workaround changes nothing; the "without ChannelBind"
# case (CreatePermission, Send and Data indications) cannot work without it.
#
# Our own server is started here (lib/turnserver.bash): test.sh's shared one has no
# credentials and refuses loopback peers.
# Environment: TURN_SERVER_DLL (default: the Release build of this repository).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT="$HERE/aioice_relay.py"
PY=/usr/bin/python3
LIMIT=90

. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/turnserver.bash"

if ! "$PY" -c 'import aioice' 2>/dev/null; then
    fail "aioice importable" "/usr/bin/python3 cannot import aioice (install the python3-aioice package)"
    exit 1
fi
echo "# aioice $("$PY" -c 'import aioice; print(aioice.__version__)')" >&2

read -r relay_min relay_max < <(free_port_block 200)
if [ -z "${relay_max:-}" ]; then
    fail "aioice setup" "no block of free relay ports"
    exit 1
fi
secret=$(random_secret)
if ! start_turn_server main --relay-ip 127.0.0.1 --allow-loopback-peers --realm conformance.test \
        --user alice:alice-secret --use-auth-secret --static-auth-secret "$secret" \
        --min-port "$relay_min" --max-port "$relay_max"; then
    fail "aioice setup" "our server did not start"
    exit 1
fi

# value KEY: the rest of the first stdout line starting with KEY.
value() { awk -v key="$1 " 'index($0, key) == 1 { print substr($0, length(key) + 1); exit }' "$tmp/out"; }
counter() { local v; v=$(value "turn $1"); echo "${v:--1}"; }

# run_case NAME MODE USERNAME PASSWORD
run_case() {
    local name=$1 mode=$2 user=$3 password=$4 rc
    echo "# running: aioice_relay.py --port $srv_port --mode $mode --username $user" >&2
    timeout "$LIMIT" "$PY" "$CLIENT" --port "$srv_port" --mode "$mode" --username "$user" --password "$password" \
        >"$tmp/out" 2>"$tmp/err"
    rc=$?
    show "$tmp/out"
    show "$tmp/err"
    if [ "$rc" = 124 ]; then
        fail "$name" "the client did not finish within ${LIMIT}s"
        return
    fi
    if [ "$rc" != 0 ]; then
        fail "$name" "exit $rc: $(grep -m1 '^error:' "$tmp/err" || echo 'no error line')"
        return
    fi

    local rip rport
    read -r rip rport <<<"$(value relay)"
    if [ "${rip:-}" != 127.0.0.1 ] || ! [[ "${rport:-}" =~ ^[0-9]+$ ]] ||
       [ "$rport" -lt "$relay_min" ] || [ "$rport" -gt "$relay_max" ]; then
        fail "$name" "relay candidate '${rip:-} ${rport:-}' is not 127.0.0.1 in $relay_min-$relay_max"
        return
    fi
    local relay_sel host_sel
    relay_sel=$(value "selected relay-side")
    host_sel=$(value "selected host-side")
    if [[ "$relay_sel" != "relay 127.0.0.1 $rport host 127.0.0.1 "* ]]; then
        fail "$name" "relay side selected '$relay_sel', want the relay candidate 127.0.0.1 $rport"
        return
    fi
    if [[ "$host_sel" != "host 127.0.0.1 "*" relay 127.0.0.1 $rport" ]]; then
        fail "$name" "host side selected '$host_sel', want the remote relay candidate 127.0.0.1 $rport"
        return
    fi

    local d sent received
    for d in "relay-to-host host-side" "host-to-relay relay-side"; do
        set -- $d
        sent=$(value "sent $1")
        received=$(value "received $2")
        if [ -z "$sent" ] || [ "$sent" != "$received" ]; then
            fail "$name" "$1: sent '${sent:-?}' (count bytes), received '${received:-nothing}'"
            return
        fi
    done
    if ! grep -q '^deleted$' "$tmp/out"; then
        fail "$name" "the allocation was not deleted (Refresh LIFETIME 0 failed)"
        return
    fi

    local cb cp si cd di bad
    cb=$(counter request_CHANNEL_BIND)
    cp=$(counter request_CREATE_PERMISSION)
    si=$(counter sent_Send_indication)
    cd=$(counter received_ChannelData)
    di=$(counter received_Data_indication)
    bad=$(counter received_Data_indication_without_DATA_or_XOR-PEER-ADDRESS)
    local n=${received%% *}
    local counters="ChannelBind $cb, CreatePermission $cp, Send indications $si, ChannelData in $cd, Data indications in $di"
    if [ "$mode" = channel ]; then
        if [ "$cb" -lt 1 ] || [ "$cp" != 0 ] || [ "$si" != 0 ] || [ "$cd" -lt "$n" ] || [ "$di" != 0 ]; then
            fail "$name" "want ChannelBind and ChannelData only: $counters"
            return
        fi
    else
        if [ "$cb" != 0 ] || [ "$cp" -lt 1 ] || [ "$si" -lt "$n" ] || [ "$di" -lt "$n" ] || [ "$cd" != 0 ] || [ "$bad" != 0 ]; then
            fail "$name" "want CreatePermission, Send and Data indications only: $counters; Data indications lacking DATA or XOR-PEER-ADDRESS: $bad"
            return
        fi
    fi
    pass "$name" "relay 127.0.0.1:$rport selected by both sides; ${received%% *} messages, ${received#* } bytes each way; $counters"
}

run_case "aioice ICE through the relay with ChannelBind and ChannelData (stock aioice)" \
    channel alice alice-secret

run_case "aioice ICE through the relay without ChannelBind: CreatePermission, Send and Data indications" \
    permission alice alice-secret

read -r rest_user rest_password < <(rest_credentials "$secret" aioice)
run_case "aioice relay candidate with TURN REST API credentials" \
    channel "$rest_user" "$rest_password"

# A wrong password must leave aioice without a relay candidate: its Allocate gets 401 again.
name="aioice wrong TURN password: Allocate refused with 401, no relay candidate"
echo "# running: aioice_relay.py --port $srv_port --username alice --password <wrong>" >&2
timeout "$LIMIT" "$PY" "$CLIENT" --port "$srv_port" --username alice --password not-alice-secret \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
show "$tmp/out"
show "$tmp/err"
if [ "$rc" = 3 ] && grep -q '^error: allocation refused: .*(401 ' "$tmp/err" && ! grep -q '^relay ' "$tmp/out"; then
    pass "$name" "$(grep -m1 '^error:' "$tmp/err")"
else
    fail "$name" "exit $rc, want 3 with a 401 refusal: $(grep -m1 '^error:' "$tmp/err" || head -n1 "$tmp/out")"
fi

if ! kill -0 "$srv_pid" 2>/dev/null; then
    fail "our server survived the aioice runs" "it exited; its log:"
    show "$srv_log"
fi

[ "$failures" = 0 ]
