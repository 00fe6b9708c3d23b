#!/usr/bin/env bash
# Side-by-side load comparison on loopback: a raw UDP relay (the machine's limit), coturn, and this server.
#
#   benchmarks/load/compare.sh              full run: every figure, ROUNDS=5 interleaved rounds (about 6 minutes)
#   QUICK=1 benchmarks/load/compare.sh      headline figures only (flood packets/s, CPU per packet), one round
#   STREAMS_ONLY=1 benchmarks/load/compare.sh   only the TCP and TLS relay figures (coturn and this server)
#
# It builds what it needs (the C load generator and raw relay with gcc, this server with dotnet, from a snapshot
# of HEAD unless SERVER_SOURCE=worktree), installs libssl-dev and coturn with apt-get when missing and run as
# root, pins every server to SERVER_CPU and the load generator to LOAD_CPU with taskset, and prints a table
# (median and min-max of the rounds) that it also writes to benchmarks/load/results/.
#
# Everything stays on 127.0.0.1; every load loop stops at a packet count and a deadline; every process it starts
# is stopped by its PID. See benchmarks/load/README.md for what each figure means.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RESULTS=${RESULTS_DIR:-$HERE/results}
BIN=$RESULTS/bin
RUN=$RESULTS/run

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then ROUNDS=${ROUNDS:-1}; else ROUNDS=${ROUNDS:-5}; fi
TARGETS=${TARGETS:-"raw coturn ours"}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PAYLOAD=${PAYLOAD:-100}                 # ChannelData payload bytes
FLOOD_ALLOCS=${FLOOD_ALLOCS:-16}        # allocations (client sockets) sending ChannelData in the flood
WARMUP=${WARMUP:-1}                     # seconds of load before each measured window
PREWARM_SECONDS=${PREWARM_SECONDS:-2}   # an unmeasured flood right after each server starts
FLOOD_SECONDS=${FLOOD_SECONDS:-3}       # measured window of each flood
FIXED_RATE=${FIXED_RATE:-20000}         # packets/s for the CPU-at-a-fixed-rate figure
RTT_RATE=${RTT_RATE:-10000}             # probes/s ("moderate load") for the round-trip figure
BINDING_SECONDS=${BINDING_SECONDS:-2}
FLOOD_RETRIES=${FLOOD_RETRIES:-2}        # repeat a flood whose server got less than FLOOD_MIN_CPU % of its core
FLOOD_MIN_CPU=${FLOOD_MIN_CPU:-90}
RAW_BATCH=${RAW_BATCH:-32}              # recvmmsg/sendmmsg batch of the extra batched raw relay row
GEN_GSO=${GEN_GSO:-1}                   # 1: the flood generator sends each batch as one UDP_SEGMENT message
MIN_PORT=${MIN_PORT:-20000}             # relay port range, kept below the ephemeral range of the clients
MAX_PORT=${MAX_PORT:-31999}
PORT_BASE=${PORT_BASE:-23470}           # listening ports are the first free ones from here
REALM=load.test
CRED_USER=load
CRED_PASS=load-pass
OURS_ENV=${OURS_ENV:-}                  # extra NAME=value environment for this server (diagnostics), e.g. runtime knobs
SERVER_SOURCE=${SERVER_SOURCE:-head}    # head: build a snapshot of HEAD; worktree: build the working tree
STREAMS_ONLY=${STREAMS_ONLY:-0}         # 1: only the TCP and TLS figures (no raw relay, no UDP rows)
MAX_TOTAL_SECONDS=${MAX_TOTAL_SECONDS:-900}
SERVER_MAX_SECONDS=${SERVER_MAX_SECONDS:-300}  # every server we start is stopped after this at the latest
WAIT_QUIET=${WAIT_QUIET:-0}             # 1: wait (at most QUIET_WAIT_MAX s) for a 1-minute load average < QUIET_LOAD
QUIET_LOAD=${QUIET_LOAD:-0.5}
QUIET_WAIT_MAX=${QUIET_WAIT_MAX:-600}

T0=$(date +%s)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$BIN" "$RUN"
LOGDIR=$RESULTS/logs/$STAMP
mkdir -p "$LOGDIR"
TSV=$RESULTS/compare-$STAMP.tsv
REPORT=$RESULTS/compare-$STAMP.md
: >"$TSV"

