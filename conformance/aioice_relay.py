#!/usr/bin/python3
"""ICE through a TURN relay with aioice (Debian package python3-aioice, 0.8).

Two aioice Connections run in this one process, on loopback only:
  * "relay side": ICE controlling, its ONLY candidate is the relay candidate it
    allocates from the TURN server under test (no host candidates at all);
  * "host side": ICE controlled, one host candidate on 127.0.0.1, no TURN.
The candidates and ICE credentials are handed over directly (no signalling),
both sides run connectivity checks, then messages go both ways over the
nominated pair.  aioice looks for host addresses on every interface and
leaves loopback out, so get_host_addresses is replaced here: nothing but
127.0.0.1 is ever used.

Modes (--mode):
  channel     stock aioice: before it sends to a peer it binds a channel
              (ChannelBind, which also installs the permission) and then
              sends ChannelData; the server answers with ChannelData.
  permission  no ChannelBind: CreatePermission, then Send indications
              (XOR-PEER-ADDRESS + DATA); the server must answer with Data
              indications.  aioice 0.8 has no such mode, see below.

THE DATA-ATTRIBUTE WORKAROUND (aioice 0.8).  aioice/stun.py of 0.8 has no
entry for the DATA attribute (0x0013) in its ATTRIBUTES table, and its TURN
client (aioice/turn.py) only ever uses ChannelBind + ChannelData:
  * stun.parse_message() silently skips attributes it does not know, so a
    Data indication from the server reaches it as a DATA-method indication
    WITHOUT its payload, and TurnClientMixin.datagram_received() drops every
    indication anyway: data relayed as Data indications is lost;
  * bytes(stun.Message) raises KeyError('DATA') for a message carrying
    attributes["DATA"], so a Send indication cannot even be built.
The workaround (applied by add_data_attribute() below, in this process only):
register (0x0013, "DATA", pack_bytes, unpack_bytes) in aioice.stun's
ATTRIBUTES / ATTRIBUTES_BY_TYPE / ATTRIBUTES_BY_NAME, and in permission mode
replace TurnClientMixin.send_data (CreatePermission + Send indication) and
TurnClientMixin.datagram_received (hand the DATA payload of a Data indication
to the ICE layer with XOR-PEER-ADDRESS as the source).  Stock channel mode
needs none of it: with ChannelBind the server never sends a Data indication
to a peer that has a channel.  Nothing here changes what the server sees
beyond what RFC 8656 clients send.

Output on stdout, one fact per line:
  relay <ip> <port>                    the relay candidate (XOR-RELAYED-ADDRESS)
  selected <side> <local-type> <ip> <port> <remote-type> <ip> <port>
  sent <direction> <count> <bytes>     application messages sent (relay-to-host, host-to-relay)
  received <side> <count> <bytes>      application messages that arrived intact
  turn <counter> <n>                   ChannelBind/CreatePermission requests sent,
                                       Send indications sent, ChannelData and
                                       Data indications received by the TURN client
  deleted                              the allocation was released (Refresh 0)
Errors go to stderr as "error: ..." with exit status 1 (ICE or data failed),
3 (the allocation failed, e.g. 401), 2 (usage).
"""
import argparse
import asyncio
import collections
import logging
import struct
import sys
import time

try:
    from aioice import Candidate, Connection, ice, stun, turn
    import aioice
except ImportError as e:  # pragma: no cover - reported by the calling script
    print(f"error: cannot import aioice ({e}); install python3-aioice", file=sys.stderr)
    sys.exit(2)

COUNTS = collections.Counter()


def add_data_attribute():
    """The workaround: teach aioice 0.8's STUN codec the DATA attribute (RFC 8656 §18.4, 0x0013)."""
    if "DATA" in stun.ATTRIBUTES_BY_NAME:
        return False
    entry = (0x0013, "DATA", stun.pack_bytes, stun.unpack_bytes)
    stun.ATTRIBUTES.append(entry)
    stun.ATTRIBUTES_BY_TYPE[entry[0]] = entry
    stun.ATTRIBUTES_BY_NAME[entry[1]] = entry
    return True


