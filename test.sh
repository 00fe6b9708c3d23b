#!/usr/bin/env bash
# Runs every test of the project on this machine:
#   1. builds the solution in Release (warnings are errors),
#   2. runs all xunit test projects (unit, property and end-to-end tests on loopback),
#   3. starts the built server on a free loopback port and runs every conformance/ script
#      (real third-party clients) against it; the last one checks the packaging and deployment
#      files (Dockerfile, deploy/),
#   4. fuzzes each target of fuzz/Turn.Fuzz with AFL++ for FUZZ_SECONDS (default 40) seconds:
#      a crash or a hang fails it (fuzz/run.sh; longer runs: docs/security.md).
# Installs what it needs when missing (as root, with apt-get). The last line printed is exactly
# "N passed, N failed"; the exit status is non-zero when anything failed. Skipped tests count as failed.
set -u -o pipefail
cd "$(dirname "$0")" || exit 2
ROOT=$(pwd)
CONFIGURATION=Release
LOG_DIR=$(mktemp -d)
passed=0
failed=0
server_pid=""

finish() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf "$LOG_DIR"
}
trap finish EXIT

summary_and_exit() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}

# --- 0. prerequisites ------------------------------------------------------------------------
missing=()
command -v turnutils_stunclient >/dev/null 2>&1 || missing+=(coturn)
command -v stun >/dev/null 2>&1 || missing+=(stun-client)
command -v strace >/dev/null 2>&1 || missing+=(strace)
[ -x /usr/bin/python3 ] || missing+=(python3)
/usr/bin/python3 -c 'import aioice' >/dev/null 2>&1 || missing+=(python3-aioice)
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v afl-fuzz >/dev/null 2>&1 || missing+=(afl++)
# The soak (conformance/soak.sh) builds the C load generator of benchmarks/load.
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
echo '#include <openssl/hmac.h>' | gcc -E -x c - >/dev/null 2>&1 || missing+=(libssl-dev)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
/usr/bin/python3 -c 'import aiortc' >/dev/null 2>&1 || missing+=(python3-aiortc)
# The deployment checks (conformance/90-deploy.sh), installed without recommended packages (the
# prometheus package would bring a node exporter; only its promtool is used).
lean=()
command -v yamllint >/dev/null 2>&1 || lean+=(yamllint)
command -v promtool >/dev/null 2>&1 || lean+=(prometheus)
command -v kubectl >/dev/null 2>&1 || lean+=(kubernetes-client)
command -v systemd-analyze >/dev/null 2>&1 || lean+=(systemd)
command -v ss >/dev/null 2>&1 || lean+=(iproute2)
command -v setpriv >/dev/null 2>&1 || lean+=(util-linux)
/usr/bin/python3 -c 'import yaml' >/dev/null 2>&1 || lean+=(python3-yaml)
/usr/bin/python3 -c 'import kubernetes' >/dev/null 2>&1 || lean+=(python3-kubernetes)
# The SFU of conformance/85-janus.sh (only its HTTP transport and echo test plugin are loaded), without
# recommended packages.
command -v janus >/dev/null 2>&1 || lean+=(janus)
if [ ${#missing[@]} -gt 0 ] || [ ${#lean[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing: ${missing[*]} ${lean[*]}"
        apt-get update -qq
        if [ ${#missing[@]} -gt 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        fi
        if [ ${#lean[@]} -gt 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
        fi
    else
        echo "== missing packages (install them as root): ${missing[*]} ${lean[*]}"
    fi
fi
# npm packages of the conformance scripts, exactly as locked (playwright-core drives the system
# Chromium; it never downloads a browser of its own).
for dir in conformance/*/; do
    [ -f "$dir/package-lock.json" ] || continue
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
        echo "== npm ci in $dir"
        (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 300 npm ci --no-audit --no-fund >/dev/null) ||
            echo "== npm ci failed in $dir"
    fi
done
if ! command -v dotnet >/dev/null 2>&1; then
    echo "== the .NET 10 SDK (dotnet) is required"
    failed=$((failed + 1))
    summary_and_exit
fi

# --- 1. build --------------------------------------------------------------------------------
echo "== build ($CONFIGURATION)"
if ! dotnet build Turn.sln -c "$CONFIGURATION" -nologo -v:q; then
    echo "== build failed"
    failed=$((failed + 1))
    summary_and_exit
fi

# --- 2. xunit tests --------------------------------------------------------------------------
echo "== dotnet test"
dotnet test --solution Turn.sln -c "$CONFIGURATION" --no-build 2>&1 | tee "$LOG_DIR/dotnet-test.log"
test_status=${PIPESTATUS[0]}
# Microsoft.Testing.Platform ends with a summary block: total / failed / succeeded / skipped.
read_count() { grep -E "^[[:space:]]*$1:[[:space:]]*[0-9]+" "$LOG_DIR/dotnet-test.log" | tail -n 1 | grep -oE '[0-9]+' | tail -n 1; }
t_failed=$(read_count failed)
t_succeeded=$(read_count succeeded)
t_skipped=$(read_count skipped)
if [ -z "$t_succeeded" ] || [ -z "$t_failed" ]; then
    echo "== could not read the test summary (exit $test_status)"
    failed=$((failed + 1))
else
    passed=$((passed + t_succeeded))
    failed=$((failed + t_failed + ${t_skipped:-0}))
    if [ "$test_status" -ne 0 ] && [ "$t_failed" -eq 0 ]; then
        echo "== dotnet test exited with $test_status"
        failed=$((failed + 1))
    fi
fi

# --- 3. conformance against a freshly started server -----------------------------------------
free_port() {
    /usr/bin/python3 - <<'PY'
import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); port = u.getsockname()[1]
    ok = True
    for family, host, kind in ((socket.AF_INET, "127.0.0.1", socket.SOCK_STREAM), (socket.AF_INET6, "::1", socket.SOCK_DGRAM), (socket.AF_INET6, "::1", socket.SOCK_STREAM)):
        s = socket.socket(family, kind)
        try:
            s.bind((host, port))
        except OSError:
            ok = False
        finally:
            s.close()
    u.close()
    if ok:
        print(port); break
PY
}

SERVER_DLL="$ROOT/src/Turn.Server/bin/$CONFIGURATION/net10.0/turn-server.dll"
PORT=$(free_port)
echo "== conformance (server on 127.0.0.1 and ::1 port $PORT)"
dotnet "$SERVER_DLL" --listening-port "$PORT" --listening-ip 127.0.0.1 --listening-ip ::1 --tls-listening-port 0 \
    --admin-listen 127.0.0.1:0 >"$LOG_DIR/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
    grep -q "Server ready" "$LOG_DIR/server.log" && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q "Server ready" "$LOG_DIR/server.log"; then
    echo "== the server did not start:"
    cat "$LOG_DIR/server.log"
    failed=$((failed + 1))
else
    for script in conformance/*.sh; do
        out="$LOG_DIR/$(basename "$script").out"
        TURN_HOST=127.0.0.1 TURN_HOST6=::1 TURN_PORT=$PORT SOAK_SECONDS=${SOAK_SECONDS:-90} bash "$script" >"$out" 2>"$out.err"
        rc=$?
        cat "$out"
        ok=$(grep -c '^ok ' "$out")
        not_ok=$(grep -c '^not ok ' "$out")
        passed=$((passed + ok))
        failed=$((failed + not_ok))
        if [ "$rc" -ne 0 ] || [ "$not_ok" -gt 0 ]; then
            sed 's/^/    /' "$out.err"
            [ "$not_ok" -eq 0 ] && failed=$((failed + 1)) && echo "not ok - $script exited with $rc"
        fi
    done
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "not ok - the server died during the conformance run"
        cat "$LOG_DIR/server.log"
        failed=$((failed + 1))
    fi
fi

# --- 4. fuzzing, bounded ------------------------------------------------------------------------
echo "== fuzzing (AFL++ through SharpFuzz, ${FUZZ_SECONDS:-40} s per target)"
for target in stun framing engine; do
    if line=$(fuzz/run.sh "$target" "${FUZZ_SECONDS:-40}" 2>"$LOG_DIR/fuzz-$target.err"); then
        echo "ok - $line"
        passed=$((passed + 1))
    else
        echo "not ok - fuzz $target: ${line:-did not run}"
        sed 's/^/    /' "$LOG_DIR/fuzz-$target.err"
        failed=$((failed + 1))
    fi
done

summary_and_exit