say() { printf '[%4ds] %s\n' $(( $(date +%s) - T0 )) "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------- processes we started (stopped by PID only)
WRAP_PID=""   # what we launched (the timeout wrapper, or the raw relay itself)
SPID=""       # the server process measured in /proc
stop_server() {
    [ -n "$WRAP_PID" ] || return 0
    kill -TERM "$WRAP_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$WRAP_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$WRAP_PID" 2>/dev/null; then
        kill -KILL "$WRAP_PID" 2>/dev/null || true
        [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null || true
    fi
    wait "$WRAP_PID" 2>/dev/null || true
    WRAP_PID=""; SPID=""
}
trap 'stop_server' EXIT
trap 'stop_server; exit 130' INT TERM

check_budget() {
    if [ $(( $(date +%s) - T0 )) -gt "$MAX_TOTAL_SECONDS" ]; then
        say "time budget of ${MAX_TOTAL_SECONDS}s used up; reporting what was measured"
        return 1
    fi
}

# ---------------------------------------------------------------- prerequisites and builds
NPROC=$(nproc)
if [ "$NPROC" -lt 2 ]; then
    say "warning: fewer than 2 CPUs; server and load generator share one core"
    SERVER_CPU=0; LOAD_CPU=0
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)

apt_install() {
    [ "$(id -u)" = 0 ] || die "$1 is missing; install it (apt-get install $1) or run as root"
    say "installing $1 with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >"$LOGDIR/apt-$1.log" 2>&1 \
        || { apt-get update -q >>"$LOGDIR/apt-$1.log" 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >>"$LOGDIR/apt-$1.log" 2>&1; } \
        || die "apt-get install $1 failed (see $LOGDIR/apt-$1.log)"
}
command -v gcc >/dev/null || apt_install gcc
command -v taskset >/dev/null || apt_install util-linux
echo '#include <openssl/hmac.h>' | gcc -E -x c - >/dev/null 2>&1 || apt_install libssl-dev
if [[ " $TARGETS " == *" coturn "* ]]; then command -v turnserver >/dev/null || apt_install coturn; fi

build_c() { # name
    local src=$HERE/$1.c out=$BIN/$1
    if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
        say "building $1"
        gcc -O2 -Wall -Wextra -o "$out" "$src" $([ "$1" = turnload ] && echo -lssl -lcrypto) || die "gcc $1 failed"
    fi
}
build_c turnload
build_c rawrelay

COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=""
if [[ " $TARGETS " == *" ours "* ]]; then
    if [ -n "${TURN_SERVER_DLL:-}" ]; then
        DLL=$TURN_SERVER_DLL
        DIRTY=" (prebuilt $DLL)"
    elif [ "$SERVER_SOURCE" = worktree ]; then
        say "building this server from the working tree"
        dotnet build "$REPO/src/Turn.Server/Turn.Server.csproj" -c Release -nologo -v q >"$LOGDIR/dotnet-build.log" 2>&1 \
            || die "dotnet build failed (see $LOGDIR/dotnet-build.log)"
        DLL=$REPO/src/Turn.Server/bin/Release/net10.0/turn-server.dll
        [ -z "$(git -C "$REPO" status --porcelain -- src 2>/dev/null)" ] || DIRTY=" + uncommitted changes in src/"
    else
        # A snapshot of HEAD: what is measured is exactly the commit reported, whatever is being edited meanwhile.
        SNAP=$RESULTS/build/$COMMIT
        DLL=$SNAP/src/Turn.Server/bin/Release/net10.0/turn-server.dll
        if [ ! -f "$DLL" ]; then
            say "building this server from a snapshot of HEAD ($COMMIT)"
            rm -rf "$SNAP"; mkdir -p "$SNAP"
            git -C "$REPO" archive HEAD src Directory.Build.props Directory.Packages.props global.json | tar -x -C "$SNAP"
            (cd "$SNAP" && dotnet build src/Turn.Server/Turn.Server.csproj -c Release -nologo -v q) >"$LOGDIR/dotnet-build.log" 2>&1 \
                || die "dotnet build failed (see $LOGDIR/dotnet-build.log)"
            # Keep only this snapshot.
            for old in "$RESULTS"/build/*; do [ "$old" = "$SNAP" ] || rm -rf "$old"; done
        fi
    fi
    [ -f "$DLL" ] || die "no server at $DLL"
fi

# ---------------------------------------------------------------- sizes
# The allocation test must fit the open-file limit of one process: coturn holds 2 descriptors per UDP
# allocation (relay socket + per-client socket), this server 1, the generator 1 per client.
ALLOCS_MAX=$(( (NOFILE - 500) / 2 ))
[ "$ALLOCS_MAX" -le 10000 ] || ALLOCS_MAX=10000
PORTS=$(( MAX_PORT - MIN_PORT + 1 - 200 ))
[ "$ALLOCS_MAX" -le "$PORTS" ] || ALLOCS_MAX=$PORTS
ALLOCS=${ALLOCS:-$ALLOCS_MAX}
read -r EPH_LO EPH_HI < /proc/sys/net/ipv4/ip_local_port_range
if [ "$MAX_PORT" -ge "$EPH_LO" ] && [ "$MIN_PORT" -le "$EPH_HI" ]; then
    say "warning: relay ports $MIN_PORT-$MAX_PORT overlap the ephemeral range $EPH_LO-$EPH_HI"
fi

port_free() { ! ss -Hlun "sport = :$1" 2>/dev/null | grep -q . && ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
pick_port() { # first port from $1 free for UDP and TCP
    local p=$1
    for _ in $(seq 200); do port_free "$p" && { echo "$p"; return 0; }; p=$((p + 1)); done
    die "no free port from $1"
}

# The TLS rows: one self-signed certificate (ECDSA P-256) for coturn and ours alike.
CERT=$RUN/cert.pem
PKEY=$RUN/key.pem
if [ "$QUICK" != 1 ] && [ ! -s "$CERT" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=127.0.0.1 \
        -keyout "$PKEY" -out "$CERT" >"$LOGDIR/openssl.log" 2>&1 || die "openssl could not make a test certificate"
fi

# ---------------------------------------------------------------- servers
SPORT=""
TPORT=""    # the TLS port of a server started with tag "stream"
GEN_PORT="" # where the generator connects, when not SPORT
start_server() { # target tag [raw batch [raw -g] | ours extra arguments...]; tag "stream": TCP and TLS on as well
    local target=$1 tag=$2 batch=${3:-1} log
    local ours_extra=() coturn_transports=(--no-tcp --no-tls)
    [ "$target" = ours ] && [ $# -gt 2 ] && ours_extra=("${@:3}")
    SPID=""
    log=$LOGDIR/$target-r$ROUND-$tag.log
    SPORT=$(pick_port "$PORT_BASE")
    if [ "$tag" = stream ]; then
        TPORT=$(pick_port $((SPORT + 1)))
        coturn_transports=(--tls-listening-port="$TPORT" --cert="$CERT" --pkey="$PKEY")
        ours_extra=(--tls-listening-port "$TPORT" --cert "$CERT" --pkey "$PKEY" --no-dtls)
    else
        ours_extra=(--no-tcp --no-tls --no-dtls "${ours_extra[@]}")
    fi
    case $target in
        raw)
            taskset -c "$SERVER_CPU" "$BIN/rawrelay" -l 127.0.0.1 -p "$SPORT" -b "$batch" ${4:+"$4"} -t "$SERVER_MAX_SECONDS" >"$log" 2>&1 &
            WRAP_PID=$!; SPID=$WRAP_PID ;;
        coturn)
            # One relay thread (-m 1; the listener and auth threads come on top), all on the same core as ours.
            taskset -c "$SERVER_CPU" timeout -k 5 "$SERVER_MAX_SECONDS" turnserver -n \
                --listening-ip=127.0.0.1 --listening-port="$SPORT" --relay-ip=127.0.0.1 \
                --min-port="$MIN_PORT" --max-port="$MAX_PORT" --realm="$REALM" --user="$CRED_USER:$CRED_PASS" \
                --lt-cred-mech --allow-loopback-peers "${coturn_transports[@]}" --no-dtls --no-cli --no-software-attribute \
                --relay-threads=1 --pidfile="$RUN/coturn.pid" --userdb="$RUN/turndb" --log-file=stdout >"$log" 2>&1 &
            WRAP_PID=$! ;;
        ours)
            # shellcheck disable=SC2086 # OURS_ENV is a list of NAME=value words
            # Every client of the load generator has the same source IP (127.0.0.1), so the per-address limit on
            # requests failing authentication (each allocation starts with one 401) is lifted, as coturn has none.
            taskset -c "$SERVER_CPU" timeout -k 5 "$SERVER_MAX_SECONDS" env $OURS_ENV TURN__UNAUTHENTICATEDRATE=0 dotnet "$DLL" \
                --listening-ip 127.0.0.1 --listening-port "$SPORT" --relay-ip 127.0.0.1 \
                --min-port "$MIN_PORT" --max-port "$MAX_PORT" --realm "$REALM" --user "$CRED_USER:$CRED_PASS" \
                --allow-loopback-peers --no-software-attribute --admin-listen 127.0.0.1:0 "${ours_extra[@]}" >"$log" 2>&1 &
            WRAP_PID=$! ;;
        *) die "unknown target $target" ;;
    esac
    if [ -z "$SPID" ]; then
        for _ in $(seq 50); do SPID=$(pgrep -P "$WRAP_PID" | head -1 || true); [ -n "$SPID" ] && break; sleep 0.1; done
        [ -n "$SPID" ] || { stop_server; say "$target did not start (see $log)"; return 1; }
    fi
    local r
    r=$(gen ping --seconds 20) || true
    if [ "$r" != "ready=1" ]; then stop_server; say "$target did not answer (see $log)"; return 1; fi
}

# ---------------------------------------------------------------- load generator
CUR=""   # current target
gen() { # turnload command and options; the server address, credentials and PID are added here
    local extra=()
    [ "$CUR" = raw ] && extra+=(--raw)
    taskset -c "$LOAD_CPU" timeout -k 2 120 "$BIN/turnload" "$@" --server "127.0.0.1:${GEN_PORT:-$SPORT}" --pid "$SPID" \
        --user "$CRED_USER" --pass "$CRED_PASS" --realm "$REALM" --deadline 100 --server-cpu "$SERVER_CPU" "${extra[@]}" 2>>"$LOGDIR/turnload.err"
}
flood_gen() { # the flood at full rate: with --gso unless GEN_GSO=0
    local gso=()
    [ "$GEN_GSO" = 1 ] && gso=(--gso)
    gen flood --allocs "$FLOOD_ALLOCS" --payload "$PAYLOAD" "${gso[@]}" "$@"
}
record() { # target figure value
    [ -n "$3" ] && printf '%s\t%s\t%s\t%s\n' "$ROUND" "$1" "$2" "$3" >>"$TSV"
    return 0
}
val() { sed -n "s/^$1=//p" <<<"$2" | head -1; }

measure() { # target
    local t=$1 out
    CUR=$t
    if [ "$STREAMS_ONLY" = 1 ]; then
        [ "$t" = raw ] || measure_streams "$t"
        return 0
    fi
    start_server "$t" main || return 0

    # Warm-up flood, not measured: JIT tiering (ours) and first-touch costs (all) settle before anything is timed.
    flood_gen --warmup 0 --seconds "$PREWARM_SECONDS" >/dev/null || true

    # At flood the server should get its whole core. If another process took a share of it, the figure measures
    # the machine, not the server: try again (at most FLOOD_RETRIES times) and keep the attempt that got the most.
    local best="" best_cpu=-1 cpu attempt
    for ((attempt = 0; attempt <= FLOOD_RETRIES; attempt++)); do
        out=$(flood_gen --warmup "$WARMUP" --seconds "$FLOOD_SECONDS") || true
        echo "$out" >"$LOGDIR/$t-r$ROUND-flood-$attempt.txt"
        cpu=$(val server_cpu_pct "$out"); cpu=${cpu:-0}
        if awk -v a="$cpu" -v b="$best_cpu" 'BEGIN { exit !(a > b) }'; then best=$out; best_cpu=$cpu; fi
        awk -v a="$cpu" -v m="$FLOOD_MIN_CPU" 'BEGIN { exit !(a >= m) }' && break
        say "  $t flood: the server process got ${cpu}% of its core (another process shared it)"
    done
    out=$best
    record "$t" flood_pps "$(val relayed_pps "$out")"
    record "$t" offered_pps "$(val offered_pps "$out")"
    record "$t" cpu_us_per_pkt "$(val server_cpu_us_per_pkt "$out")"
    record "$t" flood_cpu_pct "$(val server_cpu_pct "$out")"
    record "$t" generator_cpu_pct "$(val generator_cpu_pct "$out")"
    record "$t" core_busy_pct "$(val server_core_busy_pct "$out")"
    say "  $t flood: $(val relayed_pps "$out") pkt/s relayed of $(val offered_pps "$out") offered, $(val server_cpu_us_per_pkt "$out") us/pkt"

    if [ "$QUICK" != 1 ]; then
        out=$(gen flood --allocs "$FLOOD_ALLOCS" --payload "$PAYLOAD" --warmup "$WARMUP" --seconds "$FLOOD_SECONDS" --rate "$FIXED_RATE") || true
        echo "$out" >"$LOGDIR/$t-r$ROUND-fixed.txt"
        record "$t" fixed_cpu_pct "$(val server_cpu_pct "$out")"
        record "$t" fixed_loss_pct "$(val loss_pct "$out")"
        say "  $t at $FIXED_RATE pkt/s: CPU $(val server_cpu_pct "$out")%, loss $(val loss_pct "$out")%"

        # An unmeasured round trip first, as the flood has its own: the peer-to-client path is new to the server
        # here, and its first second (JIT tiering in ours) is not the steady state this figure is about.
        gen rtt --allocs 1 --payload "$PAYLOAD" --warmup 0 --seconds "$PREWARM_SECONDS" --rate "$RTT_RATE" >/dev/null || true
        out=$(gen rtt --allocs 1 --payload "$PAYLOAD" --warmup "$WARMUP" --seconds "$FLOOD_SECONDS" --rate "$RTT_RATE") || true
        echo "$out" >"$LOGDIR/$t-r$ROUND-rtt.txt"
        record "$t" rtt_p50_us "$(val rtt_p50_us "$out")"
        record "$t" rtt_p99_us "$(val rtt_p99_us "$out")"
        record "$t" rtt_loss_pct "$(val rtt_loss_pct "$out")"
        record "$t" rtt_p999_us "$(val rtt_p999_us "$out")"
        say "  $t RTT at $RTT_RATE/s: p50 $(val rtt_p50_us "$out") us, p99 $(val rtt_p99_us "$out") us, p99.9 $(val rtt_p999_us "$out") us"

        if [ "$t" != raw ]; then
            out=$(gen binding --sockets 4 --warmup "$WARMUP" --seconds "$BINDING_SECONDS") || true
            echo "$out" >"$LOGDIR/$t-r$ROUND-binding.txt"
            record "$t" binding_rps "$(val binding_rps "$out")"
            record "$t" cpu_us_per_binding "$(val server_cpu_us_per_binding "$out")"
            say "  $t Binding: $(val binding_rps "$out") answered/s"
        fi
    fi
    stop_server

    [ "$QUICK" = 1 ] && return 0
    if [ "$t" = raw ]; then
        start_server raw batched "$RAW_BATCH" || return 0
        out=$(flood_gen --warmup "$WARMUP" --seconds "$FLOOD_SECONDS") || true
        echo "$out" >"$LOGDIR/$t-r$ROUND-flood-batched.txt"
        record raw flood_pps_batched "$(val relayed_pps "$out")"
        record raw cpu_us_per_pkt_batched "$(val server_cpu_us_per_pkt "$out")"
        say "  raw (recvmmsg/sendmmsg x$RAW_BATCH) flood: $(val relayed_pps "$out") pkt/s"
        stop_server
        start_server raw gso "$RAW_BATCH" -g || return 0
        out=$(flood_gen --warmup "$WARMUP" --seconds "$FLOOD_SECONDS") || true
        echo "$out" >"$LOGDIR/$t-r$ROUND-flood-gso.txt"
        record raw flood_pps_gso "$(val relayed_pps "$out")"
        record raw cpu_us_per_pkt_gso "$(val server_cpu_us_per_pkt "$out")"
        say "  raw (recvmmsg x$RAW_BATCH, GSO sends) flood: $(val relayed_pps "$out") pkt/s"
        stop_server
    else
        if [ "$t" = ours ]; then
            # The same flood with UDP GSO off: batching alone, without the kernel's segmentation offload.
            start_server ours nogso --no-udp-gso || return 0
            flood_gen --warmup 0 --seconds "$PREWARM_SECONDS" >/dev/null || true
            out=$(flood_gen --warmup "$WARMUP" --seconds "$FLOOD_SECONDS") || true
            echo "$out" >"$LOGDIR/$t-r$ROUND-flood-nogso.txt"
            record ours flood_pps_nogso "$(val relayed_pps "$out")"
            record ours cpu_us_per_pkt_nogso "$(val server_cpu_us_per_pkt "$out")"
            say "  ours (--no-udp-gso) flood: $(val relayed_pps "$out") pkt/s, $(val server_cpu_us_per_pkt "$out") us/pkt"
            stop_server
        fi
        # A fresh server, so its memory before the allocations is its idle memory plus the first few hundred.
        start_server "$t" allocs || return 0
        out=$(gen allocs --allocs "$ALLOCS" --window 64 --seconds 60) || true
        echo "$out" >"$LOGDIR/$t-r$ROUND-allocs.txt"
        if [ "$(val allocations "$out")" = "$ALLOCS" ]; then
            record "$t" allocs_per_s "$(val allocs_per_s "$out")"
            record "$t" cpu_us_per_alloc "$(val server_cpu_us_per_alloc "$out")"
            record "$t" rss_per_alloc_kib "$(val rss_per_alloc_kib "$out")"
            record "$t" rss_end_mib "$(awk -v k="$(val rss_end_kib "$out")" 'BEGIN { printf "%.1f", k / 1024 }')"
        fi
        say "  $t $ALLOCS allocations: $(val allocs_per_s "$out")/s, $(val rss_per_alloc_kib "$out") KiB RSS each"
        stop_server
        measure_streams "$t"
    fi
}

# The relay figures with the client side over TCP and over TLS (one connection per allocation; the relay to the
# peer stays UDP, RFC 8656 §3.1). No raw relay here: it has no stream side.
measure_streams() { # target
    local t=$1 tr out
    start_server "$t" stream || return 0
    for tr in tcp tls; do
        GEN_PORT=$SPORT
        [ "$tr" = tls ] && GEN_PORT=$TPORT
        out=$(gen ping --transport "$tr" --seconds 20) || true
        if [ "$(val ready "$out")" != 1 ]; then say "  $t does not answer over $tr"; GEN_PORT=""; continue; fi
        [ "$tr" = tls ] && printf '%s\t%s\n' "$t" "$(val tls "$out")" >>"$RESULTS/tls-$STAMP.txt"
        gen flood --transport "$tr" --allocs "$FLOOD_ALLOCS" --payload "$PAYLOAD" --warmup 0 --seconds "$PREWARM_SECONDS" >/dev/null || true
        out=$(gen flood --transport "$tr" --allocs "$FLOOD_ALLOCS" --payload "$PAYLOAD" --warmup "$WARMUP" --seconds "$FLOOD_SECONDS") || true
        echo "$out" >"$LOGDIR/$t-r$ROUND-flood-$tr.txt"
        record "$t" "flood_pps_$tr" "$(val relayed_pps "$out")"
        record "$t" "cpu_us_per_pkt_$tr" "$(val server_cpu_us_per_pkt "$out")"
        out=$(gen flood --transport "$tr" --allocs "$FLOOD_ALLOCS" --payload "$PAYLOAD" --warmup "$WARMUP" --seconds "$FLOOD_SECONDS" --rate "$FIXED_RATE") || true
        echo "$out" >"$LOGDIR/$t-r$ROUND-fixed-$tr.txt"
        record "$t" "fixed_cpu_pct_$tr" "$(val server_cpu_pct "$out")"
        gen rtt --transport "$tr" --allocs 1 --payload "$PAYLOAD" --warmup 0 --seconds "$PREWARM_SECONDS" --rate "$RTT_RATE" >/dev/null || true
        local rtt
        rtt=$(gen rtt --transport "$tr" --allocs 1 --payload "$PAYLOAD" --warmup "$WARMUP" --seconds "$FLOOD_SECONDS" --rate "$RTT_RATE") || true
        echo "$rtt" >"$LOGDIR/$t-r$ROUND-rtt-$tr.txt"
        record "$t" "rtt_p50_us_$tr" "$(val rtt_p50_us "$rtt")"
        record "$t" "rtt_p99_us_$tr" "$(val rtt_p99_us "$rtt")"
        say "  $t over $tr: flood $(val relayed_pps "$(cat "$LOGDIR/$t-r$ROUND-flood-$tr.txt")") pkt/s, CPU $(val server_cpu_pct "$out")% at $FIXED_RATE pkt/s, RTT p50 $(val rtt_p50_us "$rtt") us, p99 $(val rtt_p99_us "$rtt") us"
    done
    GEN_PORT=""
    stop_server
}

# ---------------------------------------------------------------- run
if [ "$WAIT_QUIET" = 1 ]; then
    waited=0
    while awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v q="$QUIET_LOAD" 'BEGIN { exit !(l >= q) }'; do
        [ "$waited" -ge "$QUIET_WAIT_MAX" ] && { say "machine still busy after ${QUIET_WAIT_MAX}s; running anyway"; break; }
        say "load average $(cut -d' ' -f1 /proc/loadavg) >= $QUIET_LOAD; waiting"
        sleep 15; waited=$((waited + 15))
    done
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "targets: $TARGETS; rounds: $ROUNDS; server on CPU $SERVER_CPU, load generator on CPU $LOAD_CPU; load average $LOAD_BEFORE"
read -r -a TARGET_LIST <<<"$TARGETS"
NT=${#TARGET_LIST[@]}
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    check_budget || break
    say "round $ROUND of $ROUNDS"
    for ((k = 0; k < NT; k++)); do
        # Interleave: each round starts with the next target, so drift in the machine hits every target alike.
        measure "${TARGET_LIST[$(( (k + ROUND - 1) % NT ))]}"
        check_budget || break
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- report
stats() { # target figure -> "median min max n" or nothing
    awk -F'\t' -v t="$1" -v f="$2" '$2 == t && $3 == f { print $4 }' "$TSV" | sort -g | awk '
        { v[NR] = $1 }
        END { if (NR == 0) exit; m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR], NR }'
}
fmt() {
    awk -v x="$1" 'BEGIN {
        a = x < 0 ? -x : x
        if (a >= 100000) printf "%.0fk", x / 1000; else if (a >= 10000) printf "%.1fk", x / 1000;
        else if (a >= 100) printf "%.0f", x; else if (a >= 10) printf "%.1f", x; else printf "%.2f", x }'
}
cell() { # target figure
    local s m lo hi n
    s=$(stats "$1" "$2")
    [ -n "$s" ] || { echo "—"; return; }
    read -r m lo hi n <<<"$s"
    if [ "$n" -gt 1 ]; then echo "$(fmt "$m") ($(fmt "$lo")–$(fmt "$hi"))"; else fmt "$m"; fi
}
ratio() { # figure target-a target-b
    local a b
    a=$(stats "$2" "$1" | cut -d' ' -f1); b=$(stats "$3" "$1" | cut -d' ' -f1)
    [ -n "$a" ] && [ -n "$b" ] || { echo "—"; return; }
    awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "—"; else printf "%.2f\n", a / b }'
}

FIGURES=(
    "flood_pps|Relayed packets/s at flood (UDP, ${PAYLOAD}-byte payload; higher is better)"
    "cpu_us_per_pkt|Server CPU µs per relayed packet at flood (user+sys; lower is better)"
    "flood_cpu_pct|Server process CPU % during the flood"
    "core_busy_pct|Server core busy % during the flood (anything on that core, softirq included)"
    "offered_pps|Packets/s offered by the generator during the flood"
    "flood_pps_batched|Relayed packets/s at flood, raw relay with recvmmsg/sendmmsg ×$RAW_BATCH"
    "cpu_us_per_pkt_batched|Server CPU µs per relayed packet, raw relay with recvmmsg/sendmmsg ×$RAW_BATCH"
    "flood_pps_gso|Relayed packets/s at flood, raw relay with recvmmsg ×$RAW_BATCH and UDP GSO sends"
    "cpu_us_per_pkt_gso|Server CPU µs per relayed packet, raw relay with recvmmsg ×$RAW_BATCH and UDP GSO sends"
    "flood_pps_nogso|Relayed packets/s at flood, this server with --no-udp-gso"
    "cpu_us_per_pkt_nogso|Server CPU µs per relayed packet, this server with --no-udp-gso"
    "fixed_cpu_pct|Server CPU % at $FIXED_RATE pkt/s (lower is better)"
    "fixed_loss_pct|Loss % at $FIXED_RATE pkt/s"
    "rtt_p50_us|Round trip p50 µs through the relay at $RTT_RATE probes/s"
    "rtt_p99_us|Round trip p99 µs through the relay at $RTT_RATE probes/s"
    "rtt_p999_us|Round trip p99.9 µs through the relay at $RTT_RATE probes/s"
    "rtt_loss_pct|Round-trip probes lost %"
    "binding_rps|Binding requests/s answered at flood"
    "cpu_us_per_binding|Server CPU µs per Binding request"
    "allocs_per_s|Authenticated allocations/s (401 round included, 64 in flight)"
    "cpu_us_per_alloc|Server CPU µs per authenticated allocation"
    "rss_per_alloc_kib|RSS KiB per allocation at $ALLOCS allocations"
    "rss_end_mib|RSS MiB holding $ALLOCS allocations"
)
for tr in TCP TLS; do
    lt=${tr,,}
    FIGURES+=(
        "flood_pps_$lt|Relayed packets/s at flood, client side over $tr (higher is better)"
        "cpu_us_per_pkt_$lt|Server CPU µs per relayed packet at flood, client side over $tr"
        "fixed_cpu_pct_$lt|Server CPU % at $FIXED_RATE pkt/s, client side over $tr"
        "rtt_p50_us_$lt|Round trip p50 µs at $RTT_RATE probes/s, client side over $tr"
        "rtt_p99_us_$lt|Round trip p99 µs at $RTT_RATE probes/s, client side over $tr"
    )
done
{
    echo "| figure | raw | coturn | ours | ours/coturn | ours/raw |"
    echo "|---|---:|---:|---:|---:|---:|"
    for entry in "${FIGURES[@]}"; do
        fig=${entry%%|*}; label=${entry#*|}
        [ -n "$(awk -F'\t' -v f="$fig" '$3 == f' "$TSV")" ] || continue
        echo "| $label | $(cell raw "$fig") | $(cell coturn "$fig") | $(cell ours "$fig") | $(ratio "$fig" ours coturn) | $(ratio "$fig" ours raw) |"
    done
} >"$RESULTS/table-$STAMP.md"

MEM=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
OS=$(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release 2>/dev/null)
COTURN_VERSION=$(turnserver --version 2>/dev/null | head -1 || true)
DOTNET_VERSION=$(dotnet --version 2>/dev/null || true)
CMD=benchmarks/load/compare.sh
[ "$QUICK" = 1 ] && CMD="QUICK=1 $CMD"
{
    echo "- **Date:** $(date -u '+%Y-%m-%d %H:%M UTC') (run took $(( $(date +%s) - T0 )) s)"
    echo "- **Machine:** $NPROC CPUs ($CPU_MODEL), $MEM RAM, $OS, kernel $(uname -r); load average before $LOAD_BEFORE, after $LOAD_AFTER"
    echo "- **Commit:** $COMMIT$DIRTY; coturn $COTURN_VERSION; .NET SDK $DOTNET_VERSION${OURS_ENV:+; this server run with $OURS_ENV}"
    echo "- **Command:** \`$CMD\` ($ROUNDS round(s), targets interleaved; servers on CPU $SERVER_CPU, load generator on CPU $LOAD_CPU; ${FLOOD_ALLOCS} allocations in the flood, ${WARMUP} s warm-up + ${FLOOD_SECONDS} s measured per figure; open-file limit $NOFILE)"
    if [ -s "$RESULTS/tls-$STAMP.txt" ]; then
        echo "- **TLS negotiated:** $(sort -u "$RESULTS/tls-$STAMP.txt" | awk -F'\t' '{ printf "%s%s %s", (NR > 1 ? "; " : ""), $1, $2 }')"
    fi
    echo "- Cells: median of the rounds (min–max). Ratios are of medians."
    echo
    cat "$RESULTS/table-$STAMP.md"
} >"$REPORT"
cp "$REPORT" "$RESULTS/latest.md"
echo
cat "$REPORT"
echo
say "report: ${REPORT#"$REPO"/}; raw figures: ${TSV#"$REPO"/}; logs: ${LOGDIR#"$REPO"/}"