def instrument_turn_client():
    """Count what aioice's TURN client sends and receives (both modes)."""
    original_send_stun = turn.TurnClientMixin.send_stun
    original_received = turn.TurnClientMixin.datagram_received

    def send_stun(self, message, addr):
        if message.message_class == stun.Class.REQUEST:
            COUNTS["request " + message.message_method.name] += 1
        return original_send_stun(self, message, addr)

    def datagram_received(self, data, addr):
        if len(data) >= 4 and turn.is_channel_data(data):
            COUNTS["received ChannelData"] += 1
        return original_received(self, data, addr)

    turn.TurnClientMixin.send_stun = send_stun
    turn.TurnClientMixin.datagram_received = datagram_received


def use_permissions_and_indications():
    """Permission mode: CreatePermission + Send indications out, Data indications in (needs DATA)."""
    counted_received = turn.TurnClientMixin.datagram_received

    async def send_data(self, data, addr):
        # RFC 8656 §9: a permission lasts 300 s; renew well before, one request per peer IP at a time.
        state = self.__dict__.setdefault("_permissions", {})
        ip = addr[0]
        entry = state.get(ip)
        if entry is None or (isinstance(entry, float) and time.monotonic() > entry):
            if isinstance(entry, asyncio.Future):
                await entry
            else:
                waiter = asyncio.get_event_loop().create_future()
                state[ip] = waiter
                try:
                    request = stun.Message(message_method=stun.Method.CREATE_PERMISSION,
                                           message_class=stun.Class.REQUEST)
                    request.attributes["XOR-PEER-ADDRESS"] = addr
                    await self.request_with_retry(request)
                    state[ip] = time.monotonic() + 240.0
                except BaseException:
                    state.pop(ip, None)
                    raise
                finally:
                    if not waiter.done():
                        waiter.set_result(None)
        elif isinstance(entry, asyncio.Future):
            await entry
        indication = stun.Message(message_method=stun.Method.SEND, message_class=stun.Class.INDICATION)
        indication.attributes["XOR-PEER-ADDRESS"] = addr
        indication.attributes["DATA"] = data  # needs add_data_attribute()
        COUNTS["sent Send indication"] += 1
        self._send(bytes(indication))

    def datagram_received(self, data, addr):
        if len(data) >= 20 and not turn.is_channel_data(data):
            try:
                message = stun.parse_message(data)
            except ValueError:
                message = None
            if (message is not None and message.message_method == stun.Method.DATA
                    and message.message_class == stun.Class.INDICATION):
                COUNTS["received Data indication"] += 1
                payload = message.attributes.get("DATA")
                peer = message.attributes.get("XOR-PEER-ADDRESS")
                if payload is None or peer is None:
                    COUNTS["received Data indication without DATA or XOR-PEER-ADDRESS"] += 1
                    return
                if self.receiver:
                    self.receiver.datagram_received(payload, peer)
                return
        counted_received(self, data, addr)

    turn.TurnClientMixin.send_data = send_data
    turn.TurnClientMixin.datagram_received = datagram_received


def host_addresses(addresses):
    """Replace aioice's interface scan (which skips loopback) with a fixed list."""
    ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(addresses)


def describe(candidate):
    return f"{candidate.type} {candidate.host} {candidate.port}"


async def exchange(sender, receiver, payloads, label, timeout):
    """Send every payload, then read until all arrived; returns (count, bytes) of intact ones."""
    for payload in payloads:
        await sender.send(payload)
        await asyncio.sleep(0.005)
    wanted = collections.Counter(payloads)
    got = 0
    size = 0
    deadline = time.monotonic() + timeout
    while got < len(payloads):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            data = await asyncio.wait_for(receiver.recv(), left)
        except asyncio.TimeoutError:
            break
        if wanted[data] > 0:
            wanted[data] -= 1
            got += 1
            size += len(data)
        else:
            print(f"# {label}: unexpected datagram of {len(data)} bytes", file=sys.stderr)
    return got, size


