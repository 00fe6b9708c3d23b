#!/bin/bash
# Conformance: the packaging and deployment files (Dockerfile, deploy/, docs/deploy.md), each checked
# with the tools that exist for it and, where it can be, by running the server as it would run there.
#
# Container image. No container engine is needed: deploy/checks.py reads the Dockerfile, checks its shape
# (stages, numeric non-root USER, HEALTHCHECK, exec-form ENTRYPOINT, EXPOSE = the server's default ports
# from turn-server --help), then does its build steps itself: each stage's COPY (only what .dockerignore
# lets in) and RUN (the same dotnet restore and dotnet publish) into a folder per stage. The published
# output then runs as the image would run it: its ENTRYPOINT, its ENV over the ASP.NET Core image's, as
# the USER (setpriv), in a mount namespace where every file system is read-only but one writable
# folder standing for /tmp (TMPDIR), under strace. Checked: a STUN Binding over UDP, /healthz and
# /readyz, an allocation with the shared secret from TURN__STATICAUTHSECRETS__0, the HEALTHCHECK
# command (healthy, and unhealthy against a closed port and a 503), that nothing was written outside the
# writable folder, that only the TURN, TLS and admin ports are open, and that SIGTERM stops it (status
# 0) once no allocation is left. Overrides, as `docker run -e`/arguments would give them: free loopback
# ports, --listening-ip 127.0.0.1, --relay-ip 127.0.0.1, the admin listener on 127.0.0.1.
#
# Kubernetes (deploy/kubernetes): yamllint; kubectl kustomize renders the objects; each built-in object
# survives a round trip through the Kubernetes API models of python3-kubernetes unchanged (no misspelt
# or misplaced field); the DaemonSet is what docs/deploy.md says (hostNetwork, probes on the admin
# port, grace period above the drain timeout, Secret, securityContext, resources). Then the DaemonSet's
# container runs as the kubelet would start it on node turn-node-a (its args and env expanded, its
# ConfigMap mounted): with the Secret as shipped (empty) the server refuses to start; with a secret it
# starts, answers every probe path, and an allocation shows the node's public address from the
# ConfigMap; on a node without an entry it refuses to start.
#
# Prometheus and Grafana: promtool check rules and promtool test rules; the dashboard's queries pass
# promtool too; every metric and label the rules and the dashboard use is one the server exports
# (its /metrics, scraped from the image's run).
#
# systemd (deploy/systemd): systemd-analyze verify; drain-sized TimeoutStopSec, SIGTERM, ExecReload by SIGHUP,
# hardening; every system call and socket family in the image run's strace is allowed by the unit's
# SystemCallFilter and RestrictAddressFamilies; the unit's ExecStart with the example configuration and
# environment refuses the empty secret and starts with one.
#
# Tools (Debian packages, installed by test.sh): strace, yamllint, prometheus (promtool),
# python3-yaml, python3-kubernetes, python3-aioice; kubectl (kubernetes-client); systemd-analyze.
# Environment: TURN_SERVER_DLL (default: the Release build of this repository; its --help gives the
# default ports).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
CHECKS="$HERE/deploy/checks.py"
PROBE="$HERE/deploy/probe.py"
LIMIT=60

. "$HERE/lib/common.bash"
. "$HERE/lib/turnserver.bash"

# The image's user must be able to reach the published files under $tmp.
chmod 755 "$tmp"

# one_line FILE: the problems a check printed, on one line.
one_line() { grep -v '^#' "$1" | tr '\n' ';' | sed 's/;$//; s/;/; /g'; }

