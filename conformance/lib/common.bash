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
trap 'rm -rf "$tmp"' EXIT

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