async def run(args):
    relay_side = Connection(ice_controlling=True, components=1,
                            turn_server=(args.host, args.port), turn_username=args.username,
                            turn_password=args.password, turn_transport="udp",
                            use_ipv4=True, use_ipv6=False)
    host_side = Connection(ice_controlling=False, components=1, use_ipv4=True, use_ipv6=False)

    # Relay side: no host candidate at all, so its only candidate is the relay.
    host_addresses([])
    try:
        await asyncio.wait_for(relay_side.gather_candidates(), 15)
    except stun.TransactionFailed as e:
        print(f"error: allocation refused: {e}", file=sys.stderr)
        return 3
    except (stun.TransactionError, asyncio.TimeoutError, OSError) as e:
        print(f"error: allocation failed: {type(e).__name__} {e}", file=sys.stderr)
        return 3
    host_addresses(["127.0.0.1"])
    await host_side.gather_candidates()

    relays = [c for c in relay_side.local_candidates if c.type == "relay"]
    if len(relays) != 1 or len(relay_side.local_candidates) != 1:
        print(f"error: relay side gathered {relay_side.local_candidates}, want exactly one relay candidate",
              file=sys.stderr)
        return 1
    relay = relays[0]
    print(f"relay {relay.host} {relay.port}", flush=True)
    print(f"# relay candidate: {relay.to_sdp()}", file=sys.stderr)
    for c in host_side.local_candidates:
        print(f"# host side candidate: {c.to_sdp()}", file=sys.stderr)

    # Hand the candidates over directly, as SDP lines would.
    for mine, theirs in ((relay_side, host_side), (host_side, relay_side)):
        for c in theirs.local_candidates:
            await mine.add_remote_candidate(Candidate.from_sdp(c.to_sdp()))
        await mine.add_remote_candidate(None)
        mine.remote_username = theirs.local_username
        mine.remote_password = theirs.local_password

    status = 0
    try:
        try:
            await asyncio.wait_for(asyncio.gather(relay_side.connect(), host_side.connect()), 20)
        except (ConnectionError, asyncio.TimeoutError) as e:
            print(f"error: ICE did not complete: {type(e).__name__} {e}", file=sys.stderr)
            return 1

        for name, conn in (("relay-side", relay_side), ("host-side", host_side)):
            pair = conn._nominated.get(1)  # aioice 0.8 has no public accessor for the selected pair
            if pair is None:
                print(f"error: {name} has no nominated pair", file=sys.stderr)
                return 1
            print(f"selected {name} {describe(pair.local_candidate)} {describe(pair.remote_candidate)}",
                  flush=True)

        sizes = [16, 100, 1000, 1200] + [64] * max(0, args.messages - 4)
        payloads = {}
        for direction in ("relay-to-host", "host-to-relay"):
            payloads[direction] = [
                (f"{direction} #{i:04d} ".encode() + bytes((i + j) % 251 for j in range(n)))[:max(n, 24)]
                for i, n in enumerate(sizes[:args.messages])
            ]
        for direction, items in payloads.items():
            print(f"sent {direction} {len(items)} {sum(map(len, items))}", flush=True)
        got, size = await exchange(relay_side, host_side, payloads["relay-to-host"], "host side", 5)
        print(f"received host-side {got} {size}", flush=True)
        got, size = await exchange(host_side, relay_side, payloads["host-to-relay"], "relay side", 5)
        print(f"received relay-side {got} {size}", flush=True)
    finally:
        await host_side.close()
        try:
            await asyncio.wait_for(relay_side.close(), 10)
            print("deleted", flush=True)
        except Exception as e:  # report, the verdict is the caller's
            print(f"# closing the relay side failed: {type(e).__name__} {e}", file=sys.stderr)
        for key in ("request CHANNEL_BIND", "request CREATE_PERMISSION", "sent Send indication",
                    "received ChannelData", "received Data indication",
                    "received Data indication without DATA or XOR-PEER-ADDRESS"):
            print(f"turn {key.replace(' ', '_')} {COUNTS[key]}", flush=True)
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--mode", choices=("channel", "permission"), default="channel")
    parser.add_argument("--no-data-workaround", action="store_true",
                        help="do not register the DATA attribute (shows what aioice 0.8 does without it)")
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost"):
        print("error: loopback only", file=sys.stderr)
        return 2

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.debug else logging.INFO,
                        format="# %(name)s %(levelname)s %(message)s")
    print(f"# aioice {getattr(aioice, '__version__', '?')} from {aioice.__file__}", file=sys.stderr)
    if not args.no_data_workaround:
        if add_data_attribute():
            print("# workaround: registered the DATA attribute (0x0013) in aioice.stun", file=sys.stderr)
    instrument_turn_client()
    if args.mode == "permission":
        use_permissions_and_indications()
    try:
        return asyncio.run(asyncio.wait_for(run(args), 60))
    except asyncio.TimeoutError:
        print("error: gave up after 60 s", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