# check NAME COMMAND...: passes when COMMAND exits 0 (its output is the detail), fails with its output.
check() {
    local name=$1
    shift
    if "$@" >"$tmp/check.out" 2>&1; then
        pass "$name" "$(tail -n 1 "$tmp/check.out")"
    else
        show "$tmp/check.out"
        fail "$name" "$(one_line "$tmp/check.out" | cut -c1-600)"
    fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# start_logged NAME ARGS...: starts ARGS in the background with its output in $tmp/NAME.log and waits
# until it logs "Server ready" (return 0) or exits (return 1, status in run_status) or LIMIT passes (2).
run_pid=""
run_status=""
start_logged() {
    local name=$1 i
    shift
    run_log="$tmp/$name.log"
    run_status=""
    echo "# starting ($name): $*" >&2
    "$@" >"$run_log" 2>&1 &
    run_pid=$!
    track_pid "$run_pid"
    for i in $(seq 1 $((LIMIT * 10))); do
        grep -q "Server ready" "$run_log" && return 0
        if ! kill -0 "$run_pid" 2>/dev/null; then
            wait "$run_pid"
            run_status=$?
            return 1
        fi
        sleep 0.1
    done
    return 2
}

# http_status PORT PATH: the status code of GET http://127.0.0.1:PORT/PATH, or "none".
http_status() { "$PY" "$PROBE" http "$1" "$2" 2>/dev/null | awk '{print $1; exit}' | grep . || echo none; }

dotnet "$TURN_SERVER_DLL" --help >"$tmp/help.txt" 2>&1 || {
    fail "turn-server --help" "the built server ($TURN_SERVER_DLL) does not run"
    exit 1
}

# --- container image ---------------------------------------------------------------------------
check "Dockerfile: SDK build stage publishing src/Turn.Server in Release, aspnet:10.0 runtime stage, numeric non-root USER, HEALTHCHECK, exec-form ENTRYPOINT, EXPOSE = the server's default ports, relay range documented" \
    "$PY" "$CHECKS" dockerfile-check "$ROOT/Dockerfile" "$tmp/help.txt"

name="Dockerfile steps done without a builder: COPY (what .dockerignore lets in) and RUN dotnet restore/publish produce turn-server.dll and the health check"
mkdir -p "$tmp/image"
image_ok=0
if "$PY" "$CHECKS" dockerfile-build "$ROOT" "$ROOT/Dockerfile" "$tmp/image" >"$tmp/image.json" 2>"$tmp/image-build.log"; then
    # Shell variables from the final stage: workdir, uid, gid, entrypoint + cmd, env, health check.
    "$PY" - "$tmp/image.json" >"$tmp/image.vars" <<'PY'
import json, shlex, sys
d = json.load(open(sys.argv[1]))
user = (d.get("user") or "0").split(":")
print("image_workdir=" + shlex.quote(d["workdir_host"]))
print("image_uid=" + shlex.quote(user[0]))
print("image_gid=" + shlex.quote(user[1] if len(user) > 1 else user[0]))
print("image_command=(" + " ".join(shlex.quote(a) for a in (d.get("entrypoint") or []) + (d.get("cmd") or [])) + ")")
print("image_env=(" + " ".join(shlex.quote(f"{k}={v}") for k, v in d["env"].items()) + ")")
print("image_health=" + shlex.quote(d.get("healthcheck_host") or ""))
PY
    . "$tmp/image.vars"
    if [ -f "$image_workdir/turn-server.dll" ] && [ -x "$image_health" ]; then
        image_ok=1
        pass "$name" "$(ls "$image_workdir" | wc -l) files in the image's $(basename "$image_workdir"), command ${image_command[*]}"
    else
        fail "$name" "no turn-server.dll in $image_workdir or no executable health check '$image_health'"
    fi
else
    show "$tmp/image-build.log"
    fail "$name" "$(one_line "$tmp/image.json" | cut -c1-600)"
fi

image_ran=0
if [ "$image_ok" = 1 ]; then
    port=$(free_udp_port 1)
    admin_port=$(free_udp_port 1)
    read -r relay_min relay_max < <(free_port_block 40)
    secret=$(random_secret)
    rw="$tmp/rw"
    mkdir -p "$rw"
    chown "$image_uid:$image_gid" "$rw"
    name="image: started as its ENTRYPOINT, user $image_uid, read-only file system but TMPDIR, under strace: ready"
    if ! have strace || ! have setpriv || ! have unshare; then
        skip "$name" "strace, setpriv or unshare missing"
    elif [ -z "$relay_max" ] || [ -z "$port" ] || [ -z "$admin_port" ]; then
        fail "$name" "no free loopback ports"
    else
        # The image's ENV, then what `docker run -e` would add: loopback admin, the secret, TMPDIR for /tmp.
        run_env=("${image_env[@]}" HOME=/home/app TMPDIR="$rw" TURN__ADMINLISTEN="127.0.0.1:$admin_port"
            TURN__STATICAUTHSECRETS__0="$secret")
        overrides=(--listening-port "$port" --listening-ip 127.0.0.1 --tls-listening-port 0 --relay-ip 127.0.0.1
            --min-port "$relay_min" --max-port "$relay_max" --realm deploy.test --use-auth-secret)
        cd "$image_workdir" || exit 1
        start_logged image unshare -m --propagation private "$HERE/deploy/read-only.sh" "$rw" \
            setpriv --reuid="$image_uid" --regid="$image_gid" --clear-groups \
            env -i "${run_env[@]}" strace -f -qq -o "$rw/trace" "${image_command[@]}" "${overrides[@]}"
        started=$?
        cd "$ROOT" || exit 1
        image_log=$run_log
        image_pid=$run_pid
        if [ "$started" = 0 ]; then
            image_ran=1
            pass "$name" "$(grep -o 'Server ready.*' "$image_log")"
        else
            show "$image_log"
            fail "$name" "it did not come up (exit ${run_status:-none}): $(grep -m1 -iE 'error|fail|cannot|denied' "$image_log")"
        fi
    fi
fi

if [ "$image_ran" = 1 ]; then
    # The server process: strace's child.
    server_pid=$(cat /proc/"$image_pid"/task/*/children 2>/dev/null | awk '{print $1}')
    echo "# strace $image_pid, server $server_pid" >&2

    name="image: STUN Binding over UDP answered with XOR-MAPPED-ADDRESS = the client's address"
    "$PY" "$PROBE" binding "$port" >"$tmp/binding.out" 2>&1
    mapped=$(awk '/^mapped/ {print $2, $3}' "$tmp/binding.out")
    local_addr=$(awk '/^local/ {print $2, $3}' "$tmp/binding.out")
    if [ -n "$mapped" ] && [ "$mapped" = "$local_addr" ]; then
        pass "$name" "mapped $mapped"
    else
        fail "$name" "$(one_line "$tmp/binding.out")"
    fi

    name="image: /healthz and /readyz on the admin listener answer 200"
    h=$(http_status "$admin_port" /healthz)
    r=$(http_status "$admin_port" /readyz)
    if [ "$h" = 200 ] && [ "$r" = 200 ]; then
        pass "$name" "healthz $h, readyz $r"
    else
        fail "$name" "healthz $h, readyz $r"
    fi

    name="image: an allocation with TURN REST credentials minted with TURN__STATICAUTHSECRETS__0 gets a relay port in --min-port..--max-port"
    read -r rest_user rest_password < <(rest_credentials "$secret" deploy)
    "$PY" "$PROBE" allocate "$port" "$rest_user" "$rest_password" >"$tmp/alloc.out" 2>&1
    read -r _ rip rport < <(grep '^relayed' "$tmp/alloc.out")
    if [ "${rip:-}" = 127.0.0.1 ] && [ "${rport:-0}" -ge "$relay_min" ] && [ "${rport:-0}" -le "$relay_max" ]; then
        pass "$name" "relayed $rip:$rport"
    else
        fail "$name" "$(one_line "$tmp/alloc.out")"
    fi

    name="image: only the TURN TCP, TLS and admin ports are listened on (nothing on ASP.NET Core's 8080 from the base image's environment)"
    tls_port=$(sed -n 's/.*Listening on TLS 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$image_log" | head -1)
    listening=$(ss -Hltnp 2>/dev/null | grep "pid=$server_pid," | awk '{print $4}' | sed 's/.*://' | sort -n | tr '\n' ' ')
    want=$(printf '%s\n' "$port" "$tls_port" "$admin_port" | sort -n | tr '\n' ' ')
    if [ -n "$server_pid" ] && [ "$listening" = "$want" ]; then
        pass "$name" "TCP ports $listening"
    else
        fail "$name" "listening on '$listening', want '$want'"
    fi

    name="image: its HEALTHCHECK command is healthy against the server, unhealthy against a closed port and against a 503"
    TURN__ADMINLISTEN="0.0.0.0:$admin_port" "$image_health" >"$tmp/health.out" 2>&1
    healthy=$?
    closed=$(free_udp_port 1)
    TURN__ADMINLISTEN="127.0.0.1:$closed" "$image_health" >>"$tmp/health.out" 2>&1
    unhealthy_closed=$?
    "$PY" "$PROBE" answer-503 "$tmp/503.port" &
    stub=$!
    track_pid "$stub"
    for _ in $(seq 1 50); do [ -s "$tmp/503.port" ] && break; sleep 0.1; done
    TURN__ADMINLISTEN="127.0.0.1:$(cat "$tmp/503.port" 2>/dev/null)" "$image_health" >>"$tmp/health.out" 2>&1
    unhealthy_503=$?
    stop_pid "$stub"
    show "$tmp/health.out"
    if [ "$healthy" = 0 ] && [ "$unhealthy_closed" = 1 ] && [ "$unhealthy_503" = 1 ]; then
        pass "$name" "exit 0, 1, 1"
    else
        fail "$name" "exit $healthy, $unhealthy_closed, $unhealthy_503 (want 0, 1, 1): $(one_line "$tmp/health.out")"
    fi

    curl_metrics=$("$PY" - "$admin_port" "$tmp/metrics.txt" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5) as r:
    open(sys.argv[2], "wb").write(r.read())
print("ok")
PY
)
    [ "$curl_metrics" = ok ] || echo "# could not scrape /metrics" >&2

    name="image: SIGTERM with no allocation left drains and exits with status 0 within 10 s"
    if [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null; then
        for _ in $(seq 1 100); do kill -0 "$image_pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$image_pid" 2>/dev/null; then
            fail "$name" "still running after 10 s"
            stop_pid "$image_pid"
        else
            wait "$image_pid"
            status=$?
            if [ "$status" = 0 ] && grep -qi 'drain' "$image_log"; then
                pass "$name" "$(grep -i -m1 'drain' "$image_log" | cut -c1-160)"
            else
                show "$image_log"
                fail "$name" "exit status $status (strace passes the server's on)"
            fi
        fi
    else
        fail "$name" "no server process under strace"
    fi

    check "image: nothing written, created or removed outside the writable /tmp on a read-only root file system" \
        "$PY" "$CHECKS" trace-check "$rw/trace" "$rw" -
fi

# --- Kubernetes --------------------------------------------------------------------------------
if have yamllint; then
    check "yamllint: every YAML file under deploy/ (deploy/.yamllint.yml)" \
        yamllint -s -c "$ROOT/deploy/.yamllint.yml" -f parsable "$ROOT/deploy"
else
    skip "yamllint: every YAML file under deploy/ (deploy/.yamllint.yml)" "yamllint is not installed"
fi

name="kubectl kustomize deploy/kubernetes renders the objects"
rendered="$tmp/rendered.yaml"
if ! have kubectl; then
    skip "$name" "kubectl is not installed"
elif kubectl kustomize "$ROOT/deploy/kubernetes" >"$rendered" 2>"$tmp/kustomize.err"; then
    pass "$name" "$(grep -c '^kind:' "$rendered") objects"
else
    fail "$name" "$(one_line "$tmp/kustomize.err")"
fi

if [ -s "$rendered" ]; then
    check "Kubernetes objects: apiVersion, kind and name; unchanged by the API models' round trip; ServiceMonitor fields; DaemonSet with hostNetwork, probes on the admin port, grace above the drain timeout, Secret, non-root read-only securityContext, resources" \
        "$PY" "$CHECKS" k8s-check "$rendered"

    name="DaemonSet container as the kubelet starts it, with the Secret as shipped (empty): the server refuses to start, naming the key"
    if [ "$image_ok" != 1 ]; then
        skip "$name" "no image build to run"
    else
        node="$tmp/node-a"
        mkdir -p "$node"
        if "$PY" "$CHECKS" k8s-run "$rendered" "$node" turn-node-a 127.0.0.1 >"$tmp/k8s-run.out" 2>&1; then
            mapfile -t k8s_args <"$node/args"
            mapfile -t k8s_env <"$node/env"
            port=$(free_udp_port 1)
            admin_port=$(free_udp_port 1)
            read -r relay_min relay_max < <(free_port_block 40)
            k8s_overrides=(--listening-port "$port" --listening-ip 127.0.0.1 --tls-listening-port 0
                --admin-listen "127.0.0.1:$admin_port" --min-port "$relay_min" --max-port "$relay_max")
            start_logged k8s-empty-secret env "${k8s_env[@]}" dotnet "$image_workdir/turn-server.dll" \
                "${k8s_args[@]}" "${k8s_overrides[@]}"
            started=$?
            if [ "$started" = 1 ] && [ "$run_status" = 1 ] && grep -q 'StaticAuthSecrets' "$run_log"; then
                pass "$name" "$(grep -m1 'StaticAuthSecrets' "$run_log")"
            else
                [ "$started" = 0 ] && stop_pid "$run_pid"
                show "$run_log"
                fail "$name" "started $started, exit ${run_status:-none}; want exit 1 naming StaticAuthSecrets"
            fi

            name="DaemonSet container on turn-node-a with a secret: ready, every probe path answers 200, an allocation shows the node's public address from the ConfigMap"
            secret=$(random_secret)
            k8s_env_secret=()
            for e in "${k8s_env[@]}"; do
                case "$e" in
                    TURN__STATICAUTHSECRETS__0=*) k8s_env_secret+=("TURN__STATICAUTHSECRETS__0=$secret") ;;
                    *) k8s_env_secret+=("$e") ;;
                esac
            done
            public=$(sed -n 's/^external-ip=\([0-9.]*\).*/\1/p' "$node/etc/turn-server/node/turn-node-a.conf" | head -1)
            if start_logged k8s-node-a env "${k8s_env_secret[@]}" dotnet "$image_workdir/turn-server.dll" \
                    "${k8s_args[@]}" "${k8s_overrides[@]}"; then
                bad=""
                probes=""
                while read -r _ probe _ path; do
                    s=$(http_status "$admin_port" "$path")
                    probes="$probes $probe $path $s;"
                    [ "$s" = 200 ] || bad="$bad $probe $path answered $s;"
                done < <(grep '^probe ' "$tmp/k8s-run.out")
                [ -n "$probes" ] || bad="no probes"
                read -r rest_user rest_password < <(rest_credentials "$secret" node-a)
                "$PY" "$PROBE" allocate "$port" "$rest_user" "$rest_password" >"$tmp/alloc-k8s.out" 2>&1
                read -r _ rip rport < <(grep '^relayed' "$tmp/alloc-k8s.out")
                if [ -z "$public" ]; then
                    bad="$bad the ConfigMap has no external-ip for turn-node-a;"
                elif [ "${rip:-}" != "$public" ]; then
                    bad="$bad relayed address '${rip:-} ${rport:-}', want $public: $(one_line "$tmp/alloc-k8s.out");"
                fi
                stop_pid "$run_pid"
                if [ -z "$bad" ]; then
                    pass "$name" "probes:$probes relayed $rip:$rport"
                else
                    show "$run_log"
                    fail "$name" "$bad"
                fi
            else
                show "$run_log"
                fail "$name" "did not start (exit ${run_status:-none}): $(grep -m1 -iE 'error|invalid|cannot' "$run_log")"
            fi

            name="DaemonSet container on a node without a ConfigMap entry: refuses to start, naming the missing file"
            other="$tmp/node-x"
            mkdir -p "$other"
            "$PY" "$CHECKS" k8s-run "$rendered" "$other" turn-node-x 127.0.0.1 >/dev/null 2>&1
            mapfile -t other_args <"$other/args"
            start_logged k8s-node-x env "${k8s_env_secret[@]}" dotnet "$image_workdir/turn-server.dll" \
                "${other_args[@]}" "${k8s_overrides[@]}"
            started=$?
            if [ "$started" = 1 ] && [ "$run_status" != 0 ] && grep -q 'turn-node-x.conf' "$run_log"; then
                pass "$name" "exit $run_status: $(grep -m1 'turn-node-x.conf' "$run_log")"
            else
                [ "$started" = 0 ] && stop_pid "$run_pid"
                fail "$name" "started $started, exit ${run_status:-none}"
            fi
        else
            show "$tmp/k8s-run.out"
            fail "$name" "$(one_line "$tmp/k8s-run.out")"
        fi
    fi
fi

# --- Prometheus and Grafana ----------------------------------------------------------------------
rules="$ROOT/deploy/prometheus/turn-server-rules.yml"
dashboard="$ROOT/deploy/grafana/turn-server.json"
if have promtool; then
    check "promtool check rules deploy/prometheus/turn-server-rules.yml" promtool check rules "$rules"
    check "promtool test rules: alerts fire on synthetic series and stay quiet on others (deploy/prometheus/turn-server-rules.test.yml)" \
        bash -c 'cd "$1" && promtool test rules turn-server-rules.test.yml' _ "$ROOT/deploy/prometheus"
    name="Grafana dashboard: valid JSON, every panel has queries, its variables exist, and every query passes promtool"
    if "$PY" "$CHECKS" dashboard-rules "$dashboard" "$tmp/dashboard-rules.yml" >"$tmp/dash.out" 2>&1 &&
        promtool check rules "$tmp/dashboard-rules.yml" >>"$tmp/dash.out" 2>&1; then
        pass "$name" "$(head -n 1 "$tmp/dash.out")"
    else
        show "$tmp/dash.out"
        fail "$name" "$(one_line "$tmp/dash.out" | cut -c1-600)"
    fi
else
    skip "promtool check rules deploy/prometheus/turn-server-rules.yml" "promtool (Debian package prometheus) is not installed"
    skip "promtool test rules: alerts fire on synthetic series and stay quiet on others (deploy/prometheus/turn-server-rules.test.yml)" "no promtool"
    skip "Grafana dashboard: valid JSON, every panel has queries, its variables exist, and every query passes promtool" "no promtool"
fi
name="every metric and label in the alert rules and the dashboard is exported by the server (its /metrics)"
if [ -s "$tmp/metrics.txt" ]; then
    check "$name" "$PY" "$CHECKS" metric-names "$tmp/metrics.txt" "$rules" "$dashboard"
else
    skip "$name" "no /metrics scraped from the image's run"
fi

# --- systemd -------------------------------------------------------------------------------------
unit="$ROOT/deploy/systemd/turn-server.service"
name="systemd-analyze verify deploy/systemd/turn-server.service: no error and no warning"
if have systemd-analyze; then
    if systemd-analyze verify "$unit" >"$tmp/verify.out" 2>&1 && [ ! -s "$tmp/verify.out" ]; then
        pass "$name"
    else
        show "$tmp/verify.out"
        fail "$name" "$(one_line "$tmp/verify.out")"
    fi
else
    skip "$name" "systemd-analyze is not installed"
fi
check "systemd unit: KillSignal=SIGTERM, TimeoutStopSec a little above the drain timeout, ExecReload sends SIGHUP, Restart=on-failure, sandboxing" \
    "$PY" "$CHECKS" unit-check "$unit" "$ROOT/deploy/systemd/turnserver.conf"
name="systemd unit: every system call and socket family of the image's run is allowed by SystemCallFilter and RestrictAddressFamilies"
if [ -s "${rw:-/nonexistent}/trace" ] && have systemd-analyze; then
    check "$name" "$PY" "$CHECKS" trace-check "$rw/trace" "$rw" "$unit"
else
    skip "$name" "no strace log of the server, or no systemd-analyze"
fi

name="systemd unit's ExecStart with the example turnserver.conf and environment: refuses the empty secret, starts with one, reloads on ExecReload, stops on SIGTERM with status 0"
if [ "$image_ok" = 1 ]; then
    # ExecStart with /opt/turn-server the published output and /etc/turn-server this repository's examples.
    exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
    exec_start=${exec_start//\/opt\/turn-server/$image_workdir}
    exec_start=${exec_start//\/etc\/turn-server\/turnserver.conf/$ROOT/deploy/systemd/turnserver.conf}
    read -r -a unit_command <<<"$exec_start"
    mapfile -t unit_env < <(grep -E '^[A-Z_0-9]+=' "$ROOT/deploy/systemd/environment.example")
    port=$(free_udp_port 1)
    admin_port=$(free_udp_port 1)
    unit_overrides=(--listening-port "$port" --listening-ip 127.0.0.1 --tls-listening-port 0 --relay-ip 127.0.0.1
        --admin-listen "127.0.0.1:$admin_port")
    start_logged unit-empty env "${unit_env[@]}" "${unit_command[@]}" "${unit_overrides[@]}"
    first=$?
    first_status=${run_status:-none}
    [ "$first" = 0 ] && stop_pid "$run_pid"
    secret=$(random_secret)
    start_logged unit env "${unit_env[@]}" "TURN__STATICAUTHSECRETS__0=$secret" "${unit_command[@]}" "${unit_overrides[@]}"
    second=$?
    ready=$(http_status "$admin_port" /readyz)
    status=none
    reloaded=no
    if [ "$second" = 0 ]; then
        # ExecReload as systemd runs it, $MAINPID being the server.
        exec_reload=$(sed -n 's/^ExecReload=//p' "$unit")
        exec_reload=${exec_reload//\$MAINPID/$run_pid}
        read -r -a reload_command <<<"$exec_reload"
        "${reload_command[@]}"
        for _ in $(seq 1 50); do
            grep -q 'Configuration reloaded (SIGHUP)' "$run_log" && { reloaded=yes; break; }
            sleep 0.1
        done
        [ "$(http_status "$admin_port" /readyz)" = 200 ] || reloaded="no (not ready after it)"
        kill -TERM "$run_pid"
        for _ in $(seq 1 100); do kill -0 "$run_pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$run_pid" 2>/dev/null; then
            stop_pid "$run_pid"
        else
            wait "$run_pid"
            status=$?
        fi
    fi
    if [ "$first" = 1 ] && [ "$first_status" = 1 ] && [ "$second" = 0 ] && [ "$ready" = 200 ] && [ "$reloaded" = yes ] &&
        [ "$status" = 0 ]; then
        pass "$name" "empty secret: exit 1; with one: /readyz $ready, ExecReload: reloaded, SIGTERM: exit $status"
    else
        show "$tmp/unit-empty.log"
        show "$tmp/unit.log"
        fail "$name" "empty secret: started $first exit $first_status; with one: started $second, /readyz $ready, reloaded $reloaded, exit $status"
    fi
else
    skip "$name" "no image build to run"
fi

# --- documentation -------------------------------------------------------------------------------
name="docs/deploy.md names every file of deploy/ and the Dockerfile, and README.md links it"
missing=""
if [ -f "$ROOT/docs/deploy.md" ]; then
    while read -r f; do
        grep -qF "$f" "$ROOT/docs/deploy.md" || missing="$missing $f"
    done < <(cd "$ROOT" && { echo Dockerfile; find deploy -type f | sort; })
    grep -q '(docs/deploy.md)' "$ROOT/README.md" || missing="$missing (README link)"
    if [ -z "$missing" ]; then
        pass "$name"
    else
        fail "$name" "not named:$missing"
    fi
else
    fail "$name" "docs/deploy.md is missing"
fi

[ "$failures" = 0 ]
