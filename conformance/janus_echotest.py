#!/usr/bin/python3
"""A relay-only aiortc client of Janus's echo test plugin, reaching Janus only through our TURN server.

Run by 85-janus.sh inside a private network namespace (see there).  aiortc is the Debian package
python3-aiortc (1.4, on aioice 0.8), importable by /usr/bin/python3.

Steps:
  1. Janus HTTP API (plain JSON over HTTP, a small asyncio client below, so every request can be
     cancelled and timed out): create a session, attach janus.plugin.echotest, and keep one long
     poll (GET /janus/SESSION) running in the background that queues every event.
  2. An RTCPeerConnection whose only ICE server is the TURN URL under test, made relay-only (below),
     with a DataChannel and an audio track (a 440 Hz tone).  The offer goes to the plugin in a
     "message" request: body {"audio": true, "video": false, "data": true}, jsep {"type": "offer",
     "sdp": ..., "trickle": false} and, with --force-relay, "force_relay": true in that jsep object
     (Janus reads it there and, when its configuration allows it, restricts its own ICE agent to
     relay candidates).  aiortc cannot trickle: its SDP holds every candidate, hence
     "trickle": false, which also makes Janus put its own candidates into the answer.
  3. The answer arrives as an event on the long poll; it becomes the remote description.
  4. Once the DataChannel is open, a text with a random token goes out; the plugin sends text back
     (with its own prefix) and the reply must contain the token.  Frames are read from the track
     Janus sends back for --audio-seconds; their number and loudness (RMS of the decoded samples)
     are reported, so silence or nothing at all is visible to the calling script.
  5. The session is destroyed, the connection closed.

Relay-only: aiortc 1.4 has no iceTransportPolicy.  aioice 0.8 has
Connection(transport_policy=TransportPolicy.RELAY), but that only hides the host candidates from
the offer: its host sockets still take part in the checks.  So aiortc's Connection is wrapped to
also pass use_ipv4=use_ipv6=False, and aioice's host address lookup returns nothing: the relay
candidate is the only local candidate and the only socket the client has for media.

Output on stdout, one fact per line (parsed by 85-janus.sh):
  gathered <type> <ip> <port>                  every candidate in the client's offer (aiortc
                                               gathers per m-line until bundling, so one relay
                                               candidate for the audio and one for the data)
  janus-candidate <type> <ip> <port>           every candidate in Janus's answer
  selected <local-type> <ip> <port> <remote-type> <ip> <port>   the nominated pair
  datachannel <sent-token> <reply text>        the DataChannel exchange
  audio <frames> <rms>                         frames received on the echoed track, their RMS
  janus-event <name>                           Janus events seen (webrtcup, media, hangup, ...)
Errors go to stderr as "error: ..." with exit status 1 (failed) or 2 (usage, imports).
"""
import argparse
import asyncio
import fractions
import json
import math
import secrets
import sys
import time
import urllib.parse

try:
    import numpy
    from aioice import ice
    from aioice.ice import TransportPolicy
    import aiortc
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
    from aiortc import rtcicetransport
    from aiortc.mediastreams import MediaStreamTrack
    from av import AudioFrame
except ImportError as e:  # reported by the calling script
    print(f"error: cannot import aiortc ({e}); install python3-aiortc", file=sys.stderr)
    sys.exit(2)

RATE = 48000
SAMPLES = 960  # 20 ms


