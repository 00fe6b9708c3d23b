#!/usr/bin/python3
"""A WebRTC DataChannel between two aiortc peers, both relay-only through our TURN server.

aiortc is the Debian package python3-aiortc (1.4, on aioice 0.8), importable by /usr/bin/python3.
Two aiortc RTCPeerConnections run in this one process, on loopback only, "offerer" (it creates the
DataChannel) and "answerer".  Each has the TURN URL under test as its only ICE server
(RTCConfiguration(iceServers=[RTCIceServer(url, username, credential)])), gets its own allocation
and may only use its relay candidate, so the only path between them is relay to relay, through two
allocations of our server.  Offer and answer are handed over directly (aiortc puts every candidate
in the SDP, no trickle).  A text message and 1000 binary bytes then go each way over the
DataChannel.

Relay-only: aiortc 1.4 has no iceTransportPolicy in RTCConfiguration.  The aioice 0.8 under it
has Connection(transport_policy=TransportPolicy.RELAY), but that only leaves the host candidates
out of the list it offers: its host sockets are still paired with the remote candidates and take
part in the checks, so a host-to-host pair can win (it did, in a first try of this test).  So
aiortc's name Connection in aiortc.rtcicetransport is replaced by a function that, for a
Connection with a TURN server (here: both peers), sets transport_policy=RELAY AND
use_ipv4=use_ipv6=False, which with the get_host_addresses below gives it no host socket at all:
its relay candidate is the only path it has.  Each side's local candidates are printed, and the
selected pairs are checked by the calling script.
Loopback only: aioice scans the interfaces for host addresses and leaves loopback out, so
aioice.ice.get_host_addresses is replaced: 127.0.0.1 (when IPv4 is wanted) is the only host
address ever used (with both peers relay-only, none is).

TLS (turns:) is verified as Python's ssl module does by default: aioice opens the connection with
ssl=True, i.e. the default context, which checks the chain against OpenSSL's default trust store
and the certificate against the host of the URL (127.0.0.1, an IP address name of the test
certificate).  The calling script points SSL_CERT_FILE at its test CA; nothing here turns
verification off.

aiortc 1.4's getStats() has no ICE statistics, so the selected pair is read from the aioice
connection under the DataChannel (its nominated pair of component 1).  While the connection is
up, each side's relay candidate port is checked on the server side: a UDP socket on 127.0.0.1
held open by the server process (--server-pid), found through /proc/net/udp and /proc/PID/fd.

Output on stdout, one fact per line (side: offerer or answerer):
  gathered <side> <type> <ip> <port>         every local candidate of that side
  selected <side> <local-type> <ip> <port> <remote-type> <ip> <port>
  received <side> <text> <binary-bytes>      what arrived on that side ("corrupt-N" if altered)
  server-socket <side> <port> <inode>        that side's relay port, held by the server process
Errors go to stderr as "error: ..." with exit status 1 (ICE, TLS or data failed), 2 (usage).
"""
import argparse
import asyncio
import os
import sys

try:
    from aioice import ice
    from aioice.ice import TransportPolicy
    import aiortc
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
    from aiortc import rtcicetransport
except ImportError as e:  # pragma: no cover - reported by the calling script
    print(f"error: cannot import aiortc ({e}); install python3-aiortc", file=sys.stderr)
    sys.exit(2)

BINARY = bytes(i % 251 for i in range(1000))


def relay_only_when_turn():
    """Every aioice Connection that aiortc creates with a TURN server: relay-only, no host socket."""
    original = rtcicetransport.Connection

    def connection(*args, **kwargs):
        if kwargs.get("turn_server") is not None:
            kwargs["transport_policy"] = TransportPolicy.RELAY
            kwargs["use_ipv4"] = False
            kwargs["use_ipv6"] = False
        return original(*args, **kwargs)

    rtcicetransport.Connection = connection


def udp_inode(port):
    want = f"0100007F:{port:04X}"
    with open("/proc/net/udp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] == want:
                return cols[9]
    return None


def held_by(pid, inode):
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                return True
        except OSError:
            pass
    return False


def nominated_pair(pc):
    # aiortc 1.4 / aioice 0.8 have no public accessor for the selected pair.
    connection = pc.sctp.transport.transport.iceGatherer._connection
    return connection._nominated.get(1)


def describe(candidate):
    return f"{candidate.type} {candidate.host} {candidate.port}"


def collect(channel, side, received):
    done = asyncio.get_running_loop().create_future()
    got = []

    @channel.on("message")
    def on_message(message):
        got.append(message)
        if len(got) == 2 and not done.done():
            text = got[0] if isinstance(got[0], str) else "?"
            binary = got[1] if isinstance(got[1], bytes) else b""
            received[side] = f"{text} {len(binary) if binary == BINARY else f'corrupt-{len(binary)}'}"
            done.set_result(None)

    return done


def local_candidates(pc):
    return pc.sctp.transport.transport.iceGatherer.getLocalCandidates()


def turn_configuration(args):
    return RTCConfiguration(iceServers=[
        RTCIceServer(urls=[args.url], username=args.username, credential=args.password)])


async def run(args):
    offerer = RTCPeerConnection(turn_configuration(args))
    answerer = RTCPeerConnection(turn_configuration(args))
    received = {}
    try:
        channel_a = offerer.createDataChannel("conformance", ordered=True)
        opened_a = asyncio.get_running_loop().create_future()
        channel_a.on("open", lambda: opened_a.done() or opened_a.set_result(None))
        channel_b = asyncio.get_running_loop().create_future()
        answerer.on("datachannel", lambda ch: channel_b.done() or channel_b.set_result(ch))

        await offerer.setLocalDescription(await offerer.createOffer())
        for c in local_candidates(offerer):
            print(f"gathered offerer {c.type} {c.ip} {c.port}", flush=True)
        await answerer.setRemoteDescription(offerer.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        for c in local_candidates(answerer):
            print(f"gathered answerer {c.type} {c.ip} {c.port}", flush=True)
        await offerer.setRemoteDescription(answerer.localDescription)

        b = await asyncio.wait_for(channel_b, args.timeout)
        await asyncio.wait_for(opened_a, args.timeout)
        at_a = collect(channel_a, "offerer", received)
        at_b = collect(b, "answerer", received)
        channel_a.send("hello-from-offerer")
        channel_a.send(BINARY)
        b.send("hello-from-answerer")
        b.send(BINARY)
        try:
            await asyncio.wait_for(asyncio.gather(at_a, at_b), args.timeout)
        finally:
            for side, text in received.items():
                print(f"received {side} {text}")

        pairs = {"offerer": nominated_pair(offerer), "answerer": nominated_pair(answerer)}
        for side, pair in pairs.items():
            if pair is None:
                raise RuntimeError(f"no nominated pair on the {side}")
            print(f"selected {side} {describe(pair.local_candidate)} {describe(pair.remote_candidate)}")
        for side, pair in pairs.items():
            port = pair.local_candidate.port
            inode = udp_inode(port)
            if inode is None or not held_by(args.server_pid, inode):
                raise RuntimeError(f"{side}: no UDP socket on 127.0.0.1:{port} held by the server process {args.server_pid}")
            print(f"server-socket {side} {port} {inode}")
    finally:
        await offerer.close()
        await answerer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="turn:127.0.0.1:PORT or turns:127.0.0.1:PORT?transport=tcp")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for each step")
    args = parser.parse_args()
    print(f"# aiortc {aiortc.__version__}", file=sys.stderr)
    relay_only_when_turn()
    ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []
    try:
        asyncio.run(run(args))
    except Exception as e:  # every failure becomes one error line for the calling script
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
