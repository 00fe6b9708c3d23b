#!/bin/bash
# Conformance: coturn's turnutils_uclient (TURN over UDP, TCP, TLS and DTLS, RFC 8656) through our server to a
# turnutils_peer echo peer, both from the Debian package coturn (4.6.x).
#
# test.sh's shared server has no credentials and refuses loopback peers, so this script starts
# its own (lib/turnserver.bash) on a free port of 127.0.0.1:
#     --relay-ip 127.0.0.1 --allow-loopback-peers --realm conformance.test
#     --user alice:alice-secret --use-auth-secret --static-auth-secret <random>
#     --min-port A --max-port B        (a free block below the ephemeral ports)
#     --legacy-channel-numbers         (uclient picks channel numbers in RFC 5766's 0x4000-0x7FFF;
#                                       see lib/uclient.bash)
# plus a second one without --allow-loopback-peers for the peer-policy case, and the peer on
# 127.0.0.1 ports P and P+1.  Everything is stopped by PID on exit.
#
# How each case is judged: see lib/uclient.bash (uclient exits 0 even when every packet is
# lost; the verdict comes from its "tot_send_msgs=/tot_recv_msgs=", "tot_send_bytes ~" and
# "Total lost packets" lines, its -v "Received relay addr"/"rtv=" lines and its error lines).
# Each case runs uclient once.
#
# Environment: TURN_SERVER_DLL (default: the Release build of this repository).  TURN_HOST and
# TURN_PORT of test.sh's shared server are not used.
set -u

. "$(dirname "$0")/lib/common.bash"
. "$(dirname "$0")/lib/turnserver.bash"
. "$(dirname "$0")/lib/uclient.bash"

N=20   # messages per allocation: each run takes a few seconds

for tool in "$UCLIENT" "$UCLIENT_PEER"; do
    if [ ! -x "$tool" ]; then
        fail "turnutils_uclient present" "$tool not found (install the coturn package)"
        exit 1
    fi
done

read -r relay_min relay_max < <(free_port_block 4000)
if [ -z "${relay_max:-}" ]; then
    fail "turnutils_uclient setup" "no block of free relay ports"
    exit 1
fi
secret=$(random_secret)
if ! start_turn_server main --relay-ip 127.0.0.1 --allow-loopback-peers --realm conformance.test \
        --user alice:alice-secret --use-auth-secret --static-auth-secret "$secret" \
        --min-port "$relay_min" --max-port "$relay_max" --legacy-channel-numbers; then
    fail "turnutils_uclient setup" "our server did not start"
    exit 1
fi
main_port=$srv_port
main_log=$srv_log
if ! start_uclient_peer; then
    fail "turnutils_uclient setup" "turnutils_peer did not start"
    exit 1
fi
echo "# server 127.0.0.1:$main_port, relay ports $relay_min-$relay_max, peer 127.0.0.1:$peer_port/$((peer_port + 1))" >&2

LT=(-u alice -w alice-secret)

uclient_transfer_case "uclient ChannelData, one allocation (-c)" \
    "$N" 100 0 "$relay_min" "$relay_max" -c -n "$N" "${LT[@]}"

uclient_transfer_case "uclient ChannelData, RTP+RTCP allocations with EVEN-PORT/RESERVATION-TOKEN (no -c)" \
    $((2 * N)) 100 1 "$relay_min" "$relay_max" -n "$N" "${LT[@]}"

uclient_transfer_case "uclient Send/Data indications, one allocation (-s -c)" \
    "$N" 100 0 "$relay_min" "$relay_max" -s -c -n "$N" "${LT[@]}"

uclient_transfer_case "uclient Send/Data indications, RTP+RTCP allocations with EVEN-PORT/RESERVATION-TOKEN (-s)" \
    $((2 * N)) 100 1 "$relay_min" "$relay_max" -s -n "$N" "${LT[@]}"

# -m counts sessions: with -c each is a client of its own; without -c uclient makes -m/2
# clients of two sessions (RTP + RTCP) each.
uclient_transfer_case "uclient 10 clients at once, one allocation each, ChannelData (-m 10 -c)" \
    $((10 * N)) 100 0 "$relay_min" "$relay_max" -c -m 10 -n "$N" "${LT[@]}"

uclient_transfer_case "uclient 10 clients at once, one allocation each, Send/Data indications (-m 10 -c -s)" \
    $((10 * N)) 100 0 "$relay_min" "$relay_max" -s -c -m 10 -n "$N" "${LT[@]}"

uclient_transfer_case "uclient 5 RTP+RTCP clients at once with EVEN-PORT/RESERVATION-TOKEN, Send/Data indications (-m 10 -s)" \
    $((10 * N)) 100 1 "$relay_min" "$relay_max" -s -m 10 -n "$N" "${LT[@]}"

uclient_transfer_case "uclient 1000-byte payloads over ChannelData (-l 1000 -c)" \
    "$N" 1000 0 "$relay_min" "$relay_max" -c -l 1000 -n "$N" "${LT[@]}"

uclient_transfer_case "uclient 1000-byte payloads in Send/Data indications (-l 1000 -s -c)" \
    "$N" 1000 0 "$relay_min" "$relay_max" -s -c -l 1000 -n "$N" "${LT[@]}"

uclient_transfer_case "uclient TURN REST API credentials (-W static-auth-secret)" \
    "$N" 100 0 "$relay_min" "$relay_max" -s -c -n "$N" -u conformance -W "$secret"

# TURN over TCP (RFC 8656 §5): the client talks to the server over one TCP connection per session; the relay
# to the peer stays UDP. ChannelData on the stream is padded to 4 bytes (RFC 8656 §12.5).
uclient_transfer_case "uclient over TCP, ChannelData, one allocation (-t -c)" \
    "$N" 100 0 "$relay_min" "$relay_max" -t -c -n "$N" "${LT[@]}"

