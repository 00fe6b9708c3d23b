#!/usr/bin/python3
"""Small clients for conformance/90-deploy.sh, loopback only. Subcommands:

  binding PORT            a STUN Binding request over UDP to 127.0.0.1:PORT (RFC 8489, with FINGERPRINT);
                          prints "mapped IP PORT" and "local IP PORT"; exit 1 without a valid answer
  http PORT PATH          GET http://127.0.0.1:PORT/PATH; prints the status code and the first line of the body
  allocate PORT USER PASSWORD
                          a TURN allocation over UDP through aioice (python3-aioice) with long-term
                          credentials; prints "relayed IP PORT", then deletes it (Refresh with lifetime 0)
  answer-503 PORT_FILE    an HTTP server on a free loopback port (written to PORT_FILE) that answers every
                          request with 503, for at most 30 s
"""
import asyncio
import binascii
import http.client
import os
import socket
import struct
import sys

HOST = "127.0.0.1"
MAGIC = 0x2112A442


def binding(port):
    transaction = os.urandom(12)
    header = struct.pack("!HHI", 0x0001, 8, MAGIC) + transaction
    crc = (binascii.crc32(header) ^ 0x5354554E) & 0xFFFFFFFF
    request = header + struct.pack("!HHI", 0x8028, 4, crc)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1)
        s.bind((HOST, 0))
        for _ in range(5):
            s.sendto(request, (HOST, port))
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                continue
            kind, length, cookie = struct.unpack("!HHI", data[:8])
            if kind != 0x0101 or cookie != MAGIC or data[8:20] != transaction or len(data) != 20 + length:
                print(f"error: not a Binding success response for our transaction: {data[:20].hex()}", file=sys.stderr)
                return 1
            offset, mapped = 20, None
            while offset + 4 <= len(data):
                attr, alen = struct.unpack("!HH", data[offset:offset + 4])
                value = data[offset + 4:offset + 4 + alen]
                if attr == 0x0020 and value[1] == 1:
                    xport = struct.unpack("!H", value[2:4])[0] ^ (MAGIC >> 16)
                    xip = struct.unpack("!I", value[4:8])[0] ^ MAGIC
                    mapped = (socket.inet_ntoa(struct.pack("!I", xip)), xport)
                offset += 4 + alen + (-alen % 4)
            if mapped is None:
                print("error: no IPv4 XOR-MAPPED-ADDRESS", file=sys.stderr)
                return 1
            print("mapped", *mapped)
            print("local", *s.getsockname())
            return 0
    print("error: no answer", file=sys.stderr)
    return 1


def get(port, path):
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode(errors="replace").splitlines()
        print(response.status, body[0] if body else "")
        return 0
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


async def allocate(port, user, password):
    from aioice import turn

    class Quiet(asyncio.DatagramProtocol):
        pass
    transport, _ = await asyncio.wait_for(
        turn.create_turn_endpoint(Quiet, server_addr=(HOST, port), username=user, password=password), 15)
    relayed = transport.get_extra_info("sockname")
    print("relayed", relayed[0], relayed[1], flush=True)
    transport.close()
    await asyncio.sleep(0.5)  # the Refresh with lifetime 0
    return 0


def answer_503(port_file):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer((HOST, 0), Handler)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    threading.Timer(30, server.shutdown).start()
    server.serve_forever()
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "binding":
        return binding(int(argv[2]))
    if len(argv) == 4 and argv[1] == "http":
        return get(int(argv[2]), argv[3])
    if len(argv) == 5 and argv[1] == "allocate":
        try:
            return asyncio.run(allocate(int(argv[2]), argv[3], argv[4]))
        except Exception as e:  # aioice raises several kinds; each is a failed allocation here
            print(f"error: allocation failed: {type(e).__name__} {e}", file=sys.stderr)
            return 1
    if len(argv) == 3 and argv[1] == "answer-503":
        return answer_503(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
