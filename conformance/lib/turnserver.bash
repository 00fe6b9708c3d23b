# Starts a private instance of our TURN server for one conformance script (sourced after
# common.bash, never run on its own).  test.sh's shared server has no credentials and no
# loopback peers, so every TURN script runs its own, on loopback only, and stops it by PID
# on exit (common.bash's conformance_cleanup).
#
#   TURN_SERVER_DLL   the built server (default: src/Turn.Server/bin/Release/net10.0/turn-server.dll
#                     of this repository)
#
# Functions:
#   free_udp_port [N]            a port P with P..P+N-1 free for UDP and TCP on 127.0.0.1
#   free_port_block N            "A B": N consecutive free UDP ports on 127.0.0.1, below the
#                                kernel's ephemeral range (so other programs do not take them)
#   random_secret                32 hex characters
#   start_turn_server NAME ARGS  starts the server on a free port of 127.0.0.1 with ARGS and waits
#                                for "Server ready"; sets srv_port, srv_pid, srv_log; returns 1
#                                (log on stderr) if it does not come up within 60 s
#   rest_credentials SECRET USER [TTL]
#                                prints "USERNAME PASSWORD" of the TURN REST API: username
#                                "<expiry>:<USER>", password base64(HMAC-SHA1(SECRET, username))

CONFORMANCE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TURN_SERVER_DLL="${TURN_SERVER_DLL:-$CONFORMANCE_ROOT/src/Turn.Server/bin/Release/net10.0/turn-server.dll}"

free_udp_port() {
    /usr/bin/python3 - "${1:-1}" <<'PY'
import random, socket, sys
count = int(sys.argv[1])
def free(port):
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True
for _ in range(200):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    port = u.getsockname()[1]
    u.close()
    if port + count - 1 <= 65535 and all(free(p) for p in range(port, port + count)):
        print(port)
        sys.exit(0)
sys.exit(1)
PY
}

free_port_block() {
    /usr/bin/python3 - "$1" <<'PY'
import random, socket, sys
size = int(sys.argv[1])
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
top = max(low, 20000 + size + 1)
for _ in range(50):
    base = random.randrange(10000, top - size)
    ok = True
    for port in range(base, base + size):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            ok = False
        finally:
            s.close()
        if not ok:
            break
    if ok:
        print(base, base + size - 1)
        sys.exit(0)
sys.exit(1)
PY
}

random_secret() {
    /usr/bin/python3 -c 'import secrets; print(secrets.token_hex(16))'
}

rest_credentials() {
    /usr/bin/python3 - "$1" "$2" "${3:-86400}" <<'PY'
import base64, hashlib, hmac, sys, time
secret, user, ttl = sys.argv[1], sys.argv[2], int(sys.argv[3])
name = f"{int(time.time()) + ttl}:{user}"
print(name, base64.b64encode(hmac.new(secret.encode(), name.encode(), hashlib.sha1).digest()).decode())
PY
}

srv_port=""
srv_pid=""
srv_log=""

start_turn_server() {
    local name=$1 i
    shift
    srv_port=""
    srv_pid=""
    srv_log="$tmp/server-$name.log"
    if [ ! -r "$TURN_SERVER_DLL" ]; then
        echo "# the server is not built: $TURN_SERVER_DLL (run dotnet build Turn.sln -c Release)" >&2
        return 1
    fi
    if ! command -v dotnet >/dev/null 2>&1; then
        echo "# dotnet is not installed" >&2
        return 1
    fi
    srv_port=$(free_udp_port 1)
    if [ -z "$srv_port" ]; then
        echo "# no free port for the server" >&2
        return 1
    fi
    # TLS on a free port of its own (srv_tls_port once started), and so DTLS too (srv_dtls_port): several servers
    # may run at once.
    # The admin listener on a free port too (srv_admin_port once started).
    echo "# starting: dotnet $TURN_SERVER_DLL --listening-port $srv_port --listening-ip 127.0.0.1 --tls-listening-port 0 --admin-listen 127.0.0.1:0 $*" >&2
    dotnet "$TURN_SERVER_DLL" --listening-port "$srv_port" --listening-ip 127.0.0.1 --tls-listening-port 0 --admin-listen 127.0.0.1:0 "$@" >"$srv_log" 2>&1 &
    srv_pid=$!
    track_pid "$srv_pid"
    srv_tls_port=""
    srv_dtls_port=""
    srv_admin_port=""
    for i in $(seq 1 600); do
        if grep -q "Server ready" "$srv_log"; then
            srv_tls_port=$(sed -n 's/.*Listening on TLS 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$srv_log" | head -1)
            srv_dtls_port=$(sed -n 's/.*Listening on DTLS 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$srv_log" | head -1)
            srv_admin_port=$(sed -n 's/.*Admin listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$srv_log" | head -1)
            return 0
        fi
        kill -0 "$srv_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "# the server ($name) did not start:" >&2
    show "$srv_log"
    stop_pid "$srv_pid"
    return 1
}

# wait_udp_bound PORT: until something has bound UDP 127.0.0.1:PORT (at most 10 s).
wait_udp_bound() {
    /usr/bin/python3 - "$1" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        sys.exit(0)
    finally:
        s.close()
    time.sleep(0.05)
sys.exit(1)
PY
}