uclient_transfer_case "uclient over TCP, 1000-byte payloads in Send/Data indications (-t -s -c -l 1000)" \
    "$N" 1000 0 "$relay_min" "$relay_max" -t -s -c -l 1000 -n "$N" "${LT[@]}"

uclient_transfer_case "uclient over TCP, 10 clients at once, ChannelData with 99-byte payloads (-t -m 10 -c -l 99)" \
    $((10 * N)) 99 0 "$relay_min" "$relay_max" -t -c -m 10 -l 99 -n "$N" "${LT[@]}"

uclient_transfer_case "uclient over TCP, RTP+RTCP allocations with EVEN-PORT/RESERVATION-TOKEN (-t)" \
    $((2 * N)) 100 1 "$relay_min" "$relay_max" -t -n "$N" "${LT[@]}"

# TCP relays (RFC 6062, -T): every client allocates a TCP relayed address over a TCP control connection; the clients
# Connect to each other's relayed addresses (a peer here is another allocation's relayed address, which the peer policy
# allows in the relay range), are told of incoming connections by ConnectionAttempt, bind a data connection to each with
# ConnectionBind (signed with the control connection's nonce, as uclient does), and echo over them.
uclient_transfer_case "uclient TCP relays (RFC 6062), two clients (-T)" \
    $((2 * N)) 100 0 "$relay_min" "$relay_max" -T -n "$N" "${LT[@]}"

uclient_transfer_case "uclient TCP relays (RFC 6062), four clients connecting to each other (-T -m 4)" \
    $((4 * N)) 100 0 "$relay_min" "$relay_max" -T -m 4 -n "$N" "${LT[@]}"

# TURN over TLS (RFC 8656 §5, TLS-over-TCP): the same on the server's TLS port, with the certificate it generated
# at start (uclient does not check it).
if [ -n "${srv_tls_port:-}" ]; then
    udp_port=$srv_port
    srv_port=$srv_tls_port
    uclient_transfer_case "uclient over TLS, ChannelData, one allocation (-t -S -c)" \
        "$N" 100 0 "$relay_min" "$relay_max" -t -S -c -n "$N" "${LT[@]}"
    uclient_transfer_case "uclient over TLS, 999-byte payloads in Send/Data indications (-t -S -s -c -l 999)" \
        "$N" 999 0 "$relay_min" "$relay_max" -t -S -s -c -l 999 -n "$N" "${LT[@]}"
    uclient_transfer_case "uclient over TLS, 10 clients at once, ChannelData (-t -S -m 10 -c)" \
        $((10 * N)) 100 0 "$relay_min" "$relay_max" -t -S -c -m 10 -n "$N" "${LT[@]}"
    uclient_transfer_case "uclient TCP relays (RFC 6062) over TLS control and data connections (-T -S)" \
        $((2 * N)) 100 0 "$relay_min" "$relay_max" -T -S -n "$N" "${LT[@]}"
    srv_port=$udp_port
else
    fail "uclient over TLS" "the server log names no TLS listener"
fi

# TURN over DTLS 1.2 (RFC 8656 §5, RFC 6347): -S without -t, on the server's DTLS port (UDP), after the cookie
# exchange (RFC 6347 §4.2.1); one STUN or ChannelData message per record, framed like UDP.
if [ -n "${srv_dtls_port:-}" ]; then
    udp_port=$srv_port
    srv_port=$srv_dtls_port
    uclient_transfer_case "uclient over DTLS, ChannelData, one allocation (-S -c)" \
        "$N" 100 0 "$relay_min" "$relay_max" -S -c -n "$N" "${LT[@]}"
    uclient_transfer_case "uclient over DTLS, 999-byte payloads in Send/Data indications (-S -s -c -l 999)" \
        "$N" 999 0 "$relay_min" "$relay_max" -S -s -c -l 999 -n "$N" "${LT[@]}"
    uclient_transfer_case "uclient over DTLS, 10 clients at once, ChannelData (-S -m 10 -c)" \
        $((10 * N)) 100 0 "$relay_min" "$relay_max" -S -c -m 10 -n "$N" "${LT[@]}"
    uclient_transfer_case "uclient over DTLS, RTP+RTCP allocations with EVEN-PORT/RESERVATION-TOKEN (-S)" \
        $((2 * N)) 100 1 "$relay_min" "$relay_max" -S -n "$N" "${LT[@]}"
    srv_port=$udp_port
else
    fail "uclient over DTLS" "the server log names no DTLS listener"
fi

uclient_refusal_case "uclient wrong password is refused (401 until it gives up, nothing relayed)" \
    'Cannot complete Allocation' -s -c -n 5 -u alice -w not-alice-secret

uclient_refusal_case "uclient TURN REST API credentials from a wrong secret are refused" \
    'Cannot complete Allocation' -s -c -n 5 -u conformance -W "wrong-$secret"

if ! kill -0 "$srv_pid" 2>/dev/null; then
    fail "our server survived the uclient runs" "it exited; its log:"
    show "$main_log"
fi
stop_pid "$srv_pid"

# A server without --allow-loopback-peers must refuse the loopback peer (RFC 8656 §9: 403).
if start_turn_server strict --relay-ip 127.0.0.1 --realm conformance.test --user alice:alice-secret \
        --min-port "$relay_min" --max-port "$relay_max"; then
    uclient_refusal_case "uclient loopback peer refused with 403 without --allow-loopback-peers" \
        'create permission error 403' -s -c -n 5 "${LT[@]}"
else
    fail "uclient loopback peer refused with 403 without --allow-loopback-peers" "the second server did not start"
fi

[ "$failures" = 0 ]
