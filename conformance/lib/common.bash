# Shared by the conformance scripts (sourced, never run on its own).
# Result lines on stdout: "ok - NAME" or "not ok - NAME: REASON"; everything else goes to stderr as "# ...".

failures=0
# pass NAME [DETAIL]: the ok line stays stable from run to run; details go to stderr.
pass() { echo "ok - $1"; [ -n "${2:-}" ] && echo "#   $2" >&2; return 0; }
fail() { echo "not ok - $1: $2"; failures=$((failures + 1)); }
# A case that cannot run here is a failure, never a pass.
skip() { fail "$1" "cannot run here: $2"; }
# Client output goes to stderr, each line prefixed with "# ".
show() { sed 's/^/# /' "$@" >&2; }

tmp=$(mktemp -d)
# Processes a script started (servers, peers, captures): stopped by PID on exit, never by name.
started_pids=()
track_pid() { started_pids+=("$1"); }
# stop_pid PID: SIGTERM, up to 5 s to exit, then SIGKILL.
stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill "$pid" 2>/dev/null
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
conformance_cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do
        stop_pid "$pid"
    done
    rm -rf "$tmp"
}
trap conformance_cleanup EXIT

# Is the address usable as a local address on this machine?
have_local_addr() {
    /usr/bin/python3 - "$1" <<'PY' 2>/dev/null
import socket, sys
infos = socket.getaddrinfo(sys.argv[1], 0, socket.AF_UNSPEC, socket.SOCK_DGRAM)
family, _, _, _, address = infos[0]
s = socket.socket(family, socket.SOCK_DGRAM)
s.bind(address)
s.close()
PY
}

# Canonical text form of an IP address (so ::1 and 0:0::1 compare equal).
canon_ip() {
    /usr/bin/python3 -c '
import socket, sys
a = sys.argv[1]
f = socket.AF_INET6 if ":" in a else socket.AF_INET
print(socket.inet_ntop(f, socket.inet_pton(f, a)))' "$1" 2>/dev/null || echo "$1"
}