class Tone(MediaStreamTrack):
    """A 440 Hz tone in 20 ms frames, paced in real time."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self._pts = 0
        self._start = None

    async def recv(self):
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + self._pts / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        t = (numpy.arange(SAMPLES) + self._pts) / RATE
        samples = (numpy.sin(2 * math.pi * 440 * t) * 8000).astype(numpy.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += SAMPLES
        return frame


def relay_only():
    original = rtcicetransport.Connection

    def connection(*args, **kwargs):
        kwargs["transport_policy"] = TransportPolicy.RELAY
        kwargs["use_ipv4"] = False
        kwargs["use_ipv6"] = False
        return original(*args, **kwargs)

    rtcicetransport.Connection = connection
    ice.get_host_addresses = lambda use_ipv4, use_ipv6: []


async def http(method, url, body=None, timeout=10.0):
    """One HTTP/1.1 request (Connection: close); returns the decoded JSON body."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    payload = json.dumps(body).encode() if body is not None else b""

    async def exchange():
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
        try:
            head = (f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
            writer.write(head.encode() + payload)
            await writer.drain()
            raw = await reader.read()
        finally:
            writer.close()
        header, _, content = raw.partition(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "?"
        if status != "200":
            raise RuntimeError(f"{method} {path}: HTTP status {status}")
        if any(line.lower().startswith("transfer-encoding:") and "chunked" in line.lower() for line in lines[1:]):
            content = dechunk(content)
        return json.loads(content)

    return await asyncio.wait_for(exchange(), timeout)


def dechunk(data):
    out = b""
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2:]
    return out


class Janus:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.session = None
        self.handle = None
        self.events = asyncio.Queue()
        self._poller = None

    async def request(self, url, body):
        body = dict(body, transaction=secrets.token_hex(6))
        reply = await http("POST", url, body)
        if reply.get("janus") == "error":
            raise RuntimeError(f"Janus {body['janus']}: {reply.get('error')}")
        return reply

    async def start(self, plugin):
        reply = await self.request(self.base, {"janus": "create"})
        self.session = reply["data"]["id"]
        reply = await self.request(f"{self.base}/{self.session}", {"janus": "attach", "plugin": plugin})
        self.handle = reply["data"]["id"]
        self._poller = asyncio.ensure_future(self._poll())

    async def _poll(self):
        while True:
            try:
                events = await http("GET", f"{self.base}/{self.session}?maxev=10", timeout=40.0)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a failed poll is reported as an event, and polling goes on
                await self.events.put({"janus": "poll-error", "error": str(e)})
                await asyncio.sleep(0.2)
                continue
            for event in events if isinstance(events, list) else [events]:
                await self.events.put(event)

    async def message(self, body, jsep):
        return await self.request(f"{self.base}/{self.session}/{self.handle}",
                                  {"janus": "message", "body": body, "jsep": jsep})

    async def stop(self):
        if self._poller is not None:
            self._poller.cancel()
        if self.session is not None:
            try:
                await self.request(f"{self.base}/{self.session}", {"janus": "destroy"})
            except Exception as e:
                print(f"# destroying the Janus session failed: {e}", file=sys.stderr)


def candidates_of(sdp):
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            # foundation component transport priority ip port typ TYPE ...
            if len(fields) >= 8 and fields[6] == "typ":
                yield fields[7], fields[4], fields[5]


def describe(candidate):
    return f"{candidate.type} {candidate.host} {candidate.port}"


STEP = ["starting"]


def step(text):
    """What the client is waiting for now (named in the error line if it times out)."""
    STEP[0] = text
    print(f"# step: {text}", file=sys.stderr, flush=True)


async def run(args):
    janus = Janus(args.janus)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[
        RTCIceServer(urls=[args.turn_url], username=args.username, credential=args.password)]))
    seen = set()

    def note(event):
        name = event.get("janus")
        if name and name not in ("ack", "keepalive") and name not in seen:
            seen.add(name)
            print(f"janus-event {name}", flush=True)

    try:
        step("Janus session and echotest handle")
        await janus.start("janus.plugin.echotest")
        channel = pc.createDataChannel("echo", ordered=True)
        opened = asyncio.get_running_loop().create_future()
        channel.on("open", lambda: opened.done() or opened.set_result(None))
        replies = asyncio.Queue()
        channel.on("message", lambda m: replies.put_nowait(m))
        pc.addTrack(Tone())
        remote_track = asyncio.get_running_loop().create_future()
        pc.on("track", lambda t: t.kind == "audio" and not remote_track.done() and remote_track.set_result(t))

        step("gathering (allocations on the TURN server)")
        await asyncio.wait_for(pc.setLocalDescription(await pc.createOffer()), args.timeout)
        for kind, ip, port in candidates_of(pc.localDescription.sdp):
            print(f"gathered {kind} {ip} {port}", flush=True)
        jsep = {"type": "offer", "sdp": pc.localDescription.sdp, "trickle": False}
        if args.force_relay:
            jsep["force_relay"] = True
        step("sending the offer to the echotest plugin")
        await janus.message({"audio": True, "video": False, "data": True}, jsep)

        step("Janus's answer (long poll)")
        deadline = time.monotonic() + args.timeout
        answer = None
        while answer is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Janus")
            event = await asyncio.wait_for(janus.events.get(), left)
            note(event)
            if event.get("janus") == "poll-error":
                print(f"# long poll: {event['error']}", file=sys.stderr)
            if event.get("janus") == "event" and event.get("jsep", {}).get("type") == "answer":
                answer = event["jsep"]["sdp"]
                plugin = event.get("plugindata", {}).get("data", {})
                print(f"# echotest said: {json.dumps(plugin)}", file=sys.stderr)
            if event.get("janus") == "hangup":
                raise RuntimeError(f"Janus hung up before answering: {event.get('reason')}")
        for kind, ip, port in dict.fromkeys(candidates_of(answer)):  # once each (every m-line repeats them)
            print(f"janus-candidate {kind} {ip} {port}", flush=True)

        async def drain_events():
            while True:
                note(await janus.events.get())

        drainer = asyncio.ensure_future(drain_events())
        try:
            step("ICE, DTLS and the DataChannel opening")
            await asyncio.wait_for(pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer")), args.timeout)
            await asyncio.wait_for(opened, args.timeout)

            step("the echotest's DataChannel reply")
            token = f"conformance-{secrets.token_hex(8)}"
            channel.send(token)
            reply = None
            end = time.monotonic() + args.timeout
            while reply is None:
                m = await asyncio.wait_for(replies.get(), max(0.1, end - time.monotonic()))
                if isinstance(m, str) and token in m:
                    reply = m
                else:
                    print(f"# other DataChannel message: {m!r}", file=sys.stderr)
            print(f"datachannel {token} {reply}", flush=True)

            step("audio frames on Janus's track")
            track = await asyncio.wait_for(remote_track, args.timeout)
            frames = 0
            squares = 0.0
            count = 0
            end = time.monotonic() + args.audio_seconds
            while time.monotonic() < end:
                frame = await asyncio.wait_for(track.recv(), args.timeout)
                frames += 1
                samples = frame.to_ndarray().astype(numpy.float64)
                squares += float(numpy.sum(samples * samples))
                count += samples.size
            rms = math.sqrt(squares / count) if count else 0.0
            print(f"audio {frames} {rms:.0f}", flush=True)

            pair = pc.sctp.transport.transport.iceGatherer._connection._nominated.get(1)
            if pair is None:
                raise RuntimeError("no nominated pair")
            print(f"selected {describe(pair.local_candidate)} {describe(pair.remote_candidate)}", flush=True)
        finally:
            drainer.cancel()
    finally:
        await janus.stop()
        await pc.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--janus", required=True, help="Janus HTTP API base, http://HOST:PORT/janus")
    parser.add_argument("--turn-url", required=True, help="turn:HOST:PORT or turn:HOST:PORT?transport=tcp")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--force-relay", action="store_true", help='send "force_relay": true in the offer\'s jsep')
    parser.add_argument("--audio-seconds", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds for each step")
    args = parser.parse_args()
    print(f"# aiortc {aiortc.__version__}", file=sys.stderr)
    relay_only()
    try:
        asyncio.run(run(args))
    except Exception as e:  # every failure becomes one error line for the calling script
        print(f"error: {type(e).__name__} while waiting for {STEP[0]}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
